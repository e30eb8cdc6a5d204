// Reads the tool results of approved Bash calls from Claude Code's session transcript (the JSONL file
// whose path every hook event carries), so the companion can publish a command's output without a
// PostToolUse hook: that hook would start one more process on every tool call (about as long as the
// whole PreToolUse path). Claude Code appends a `user` line per tool result, with `toolUseResult`
// ({stdout, stderr, interrupted, …}, or an error string) beside the `tool_result` block Claude got.
import { closeSync, openSync, readSync, statSync, watch, type FSWatcher } from "node:fs";
import type { ClaudeHookEvent } from "./protocol.js";

export type ToolResultEvent = Pick<ClaudeHookEvent, "hook_event_name" | "tool_use_id" | "tool_response" | "error">;

/** One transcript line → the PostToolUse(Failure)-shaped events for the tool results it holds. */
export function resultsOfLine(line: string): ToolResultEvent[] {
  let entry: { type?: string; message?: { content?: unknown }; toolUseResult?: unknown };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    return [];
  }
  if (entry?.type !== "user" || !Array.isArray(entry.message?.content)) return [];
  const out: ToolResultEvent[] = [];
  for (const c of entry.message.content as { type?: string; tool_use_id?: string; content?: unknown; is_error?: boolean }[]) {
    if (c?.type !== "tool_result" || typeof c.tool_use_id !== "string") continue;
    const text = typeof c.content === "string" ? c.content : Array.isArray(c.content) ? (c.content as { text?: string }[]).map((b) => b?.text ?? "").join("") : "";
    if (c.is_error) out.push({ hook_event_name: "PostToolUseFailure", tool_use_id: c.tool_use_id, error: text });
    else
      out.push({
        hook_event_name: "PostToolUse",
        tool_use_id: c.tool_use_id,
        tool_response: entry.toolUseResult && typeof entry.toolUseResult === "object" ? entry.toolUseResult : { stdout: text, stderr: "" },
      });
  }
  return out;
}

/** Follows a transcript from `offset` on, calling `onResult` for each tool result appended. */
export class TranscriptTail {
  private offset: number;
  private rest: Buffer = Buffer.alloc(0);
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string,
    private readonly onResult: (e: ToolResultEvent) => void,
  ) {
    this.offset = sizeOf(path);
  }

  start(): void {
    try {
      this.watcher = watch(this.path, () => this.read());
      this.watcher.on("error", () => {});
    } catch {
      // not there yet, or no inotify: the timer below still reads it
    }
    this.timer = setInterval(() => this.read(), 250);
  }

  stop(): void {
    this.read();
    this.watcher?.close();
    clearInterval(this.timer);
  }

  read(): void {
    let fd: number;
    try {
      fd = openSync(this.path, "r");
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(256 * 1024);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        // Cut at the last newline, in bytes: a read may end inside a multi-byte character.
        const bytes = Buffer.concat([this.rest, buf.subarray(0, n)]);
        const end = bytes.lastIndexOf(0x0a);
        if (end < 0) {
          this.rest = bytes;
          continue;
        }
        this.rest = Buffer.from(bytes.subarray(end + 1));
        for (const line of bytes.subarray(0, end).toString("utf8").split("\n")) if (line.includes('"tool_result"')) for (const e of resultsOfLine(line)) this.onResult(e);
      }
    } finally {
      closeSync(fd);
    }
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
