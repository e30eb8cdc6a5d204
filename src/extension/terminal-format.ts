// What a stream terminal writes around the command's output: the header (command, cwd, session), the
// footer (how it ended) and error lines. Pure, no vscode, so it can be tested without VS Code.
// Everything in them comes from the agent (command, cwd, session name, end reason), so control
// characters are shown as visible escapes (`\x1b`, `\n`, `\u009b`): only the output itself may drive
// the terminal, and it cannot make the header or the footer say something else.
import type { StreamView } from "../protocol/index.js";
import { visibleText } from "../protocol/visible-text.js";

const RED = "\x1b[31m";
const GREEN = "\x1b[32m";
const DEFAULT_FG = "\x1b[39m";
const DIM = "\x1b[2m";
const BOLD = "\x1b[1m";
const NORMAL = "\x1b[22m";
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

export function describeEnd(s: Pick<StreamView, "state" | "exit_code" | "signal" | "duration_ms" | "reason">): { text: string; ok: boolean } {
  const took = s.duration_ms !== null ? ` after ${(s.duration_ms / 1000).toFixed(s.duration_ms < 10_000 ? 1 : 0)} s` : "";
  if (s.state === "completed") {
    if (s.signal) return { text: `killed by ${s.signal}${took}`, ok: false };
    return { text: `exit ${s.exit_code}${took}`, ok: s.exit_code === 0 };
  }
  const how = s.signal ? `, ${s.signal}` : s.exit_code !== null ? `, exit ${s.exit_code}` : "";
  return { text: `${s.state}${s.reason ? `: ${s.reason}` : ""}${how}${took}`, ok: false };
}

/** The terminal's tab name. */
export function terminalName(s: Pick<StreamView, "action" | "command" | "session">): string {
  const cmd = s.command.length > 40 ? s.command.slice(0, 39) + "…" : s.command;
  return visibleText(`${s.action}: ${cmd} · ${s.session}`);
}

/** `$ command` in bold, then `cwd · action · session` dimmed, then a blank line. */
export function terminalHeader(s: Pick<StreamView, "action" | "command" | "cwd" | "session">): string {
  const where = [s.cwd, `${s.action} · ${s.session}`].filter(Boolean).join(" · ");
  return `${BOLD}$ ${visibleText(s.command)}${NORMAL}\r\n${DIM}${visibleText(where)}${NORMAL}\r\n\r\n`;
}

/** The last line: how the command ended, green for exit 0, red otherwise. */
export function terminalFooter(end: Pick<StreamView, "state" | "exit_code" | "signal" | "duration_ms" | "reason">): string {
  const { text, ok } = describeEnd(end);
  return `${SANE}\r\n${DIM}──${NORMAL} ${ok ? GREEN : RED}${visibleText(text)}${DEFAULT_FG}\r\n`;
}

/** A line of ours in red, e.g. `[connection lost]`, after whatever the output left behind. */
export function terminalNotice(text: string, opts: { bracket?: boolean; leadingNewline?: boolean } = {}): string {
  const body = opts.bracket === false ? visibleText(text) : `[${visibleText(text)}]`;
  return `${SANE}${opts.leadingNewline ? "\r\n" : ""}${RED}${body}${DEFAULT_FG}\r\n`;
}
