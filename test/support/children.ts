// Child processes of the test process (brokers, agents, CLIs): each one tracked until it exits and
// SIGKILLed should the test process exit first, however it exits; and their JSON-lines stdout read
// as events with the moment each was read.
import type { ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

export const running = (p: ChildProcess): boolean => p.exitCode === null && p.signalCode === null;

/** Tracks `proc` (killed if this process exits first); resolves with how it exited. */
export function track(proc: ChildProcess): Promise<Exit> {
  live.add(proc);
  return new Promise((resolve) => {
    if (!running(proc)) {
      live.delete(proc);
      return resolve({ code: proc.exitCode, signal: proc.signalCode });
    }
    proc.once("exit", (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    });
  });
}

/**
 * Reads `stream` as JSON lines into `events`, with performance.now() of the chunk each came in beside it
 * in `times`; a line that is not JSON goes to `unparsable`. `after` runs once per chunk.
 */
export function readJsonLines<T>(stream: Readable, events: T[], times: number[], unparsable: (line: string) => void, after?: () => void): void {
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (d: string) => {
    buf += d;
    const now = performance.now();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i).replace(/\r$/, "");
      buf = buf.slice(i + 1);
      if (!line.trim()) continue;
      try {
        events.push(JSON.parse(line) as T);
        times.push(now);
      } catch {
        unparsable(line);
      }
    }
    after?.();
  });
}
