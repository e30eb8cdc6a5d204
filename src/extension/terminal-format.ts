// What a stream terminal writes around the command's output: the header (command, cwd, session), the
// footer (how it ended) and error lines. Pure, no vscode, so it can be tested without VS Code.
// Everything in them comes from the agent (command, cwd, session name, end reason), so control
// characters are shown as visible escapes (`\x1b`, `\n`, `\u009b`): only the output itself may drive
// the terminal, and it cannot make the header or the footer say something else.
import { streamOutcome, type StreamEnd, type StreamView } from "../protocol/index.js";
import { sessionRepeatsCommand } from "../protocol/naming.js";
import { visibleText } from "../protocol/visible-text.js";
import { BOLD, DEFAULT_FG, DIM, GREEN, NORMAL, RED } from "./ansi.js";

/**
 * Written before anything of ours that follows output: CAN aborts an escape or OSC/DCS string the output
 * left open (which would swallow our text), SGR 0 drops colours and attributes it left on (say, hidden).
 */
const SANE = "\x18\x1b[0m";

/** The one function that makes agent text safe to show (shared with the CLI and the sidebar). */
export { visibleText } from "../protocol/visible-text.js";

/** The pty wants CRLF; a lone LF would move down without returning to column 0. Output only. */
export function toPty(text: string): string {
  return text.replace(/\r?\n/g, "\r\n");
}

/** How the stream ended: the same words as the sidebar and the CLI (protocol/stream-outcome.ts). */
export function describeEnd(s: StreamEnd): { text: string; ok: boolean } {
  return streamOutcome(s);
}

/** The terminal's tab name. */
export function terminalName(s: Pick<StreamView, "action" | "command" | "session">): string {
  const cmd = s.command.length > 40 ? s.command.slice(0, 39) + "…" : s.command;
  // A `switchboard run` session is named after its command: "sh: npm test", not "sh: npm test · npm test".
  return visibleText(sessionRepeatsCommand(s.session, s.command) ? `${s.action}: ${cmd}` : `${s.action}: ${cmd} · ${s.session}`);
}

/** `$ command` in bold, then `cwd · action · session` dimmed (and whether the agent merged stdout and stderr), the producer's note (if any) dimmed, then a blank line. */
export function terminalHeader(s: Pick<StreamView, "action" | "command" | "cwd" | "session" | "note" | "output_merged">): string {
  const where = [s.cwd, `${s.action} · ${s.session}`, s.output_merged ? "stdout and stderr merged by the agent" : ""].filter(Boolean).join(" · ");
  const note = s.note ? `${DIM}${visibleText(s.note)}${NORMAL}\r\n` : "";
  return `${BOLD}$ ${visibleText(s.command)}${NORMAL}\r\n${DIM}${visibleText(where)}${NORMAL}\r\n${note}\r\n`;
}

/** The last line: how the command ended, green for exit 0, red otherwise. */
export function terminalFooter(end: StreamEnd): string {
  const { text, ok } = describeEnd(end);
  return `${SANE}\r\n${DIM}──${NORMAL} ${ok ? GREEN : RED}${visibleText(text)}${DEFAULT_FG}\r\n`;
}

/** A line of ours in red, e.g. `[connection lost]`, after whatever the output left behind. */
export function terminalNotice(text: string, opts: { bracket?: boolean; leadingNewline?: boolean } = {}): string {
  const body = opts.bracket === false ? visibleText(text) : `[${visibleText(text)}]`;
  return `${SANE}${opts.leadingNewline ? "\r\n" : ""}${RED}${body}${DEFAULT_FG}\r\n`;
}
