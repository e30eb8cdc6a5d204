// What an approved Bash call's output stream gets from Claude Code's PostToolUse / PostToolUseFailure
// event (pure). Observed with Claude Code 2.1.332:
//   PostToolUse         tool_response {stdout, stderr, interrupted, isImage, noOutputExpected,
//                       returnCodeInterpretation?, backgroundTaskId?, persistedOutputPath?}: the call
//                       succeeded in Claude's eyes.
//                       Claude runs the command with fds 1 and 2 on one file, so `stdout` holds both and
//                       `stderr` is empty; a non-zero exit Claude reads as no error (grep finding nothing:
//                       returnCodeInterpretation "No matches found") comes without its number.
//   PostToolUseFailure  error "Exit code N\n<output>" (is_interrupt true when the user interrupted it), or
//                       another sentence (a timeout, a tool error).
// The stream says what Claude says and nothing more: an exit status Claude does not report is "not reported".
import type { ClaudeHookEvent } from "./protocol.js";

export type StreamEnding = { kind: "complete"; exitCode: number | null; reason?: string } | { kind: "abort"; reason: string; exitCode?: number };

export interface BashOutcome {
  /** In order: channel 1 (stdout, and Claude Code's merged stderr), channel 2 (stderr, when Claude reports it apart). */
  chunks: { channel: 1 | 2; data: string }[];
  /**
   * Output too large for the tool result: Claude cuts `stdout` (at 30,000 characters) and saves the
   * whole output in this file (in the session's folder beside its transcript). Channel 1 should carry
   * the file instead of the cut `stdout`, which stays in `chunks` for when the file cannot be read.
   */
  fullOutput?: string;
  end: StreamEnding;
}

/** A failed Bash call's error text ("Exit code N\n<output>") taken apart. */
export function parseFailure(error: string): { exitCode?: number; output: string; reason?: string } {
  const m = /^Exit code (\d+)(?:\n([\s\S]*))?$/.exec(error);
  if (m) return { exitCode: Number(m[1]), output: m[2] ?? "" };
  return { output: "", reason: error.split("\n")[0] ?? "" };
}

function withNewline(s: string): string {
  return s.endsWith("\n") ? s : `${s}\n`;
}

const str = (x: unknown): string => (typeof x === "string" ? x : "");

/** The saved whole output of a call, if Claude names one inside this session's own folder. */
function persistedOutput(r: Record<string, unknown>, transcriptPath: unknown): string | undefined {
  const path = str(r.persistedOutputPath);
  const session = str(transcriptPath).replace(/\.jsonl$/, "");
  if (!path || !session || path.includes("/../") || !path.startsWith(`${session}/tool-results/`)) return undefined;
  return path;
}

/** The stream's output and ending for a PostToolUse(Failure) event of a Bash call. */
export function bashOutcome(e: Pick<ClaudeHookEvent, "hook_event_name" | "tool_response" | "error" | "is_interrupt" | "transcript_path">): BashOutcome {
  const chunks: BashOutcome["chunks"] = [];
  if (e.hook_event_name === "PostToolUse") {
    const r = (e.tool_response && typeof e.tool_response === "object" ? e.tool_response : {}) as Record<string, unknown>;
    if (str(r.stdout)) chunks.push({ channel: 1, data: withNewline(str(r.stdout)) });
    if (str(r.stderr)) chunks.push({ channel: 2, data: withNewline(str(r.stderr)) });
    const full = persistedOutput(r, e.transcript_path);
    const out = (end: StreamEnding): BashOutcome => ({ chunks, ...(full ? { fullOutput: full } : {}), end });
    if (r.interrupted === true) return out({ kind: "abort", reason: "interrupted in Claude Code" });
    if (str(r.backgroundTaskId)) return out({ kind: "abort", reason: `running in the background in Claude Code (task ${str(r.backgroundTaskId)}); its output is not captured` });
    const interpretation = str(r.returnCodeInterpretation);
    // Claude reads some non-zero exits as no error and keeps only its reading of them.
    if (interpretation) return out({ kind: "complete", exitCode: null, reason: `exit status not reported by Claude Code, which read it as "${interpretation.slice(0, 200)}"` });
    return out({ kind: "complete", exitCode: 0 });
  }
  const f = parseFailure(str(e.error));
  if (f.output) chunks.push({ channel: 1, data: withNewline(f.output) });
  if (f.exitCode !== undefined)
    return e.is_interrupt === true
      ? { chunks, end: { kind: "abort", reason: "interrupted in Claude Code", exitCode: f.exitCode } }
      : { chunks, end: { kind: "complete", exitCode: f.exitCode } };
  const why = f.reason || (e.is_interrupt === true ? "interrupted in Claude Code" : "failed in Claude Code");
  return { chunks, end: { kind: "abort", reason: `${why.slice(0, 1800)} (exit status not reported)` } };
}
