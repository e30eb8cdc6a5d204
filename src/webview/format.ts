// Pure formatting helpers for the sidebar: no DOM, no state. Everything here turns protocol values into
// short human words; callers render the results as text.
import type { Approval, ApprovalAction } from "../protocol/approvals.js";
import type { UndispatchedReason, Workspace } from "../protocol/schemas.js";
import type { StreamView } from "../protocol/streams.js";
import { formatDuration, streamOutcome } from "../protocol/stream-outcome.js";

/** "just now", "2 m ago", "3 h ago", "4 d ago" (empty for an unparsable time). */
export function relativeAge(iso: string, nowMs: number): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.max(0, Math.floor((nowMs - t) / 1000));
  if (s < 60) return "just now";
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/**
 * "times out in 45 s", "times out in 3 m", "timing out: denied" (null when there is no deadline). A
 * request that times out is denied (protocol/approval-outcome.ts says so everywhere afterwards).
 */
export function expiresIn(iso: string | null, nowMs: number): string | null {
  if (iso === null) return null;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return null;
  const s = Math.floor((t - nowMs) / 1000);
  if (s <= 0) return "timing out: denied";
  if (s < 60) return `times out in ${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `times out in ${m} m`;
  return `times out in ${Math.floor(m / 60)} h`;
}

let dateFormat: Intl.DateTimeFormat | undefined;
const absoluteCache = new Map<string, string>();
/** Local wall-clock time for tooltips; empty for an unparsable time. (Date#toLocaleString builds a new
 *  formatter on every call, which costs about a millisecond: the formatter and results are cached.) */
export function absoluteTime(iso: string): string {
  let s = absoluteCache.get(iso);
  if (s !== undefined) return s;
  const t = Date.parse(iso);
  dateFormat ??= new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  s = Number.isNaN(t) ? "" : dateFormat.format(t);
  if (absoluteCache.size > 5000) absoluteCache.clear();
  absoluteCache.set(iso, s);
  return s;
}

export function duration(ms: number | null): string {
  return formatDuration(ms);
}

export type Tone = "running" | "ok" | "error" | "muted";
export interface StreamStatus {
  text: string;
  tone: Tone;
  icon: string;
  running: boolean;
}

/** The status of an output stream in a few words, per the rummy contract (102 / 200 / 500 / 499). */
export function streamStatus(s: StreamView): StreamStatus {
  switch (s.state) {
    case "streaming":
      return { text: "running", tone: "running", icon: "loading", running: true };
    // The words are the terminal footer's and the CLI's (protocol/stream-outcome.ts), duration included.
    case "completed": {
      const text = streamOutcome(s).text;
      if (s.signal) return { text, tone: "error", icon: "error", running: false };
      if (s.exit_code === 0) return { text, tone: "ok", icon: "pass", running: false };
      if (s.exit_code === null) return { text, tone: "muted", icon: "circle-slash", running: false };
      return { text, tone: "error", icon: "error", running: false };
    }
    case "cancelled":
    case "aborted":
      return { text: streamOutcome(s).text, tone: "muted", icon: "circle-slash", running: false };
    default:
      return { text: String(s.state), tone: "muted", icon: "question", running: false };
  }
}

/** Why a message waits in the inbox, in human words. */
export function inboxReason(r: UndispatchedReason | string): string {
  switch (r) {
    case "unaddressed":
      return "Sent without a recipient";
    case "closed_session_continuation":
      return "Its session was closed; pick another to continue";
    case "correlated_continuation":
      return "A reply to a conversation whose session is gone";
    default:
      return String(r);
  }
}

/** The folder a session works in: its cwd, else its root (a plain string workspace is shown as is). */
export function workspaceText(ws: Workspace | null | undefined): { path: string; branch: string | null } | null {
  if (ws === null || ws === undefined) return null;
  if (typeof ws === "string") return ws ? { path: ws, branch: null } : null;
  if (typeof ws !== "object") return null;
  const path = ws.cwd || ws.root;
  return path ? { path, branch: ws.branch ?? null } : null;
}

/** A one-paragraph preview: whitespace collapsed and cut, so a 500 KB message costs nothing when folded. */
export function previewText(s: string, max = 280): string {
  const head = s.length > max * 2 ? s.slice(0, max * 2) : s;
  const flat = head.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Whether a text needs a "Show more" toggle to be read in full. */
export function isLong(s: string, max = 140): boolean {
  return s.length > max || /\n\s*\S/.test(s.trim());
}

/** Whitespace runs as one space, trimmed: for "is this the same text" checks. */
export function squashSpace(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/** Commands up to this many characters (and no more lines than the fold) are shown whole. */
export const COMMAND_FOLD_CHARS = 160;

/**
 * What a folded command shows: its first `lines` lines (the CSS clamps wrapped lines too), or null
 * when it is short enough to show whole. `lines` in the result is the command's line count.
 */
export function foldCommand(command: string, maxLines: number): { folded: string | null; lines: number } {
  let count = 1;
  let cut = -1;
  for (let i = command.indexOf("\n"); i !== -1; i = command.indexOf("\n", i + 1)) {
    if (count === maxLines) cut = i;
    count++;
  }
  if (count <= maxLines && command.length <= COMMAND_FOLD_CHARS) return { folded: null, lines: count };
  const head = cut === -1 ? command : command.slice(0, cut);
  return { folded: head.length > 2000 ? head.slice(0, 2000) : head, lines: count };
}

/**
 * The text cut after runs of separators inside a word (paths, URLs, flag=value, a,b lists), so the
 * browser can wrap there rather than mid-word. Very long texts are left whole (the CSS still wraps).
 */
export function breakPoints(text: string): string[] {
  if (text.length > 20_000) return [text];
  // After a separator run that follows a word character and precedes one ("a/b", "k=v", "x,y"),
  // not after a leading one ("at /home" stays "/home").
  const parts = text.split(/(?<=[^\s/=&,;|:][/=&,;|:]+)(?=[^/=&,;|:\s])/);
  return parts.length > 4000 ? [text] : parts;
}

/** A short label for aria-labels: the first line of the command, else the summary. */
export function shortLabel(text: string, max = 60): string {
  const first = text.split("\n", 1)[0]?.trim() ?? "";
  return first.length > max ? `${first.slice(0, max - 1)}…` : first;
}

export function approvalSubject(a: Approval): string {
  return shortLabel(a.command ?? a.summary);
}

export type DiffLineKind = "add" | "del" | "hunk" | "meta" | "ctx";
export function classifyDiffLine(line: string): DiffLineKind {
  if (line.startsWith("+++") || line.startsWith("---")) return "meta";
  if (line.startsWith("+")) return "add";
  if (line.startsWith("-")) return "del";
  if (line.startsWith("@@")) return "hunk";
  if (line.startsWith("diff ") || line.startsWith("index ") || line.startsWith("\\ ")) return "meta";
  return "ctx";
}

/** Splits a diff into lines, at most `limit` of them; `total` is the full line count. */
export function diffLines(diff: string, limit: number): { lines: string[]; total: number } {
  const all = diff.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n");
  return { lines: all.length > limit ? all.slice(0, limit) : all, total: all.length };
}

export interface ActionInfo {
  label: string;
  icon: string;
  title: string;
}
export function actionInfo(a: ApprovalAction | string): ActionInfo {
  switch (a) {
    case "sh":
      return { label: "sh", icon: "terminal", title: "sh: runs a command that may change things" };
    case "env":
      return { label: "env", icon: "eye", title: "env: runs a read-only command" };
    case "edit":
      return { label: "edit", icon: "edit", title: "edit: changes files" };
    case "tool":
      return { label: "tool", icon: "tools", title: "tool: calls an agent tool" };
    default:
      return { label: String(a), icon: "question", title: String(a) };
  }
}

/**
 * A session's state in words. An active session is connected now: the broker does not publish every
 * heartbeat, so its last-seen time would only say when it connected (or last changed), not that it is live.
 */
export function sessionState(state: string): { text: string; icon: string } {
  switch (state) {
    case "active":
      return { text: "connected", icon: "circle-filled" };
    case "reconnecting":
      return { text: "reconnecting", icon: "sync" };
    case "closed":
      return { text: "closed", icon: "circle-outline" };
    default:
      return { text: String(state), icon: "question" };
  }
}

/** The codicon for a session kind. */
export function kindIcon(kind: string): string {
  switch (kind) {
    case "vscode":
      return "vscode";
    case "pi":
      return "sparkle";
    case "cli":
      return "terminal";
    default:
      return "robot";
  }
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
