// Process-group bookkeeping for everything the VS Code harness starts (VS Code server, Chromium).
//
// Every process is started in its own process group (detached) so that stopping it also stops
// whatever it forked (extension hosts, pty host, file watcher, renderer processes). Groups are
// killed: on stop(); on SIGINT/SIGTERM/SIGHUP of this process; synchronously with SIGKILL on
// 'exit'; and, if this process dies without running any handler (SIGKILL, OOM), by a tiny `sh`
// watchdog per group that polls this process's pid once a second.
//
// Descendants that leave the group on purpose (a daemon an extension spawns detached, such as our
// own broker) are found by an environment marker instead: SB_VSCODE_ROOT=<throwaway root> is set
// for the server and inherited by everything below it; sweepMarked() kills whatever still carries
// it, and the watchdog and the signal/'exit' handlers do the same.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface GroupExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A process group this process owns. `pgid` is the leader's pid. */
export interface OwnedGroup {
  readonly name: string;
  readonly pgid: number;
  /** Kills the group: SIGTERM, then SIGKILL after `graceMs`. Resolves once nothing in it is left (bounded). */
  stop(graceMs?: number): Promise<void>;
}

const owned = new Set<OwnedGroup>();
const markers = new Set<string>();
let handlersInstalled = false;

/** Environment variable that marks every process started below a harness server. */
export const MARKER_VAR = "SB_VSCODE_ROOT";

/** pids (other than this one) whose environment has MARKER_VAR=value (Linux /proc). */
export function markedPids(value: string): number[] {
  const needle = `\0${MARKER_VAR}=${value}\0`;
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (`\0${readFileSync(`/proc/${entry}/environ`, "latin1")}`.includes(needle)) out.push(Number(entry));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}

/** Kills every process marked with `value`: SIGTERM, then SIGKILL after graceMs. Bounded. */
export async function sweepMarked(value: string, graceMs = 2000): Promise<number[]> {
  const pids = markedPids(value);
  for (const pid of pids) killPid(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && markedPids(value).length > 0) await sleep(100);
  for (const pid of markedPids(value)) killPid(pid, "SIGKILL");
  return pids;
}

/** Registers a marker value whose processes are killed if this process exits or is signalled first. */
export function watchMarker(value: string): () => void {
  installHandlers();
  markers.add(value);
  return () => {
    markers.delete(value);
  };
}

function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!groupAlive(pgid)) return true;
    await sleep(50);
  }
  return !groupAlive(pgid);
}

// Kills the group if this process disappears without cleaning up. Runs in its own group so that
// killing the watched group does not kill it; it exits by itself within ~1 s once the group is gone.
// (POSIX sh/dash: its kill builtin takes "-PGID" but not "--".)
// If given a third argument, it also deletes that (throwaway) folder once it had to act; with a
// fourth, it first kills every process whose environment carries SB_VSCODE_ROOT=<that value>.
const WATCHDOG = `p=$1; g=$2; d=$3; m=$4
while kill -0 "$p" 2>/dev/null; do kill -0 -"$g" 2>/dev/null || exit 0; sleep 1; done
kill -TERM -"$g" 2>/dev/null; sleep 2; kill -KILL -"$g" 2>/dev/null
if [ -n "$m" ]; then
  for f in /proc/[0-9]*/environ; do
    grep -qzxF "SB_VSCODE_ROOT=$m" "$f" 2>/dev/null && { q=\${f#/proc/}; kill -KILL "\${q%/environ}" 2>/dev/null; }
  done
fi
if [ -n "$d" ]; then sleep 1; rm -rf -- "$d"; fi; exit 0`;

