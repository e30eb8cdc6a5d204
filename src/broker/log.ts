// JSON-lines log file, one object per line: {ts, level, pid, msg, ...fields}.
import { createWriteStream, type WriteStream } from "node:fs";
import { openNoFollowSync } from "../platform/files.js";

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  close(): Promise<void>;
}

/** After a failed write (a full disk), lines are dropped for this long, then the file is opened again. */
const REOPEN_MS = 1000;

/** Throws when the log cannot be opened at all, e.g. when it is a symbolic link (never written through). */
export function fileLogger(path: string, alsoStderr = false): Logger {
  let failedAt: number | undefined; // monotonic ms of the last write error
  const openFile = (): WriteStream => {
    // Opened here, without following a link, so that the stream never opens the path itself.
    const s = createWriteStream(path, { fd: openNoFollowSync(path, "a"), flags: "a" });
    // Logging must never take the broker down. A stream that failed is dead, so drop lines until
    // it is replaced: logging then resumes once the disk takes writes again.
    s.on("error", () => {
      if (s === out) failedAt = performance.now();
    });
    return s;
  };
  let out = openFile();
  const write = (level: string, msg: string, fields?: Record<string, unknown>) => {
    const line = JSON.stringify({ ts: new Date().toISOString(), level, pid: process.pid, msg, ...fields }) + "\n";
    if (failedAt !== undefined && performance.now() - failedAt >= REOPEN_MS) {
      try {
        const next = openFile();
        out.destroy();
        out = next;
        failedAt = undefined;
      } catch {
        failedAt = performance.now(); // still not writable (or now a link): try again later
      }
    }
    if (failedAt === undefined) out.write(line);
    if (alsoStderr) process.stderr.write(line);
  };
  return {
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    close: () =>
      new Promise((resolve) => {
        if (out.destroyed) return resolve();
        out.once("close", () => resolve());
        out.end();
      }),
  };
}
