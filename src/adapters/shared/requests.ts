// What the reviewer sees for a gated agent tool call, for every adapter: the approval request (action, summary, command,
// detail, diff). The builders are pure; fileToolRequest reads the file being written or edited.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, relative, resolve } from "node:path";
import { classifyCommand } from "./classify.js";
import { unifiedDiff } from "./diff.js";

export interface GateRequest {
  /** `tool`: an ACP agent's tool call that is neither a command nor an edit. */
  action: "sh" | "env" | "edit" | "tool";
  summary: string;
  command?: string;
  cwd: string;
  detail?: string;
  diff?: string;
  /** `edit`: the file's absolute path, judged by the approval policy's edit rules. */
  path?: string;
  /** The agent offered to allow this "always" (ACP `allow_always`): the card offers "Allow for this session". */
  alwaysOffered?: boolean;
}

/** Limits of the broker's approval schema. */
export const LIMITS = { summary: 2000, command: 64 * 1024, detail: 64 * 1024, diff: 512 * 1024 } as const;
/** Files larger than this are not read for a diff. */
const MAX_DIFF_SOURCE = 4 * 1024 * 1024;

export function clip(text: string, max: number, what = "text"): string {
  if (text.length <= max) return text;
  const note = `\n[${what} truncated: ${text.length} characters in all]`;
  return text.slice(0, max - note.length) + note;
}

export function oneLine(text: string, max = 300): string {
  const lines = text.trim().split("\n");
  let first = lines[0]!.trim();
  if (first.length > max) first = first.slice(0, max - 1) + "…";
  return lines.length > 1 ? `${first} … (+${lines.length - 1} more line${lines.length === 2 ? "" : "s"})` : first;
}

/** A shell command as `env` (read-only by the shared classifier) or `sh`, with the classifier's reason and any notes. */
export function commandRequest(command: string, cwd: string, notes: string[] = []): GateRequest {
  const c = classifyCommand(command);
  const details = [c.reason, ...notes];
  if (command.length > LIMITS.command) details.push(`The command is ${command.length} characters long; the start is shown.`);
  return {
    action: c.readOnly ? "env" : "sh",
    summary: clip(oneLine(command) || "(empty command)", LIMITS.summary),
    command: clip(command, LIMITS.command, "command"),
    cwd,
    detail: clip(details.join("\n"), LIMITS.detail, "detail"),
  };
}

/** A bash tool call (pi, Claude Code): the command, and the agent's own time limit when it set one. */
export function bashRequest(command: string, cwd: string, timeoutSeconds?: number): GateRequest {
  return commandRequest(command, cwd, timeoutSeconds ? [`The agent stops it after ${timeoutSeconds} s.`] : []);
}

/** The tool-path rule of pi (and a superset of Claude Code's absolute paths): a leading @ is dropped, ~ is the home folder, relative is to cwd. */
export function resolveToolPath(path: string, cwd: string): string {
  let p = path.startsWith("@") ? path.slice(1) : path;
  p = p.replace(/[\u00A0\u2000-\u200A\u202F\u205F\u3000]/g, " ");
  if (p === "~") p = homedir();
  else if (p.startsWith("~/")) p = homedir() + p.slice(1);
  return isAbsolute(p) ? p : resolve(cwd, p);
}

function label(abs: string, cwd: string): string {
  const rel = relative(cwd, abs);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : abs;
}

/** The file as text, or undefined when it does not exist; `tooBig`/`binary` when no diff is shown. */
export type Existing = { kind: "missing" } | { kind: "text"; text: string } | { kind: "unreadable"; why: string };

export function writeRequest(path: string, content: string, cwd: string, existing: Existing): GateRequest {
  const abs = resolveToolPath(path, cwd);
  const name = label(abs, cwd);
  const lines = content === "" ? 0 : content.split("\n").length - (content.endsWith("\n") ? 1 : 0);
  const count = `${lines} line${lines === 1 ? "" : "s"}`;
  const base = { action: "edit" as const, cwd, path: abs, detail: `write ${abs}` };
  if (existing.kind === "unreadable") return { ...base, summary: clip(`overwrite ${name} (${count})`, LIMITS.summary), detail: `${base.detail}\nNo diff: ${existing.why}.` };
  const old = existing.kind === "text" ? existing.text : "";
  const diff = unifiedDiff(old, content, existing.kind === "missing" ? "/dev/null" : `a/${name}`, `b/${name}`, { maxBytes: LIMITS.diff - 1024 });
  const summary = existing.kind === "missing" ? `create ${name} (${count})` : diff ? `overwrite ${name} (${count})` : `write ${name} (unchanged)`;
  return { ...base, summary: clip(summary, LIMITS.summary), ...(diff ? { diff } : {}) };
}

