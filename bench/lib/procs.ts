// Child processes of the bench: every one is tracked and killed at the end, even on error or Ctrl+C.
// Also reads a process's resident memory and CPU time from /proc (Linux only; null elsewhere).
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { readFileSync } from "node:fs";
import { sleep } from "./stats.js";

const live = new Set<ChildProcess>();

export interface Tracked {
  proc: ChildProcess;
  pid: number;
  /** Last ~4 KB of stderr, for error messages. */
  stderrTail(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns a tracked child. stdout is ignored unless `opts.stdio` says otherwise (then the caller must read it). */
export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions = {}): Tracked {
  const proc = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], ...opts });
  if (proc.pid === undefined) throw new Error(`could not spawn ${cmd}`);
  live.add(proc);
  let tail = "";
  proc.stderr?.setEncoding("utf8");
  proc.stderr?.on("data", (s: string) => {
    tail = (tail + s).slice(-4096);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once("exit", (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    });
  });
  proc.once("error", () => live.delete(proc));
  const pid = proc.pid;
  return {
    proc,
    pid,
    stderrTail: () => tail,
    exited,
    async stop(graceMs = 3000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!done) {
        proc.kill("SIGKILL");
        await Promise.race([exited, sleep(2000)]);
      }
    },
  };
}

/** Kills every child still running (SIGKILL). Synchronous so that it can run in an "exit" handler. */
export function killAllSync(): void {
  for (const p of live) {
    try {
      p.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  live.clear();
}

export function liveChildren(): number {
  return live.size;
}

process.on("exit", killAllSync);

export interface Rss {
  /** VmRSS: resident memory, MB. */
  rss: number;
  /** VmHWM: peak resident memory, MB. */
  hwm: number;
  /** RssAnon: private anonymous memory (JS heap, malloc), MB. */
  anon: number;
  /** RssFile: file-backed pages, mostly the node binary's text, shared with every other node process, MB. */
  file: number;
}

/** Resident memory of a process, from /proc/<pid>/status (MB, 1 decimal). */
export function rssMb(pid: number): Rss | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const mb = (key: string) => Math.round(Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) / 102.4) / 10;
    return { rss: mb("VmRSS"), hwm: mb("VmHWM"), anon: mb("RssAnon"), file: mb("RssFile") };
  } catch {
    return null;
  }
}

const CLK_TCK = 100; // USER_HZ on every Linux we run on (getconf CLK_TCK)

/** CPU seconds (user + system) used so far by a process, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** CPU seconds the whole machine spent busy (all cores, everything but idle and iowait), from /proc/stat. */
export function machineBusySeconds(): number | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal (guest time is already in user)
    return (total - v[3]! - v[4]!) / CLK_TCK;
  } catch {
    return null;
  }
}

/** CPU seconds of this process (user + system). */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Resolves with N once the child prints "PORT N" on stdout; rejects if it exits or `timeoutMs` passes. */
export function waitForPortLine(child: Tracked, what: string, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms: ${child.stderrTail()}`)), timeoutMs);
    child.proc.stdout!.setEncoding("utf8");
    child.proc.stdout!.on("data", (s: string) => {
      out += s;
      const m = /PORT (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void child.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}): ${child.stderrTail()}`));
    });
  });
}
