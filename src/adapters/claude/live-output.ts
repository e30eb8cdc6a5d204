// Live output of an approved Bash call, without touching what Claude Code runs (Linux only).
// Claude Code 2.1.332 starts each command as a child shell of `claude`,
//   bash -c "… && eval '<command, ' written as '\"'\"'> < /dev/null && pwd -P >| …"
// with file descriptors 1 and 2 on one file, `…/<session id>/tasks/<task id>.output`, which it reads
// when the call ends. The companion finds that file through /proc (the `claude` process's children
// whose stdout is such a file and whose command line evals exactly this command), opens it read-only
// and copies what the command writes as it comes. Anything less certain (a file that was there before
// the approval, two candidates, a command that ended before it was found, another Claude version's
// command line) leaves the output to be published when the call ends (bash-streams.ts).
import { type FileHandle, open } from "node:fs/promises";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";

const TASK_OUTPUT = /\/tasks\/[^/]+\.output$/;
const READ_BYTES = 64 * 1024;

export interface CommandShell {
  /** The output file its stdout (and stderr) is on. */
  file: string;
  /** Its command line, arguments joined with spaces. */
  cmdline: string;
}

/** Whether a shell's command line is Claude Code running exactly `command` (pure). */
export function runsCommand(cmdline: string, command: string): boolean {
  return command.length > 0 && cmdline.includes(`eval '${command.split("'").join(`'"'"'`)}' < /dev/null`);
}

/** The shells among the children of `claudePid` whose stdout is one of this session's command output files. Never throws. */
export function commandShells(claudePid: number, sessionId: string): CommandShell[] {
  const out: CommandShell[] = [];
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
        const file = readlinkSync(`/proc/${pid}/fd/1`);
        if (!TASK_OUTPUT.test(file) || !file.includes(`/${sessionId}/`)) continue;
        out.push({ file, cmdline: readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ") });
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
