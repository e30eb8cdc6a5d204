/**
 * Process-group helpers (POSIX). A command is spawned with `detached: true`, which makes it
 * the leader of a new session and process group whose id equals its pid; signalling `-pgid`
 * reaches every process in the group, including grandchildren (unless they moved themselves
 * into another group or session, e.g. with setsid, which no process-group scheme can follow).
 *
 * Zombies: `kill(-pgid, 0)` succeeds while any member exists, and a zombie still exists until
 * its parent reaps it. Orphans are re-parented to PID 1, and not every PID 1 reaps (containers,
 * micro-VM init shims), so on Linux a successful probe is confirmed by reading /proc: a group
 * whose remaining members are all zombies is treated as gone. They hold no pipes and run no code.
 */
import { isDeadState, pidAlive, procStat } from "../platform/process.js";
import { readdirSync } from "node:fs";

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** Sends `signal` to every process in group `pgid`. False when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if (errno(err) === "ESRCH") return false;
    if (errno(err) === "EPERM") return true; // a member we may not signal (e.g. setuid); it exists
    throw err;
  }
}

/** Linux only: does group `pgid` have a member that is not a zombie? null when /proc is unusable. */
function groupHasLiveMemberProc(pgid: number): boolean | null {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return null;
  }
  for (const name of entries) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const st = procStat(name);
    if (st && st.pgrp === pgid && !isDeadState(st.state)) return true;
  }
  return false;
}

/** True while group `pgid` still has a running (non-zombie) member. */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== "linux") return true;
  return groupHasLiveMemberProc(pgid) ?? true;
}

/** True while process `pid` exists and is not a zombie. */
export { pidAlive };
