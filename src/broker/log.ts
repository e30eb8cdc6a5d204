// JSON-lines log file, one object per line: {ts, level, pid, msg, ...fields}.
import { createWriteStream, type WriteStream } from "node:fs";

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  close(): Promise<void>;
}

export function fileLogger(path: string, alsoStderr = false): Logger {
  const out: WriteStream = createWriteStream(path, { flags: "a", mode: 0o600 });
  out.on("error", () => {}); // logging must never take the broker down
  const write = (level: string, msg: string, fields?: Record<string, unknown>) => {
    const line = JSON.stringify({ ts: new Date().toISOString(), level, pid: process.pid, msg, ...fields }) + "\n";
    out.write(line);
    if (alsoStderr) process.stderr.write(line);
  };
  return {
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    close: () => new Promise((resolve) => out.end(resolve)),
  };
}