function startWatchdog(pgid: number, cleanupDir?: string, marker?: string): void {
  const w = spawn("sh", ["-c", WATCHDOG, "sb-vscode-watchdog", String(process.pid), String(pgid), cleanupDir ?? "", marker ?? ""], {
    detached: true,
    stdio: "ignore",
  });
  w.on("error", () => {});
  w.unref();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", () => {
    for (const g of owned) killGroup(g.pgid, "SIGKILL");
    for (const m of markers) for (const pid of markedPids(m)) killPid(pid, "SIGKILL");
  });
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    const handler = () => {
      const groups = [...owned];
      for (const g of groups) killGroup(g.pgid, "SIGTERM");
      for (const m of markers) for (const pid of markedPids(m)) killPid(pid, "SIGTERM");
      // Other listeners (a test runner, @vscode/test-electron) may want to handle the signal
      // themselves; exit only when we are the only one listening, as Node's default would.
      const alone = process.listenerCount(signal) <= 1;
      void Promise.race([Promise.all(groups.map((g) => g.stop(1500))), sleep(3000)]).finally(() => {
        if (alone) process.exit(code);
      });
    };
    process.on(signal, handler);
  };
  onSignal("SIGINT", 130);
  onSignal("SIGTERM", 143);
  onSignal("SIGHUP", 129);
}

/**
 * Takes ownership of an existing process group (e.g. a browser Playwright started detached).
 * `cleanupDir`: a throwaway folder the watchdog deletes if this process dies without cleaning up.
 */
export function adoptGroup(name: string, pgid: number, exited?: Promise<unknown>, cleanupDir?: string, marker?: string): OwnedGroup {
  installHandlers();
  let stopping: Promise<void> | undefined;
  const group: OwnedGroup = {
    name,
    pgid,
    stop(graceMs = 3000) {
      stopping ??= (async () => {
        killGroup(pgid, "SIGTERM");
        if (exited) await Promise.race([exited, sleep(graceMs)]);
        if (!(await waitGroupGone(pgid, exited ? 500 : graceMs))) {
          killGroup(pgid, "SIGKILL");
          await waitGroupGone(pgid, 3000);
        }
        owned.delete(group);
      })();
      return stopping;
    },
  };
  owned.add(group);
  startWatchdog(pgid, cleanupDir, marker);
  return group;
}

export interface OwnedProcess extends OwnedGroup {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the group leader exits (for whatever reason). */
  readonly exited: Promise<GroupExit>;
  exitInfo(): GroupExit | undefined;
}

/** Spawns `command` as the leader of a new process group owned by this process. */
export function spawnOwned(name: string, command: string, args: string[], options: SpawnOptions = {}, cleanupDir?: string, marker?: string): OwnedProcess {
  installHandlers();
  const child = spawn(command, args, { ...options, detached: true });
  if (child.pid === undefined) {
    // spawn failed synchronously (ENOENT is reported through 'error'); surface it as an exception.
    throw new Error(`could not start ${name}: ${command} ${args.join(" ")}`);
  }
  let info: GroupExit | undefined;
  const exited = new Promise<GroupExit>((resolve) => {
    child.once("exit", (code, signal) => {
      info = { code, signal };
      resolve(info);
    });
    child.once("error", () => {
      info ??= { code: -1, signal: null };
      resolve(info);
    });
  });
  const group = adoptGroup(name, child.pid, exited, cleanupDir, marker);
  return Object.assign(Object.create(null) as object, {
    name,
    pgid: child.pid,
    pid: child.pid,
    child,
    exited,
    exitInfo: () => info,
    stop: (graceMs?: number) => group.stop(graceMs),
  }) as OwnedProcess;
}

/** Stops every group this process owns (bounded). */
export async function stopAllOwned(): Promise<void> {
  await Promise.all([...owned].map((g) => g.stop(1500)));
}

/** pids of direct children of this process whose command line contains `needle` (Linux /proc). */
export function childPidsMatching(needle: string): Set<number> {
  const out = new Set<number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // comm may contain spaces/parens: fields after the last ')' are "state ppid pgrp ...".
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[1]) !== process.pid) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes(needle)) out.add(Number(entry));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

/** Process group id of `pid` (Linux /proc), or undefined when it is gone. */
export function pgidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(rest[2]);
  } catch {
    return undefined;
  }
}
