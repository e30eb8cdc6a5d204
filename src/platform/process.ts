// Is a process still there? On Linux a zombie (exited, not yet reaped) still answers kill(pid, 0),
// and some init shims never reap, so /proc decides: a zombie counts as gone. It runs no code.
import { readFileSync } from "node:fs";

const DEAD_STATES = new Set(["Z", "X", "x"]);

/** Reads "state" and "pgrp" from /proc/<pid>/stat; null if unreadable (gone, or no /proc). */
export function procStat(pid: string | number): { state: string; pgrp: number } | null {
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

export function isDeadState(state: string): boolean {
  return DEAD_STATES.has(state);
}

/** True while process `pid` exists and is not a zombie (EPERM means it exists but belongs to someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (process.platform !== "linux") return true;
  const st = procStat(pid);
  return st === null ? true : !isDeadState(st.state);
}
