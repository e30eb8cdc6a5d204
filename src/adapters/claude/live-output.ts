// Live output of an approved Bash call, without touching what Claude Code runs (Linux only).
// Claude Code 2.1.332 starts each command as a child shell of `claude` with file descriptors 1 and 2
// on one file, `…/<session id>/tasks/<task id>.output`, which it reads when the call ends. The
// companion finds that file through /proc (the `claude` process's children whose stdout is such a
// file), opens it read-only and copies what the command writes as it comes. Only a file that appeared
// after the call was approved, in this session's folder, and the only such one, is taken: with two
// calls running at once, or a command that ends before it is found, the output is published when the
// call ends instead (bash-streams.ts), as on other systems.
import { type FileHandle, open } from "node:fs/promises";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";

const TASK_OUTPUT = /\/tasks\/[^/]+\.output$/;
const READ_BYTES = 64 * 1024;

/** The command output files the children of `claudePid` write to (this session's only). Never throws. */
export function commandOutputFiles(claudePid: number, sessionId: string): Set<string> {
  const out = new Set<string>();
  if (process.platform !== "linux") return out;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${claudePid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    let children: string[];
    try {
      children = readFileSync(`/proc/${claudePid}/task/${tid}/children`, "latin1").trim().split(/\s+/).filter(Boolean);
    } catch {
      continue;
    }
    for (const pid of children) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/1`);
        if (TASK_OUTPUT.test(target) && target.includes(`/${sessionId}/`)) out.add(target);
      } catch {
        // gone already, or not ours to read
      }
    }
  }
  return out;
}

/** Follows one output file from its start: `onText` gets its text in order, cut on character boundaries. */
export class OutputTail {
  private readonly decoder = new StringDecoder("utf8");
  private offset = 0;
  private reading: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly file: FileHandle,
    private readonly onText: (text: string) => Promise<unknown>,
  ) {}

  /** Opens `path` (held open, so the rest stays readable after Claude removes it) and reads it every `everyMs`. */
  static async open(path: string, onText: (text: string) => Promise<unknown>, everyMs = 50): Promise<OutputTail | undefined> {
    try {
      const tail = new OutputTail(await open(path, "r"), onText);
      tail.timer = setInterval(() => tail.poll(), everyMs);
      tail.poll();
      return tail;
    } catch {
      return undefined;
    }
  }

  private poll(): Promise<void> {
    this.reading = this.reading.then(() => this.readToEnd()).catch(() => {});
    return this.reading;
  }

  private async readToEnd(): Promise<void> {
    const buf = Buffer.alloc(READ_BYTES);
    for (;;) {
      const { bytesRead } = await this.file.read(buf, 0, buf.length, this.offset);
      if (!bytesRead) return;
      this.offset += bytesRead;
      const text = this.decoder.write(buf.subarray(0, bytesRead));
      if (text) await this.onText(text);
    }
  }

  /** The call ended: reads what is left, then lets go of the file. Resolves to the number of bytes copied. */
  async finish(): Promise<number> {
    clearInterval(this.timer);
    await this.poll();
    const rest = this.decoder.end();
    if (rest) await this.onText(rest).catch(() => {});
    await this.file.close().catch(() => {});
    return this.offset;
  }
}
