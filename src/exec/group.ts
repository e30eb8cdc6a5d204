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
import { readdirSync, readFileSync } from "node:fs";

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

/** Reads "state" and "pgrp" from /proc/<pid>/stat; null if unreadable (gone, or no /proc). */
function procStat(pid: string | number): { state: string; pgrp: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return null;
  }
  // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const pgrp = Number(fields[2]);
  return state && Number.isInteger(pgrp) ? { state, pgrp } : null;
}

const DEAD_STATES = new Set(["Z", "X", "x"]);

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
    if (st && st.pgrp === pgid && !DEAD_STATES.has(st.state)) return true;
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
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errno(err) === "ESRCH") return false;
    if (errno(err) !== "EPERM") throw err;
  }
  if (process.platform !== "linux") return true;
  const st = procStat(pid);
  return st === null ? true : !DEAD_STATES.has(st.state);
}