export interface EditBlock {
  oldText: string;
  newText: string;
}

/** The edits applied exactly (each old text found once, no overlaps), or why not. */
export function applyEditsExactly(content: string, edits: EditBlock[]): { ok: true; text: string } | { ok: false; why: string } {
  const found: { at: number; len: number; newText: string }[] = [];
  for (const [i, e] of edits.entries()) {
    const oldText = e.oldText.replace(/\r\n/g, "\n");
    if (!oldText) return { ok: false, why: `edits[${i}] has an empty oldText` };
    const at = content.indexOf(oldText);
    if (at < 0) return { ok: false, why: `edits[${i}].oldText is not in the file exactly as written (the agent may still match it loosely)` };
    if (content.indexOf(oldText, at + 1) >= 0) return { ok: false, why: `edits[${i}].oldText occurs more than once (the agent will refuse it)` };
    found.push({ at, len: oldText.length, newText: e.newText.replace(/\r\n/g, "\n") });
  }
  found.sort((a, b) => a.at - b.at);
  for (let i = 1; i < found.length; i++) if (found[i - 1]!.at + found[i - 1]!.len > found[i]!.at) return { ok: false, why: "two edits overlap (the agent will refuse them)" };
  let text = content;
  for (const f of [...found].reverse()) text = text.slice(0, f.at) + f.newText + text.slice(f.at + f.len);
  return { ok: true, text };
}

export function editRequest(path: string, edits: EditBlock[], cwd: string, existing: Existing): GateRequest {
  const abs = resolveToolPath(path, cwd);
  const name = label(abs, cwd);
  const summary = clip(`edit ${name} (${edits.length} replacement${edits.length === 1 ? "" : "s"})`, LIMITS.summary);
  const base = { action: "edit" as const, cwd, path: abs, summary };
  if (existing.kind !== "text") {
    const why = existing.kind === "missing" ? "the file does not exist, so the agent will report an error" : existing.why;
    return { ...base, detail: `edit ${abs}\nNo diff: ${why}.`, diff: clip(blockDiff(name, edits), LIMITS.diff, "diff") };
  }
  // pi edits with LF line ends and without a BOM, and restores them when writing.
  const normalized = existing.text.replace(/^\uFEFF/, "").replace(/\r\n/g, "\n");
  const applied = applyEditsExactly(normalized, edits);
  if (!applied.ok) return { ...base, detail: `edit ${abs}\nShown as replacement blocks: ${applied.why}.`, diff: clip(blockDiff(name, edits), LIMITS.diff, "diff") };
  return { ...base, detail: `edit ${abs}`, diff: unifiedDiff(normalized, applied.text, `a/${name}`, `b/${name}`, { maxBytes: LIMITS.diff - 1024 }) };
}

/** The edits as hunks without line numbers, for when they cannot be placed in the file. */
function blockDiff(name: string, edits: EditBlock[]): string {
  const out = [`--- a/${name}`, `+++ b/${name}`];
  for (const e of edits) {
    out.push("@@ replacement @@");
    for (const l of e.oldText.replace(/\r\n/g, "\n").split("\n")) out.push(`-${l}`);
    for (const l of e.newText.replace(/\r\n/g, "\n").split("\n")) out.push(`+${l}`);
  }
  return out.join("\n") + "\n";
}

export async function readExisting(abs: string): Promise<Existing> {
  try {
    const buf = await readFile(abs);
    if (buf.length > MAX_DIFF_SOURCE) return { kind: "unreadable", why: `the file is ${Math.round(buf.length / 1024)} KiB` };
    if (buf.includes(0)) return { kind: "unreadable", why: "the file is binary" };
    return { kind: "text", text: buf.toString("utf8") };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { kind: "missing" };
    return { kind: "unreadable", why: `it cannot be read (${code ?? (err as Error).message})` };
  }
}

/** The request for a write or edit tool call, reading the current file for the diff. */
export async function fileToolRequest(toolName: "write" | "edit", input: Record<string, unknown>, cwd: string): Promise<GateRequest> {
  const path = typeof input.path === "string" ? input.path : "";
  const existing = await readExisting(resolveToolPath(path, cwd));
  if (toolName === "write") return writeRequest(path, typeof input.content === "string" ? input.content : "", cwd, existing);
  const edits = Array.isArray(input.edits)
    ? (input.edits as unknown[]).filter((e): e is EditBlock => !!e && typeof (e as EditBlock).oldText === "string" && typeof (e as EditBlock).newText === "string")
    : [];
  return editRequest(path, edits, cwd, existing);
}
