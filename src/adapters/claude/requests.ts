// What the reviewer sees for a gated Claude Code tool call. Bash goes through the shared classifier
// (`env` when read-only, else `sh`); Write, Edit, MultiEdit and NotebookEdit are `edit` requests with a
// unified diff against the file on disk. Edits are applied the way Claude Code applies them (in order,
// each on the result of the one before, `replace_all` replacing every occurrence), so the diff shows
// the file Claude will write.
import { relative, isAbsolute } from "node:path";
import { unifiedDiff } from "../shared/diff.js";
import { LIMITS, bashRequest, readExisting, resolveToolPath, writeRequest, type Existing, type GateRequest } from "../shared/requests.js";

export const GATED_TOOLS = ["Bash", "Write", "Edit", "MultiEdit", "NotebookEdit"] as const;
export type GatedTool = (typeof GATED_TOOLS)[number];

export function isGatedTool(name: unknown): name is GatedTool {
  return typeof name === "string" && (GATED_TOOLS as readonly string[]).includes(name);
}

interface ClaudeEdit {
  old_string: string;
  new_string: string;
  replace_all?: boolean;
}

const str = (v: unknown) => (typeof v === "string" ? v : "");

function label(abs: string, cwd: string): string {
  const rel = relative(cwd, abs);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : abs;
}

/** Claude Code's edit semantics on `content`, or why the edit will fail. */
export function applyClaudeEdits(content: string, edits: ClaudeEdit[]): { ok: true; text: string } | { ok: false; why: string } {
  let text = content;
  for (const [i, e] of edits.entries()) {
    const which = edits.length > 1 ? `edit ${i + 1}: ` : "";
    if (e.old_string === e.new_string) return { ok: false, why: `${which}old_string and new_string are the same` };
    if (e.old_string === "") {
      if (text !== "") return { ok: false, why: `${which}an empty old_string only creates a new file` };
      text = e.new_string;
      continue;
    }
    const at = text.indexOf(e.old_string);
    if (at < 0) return { ok: false, why: `${which}old_string is not in the file, so Claude Code will report an error` };
    if (e.replace_all) text = text.split(e.old_string).join(e.new_string);
    else if (text.indexOf(e.old_string, at + 1) >= 0)
      return { ok: false, why: `${which}old_string occurs more than once and replace_all is not set, so Claude Code will refuse it` };
    else text = text.slice(0, at) + e.new_string + text.slice(at + e.old_string.length);
  }
  return { ok: true, text };
}

export function editsRequest(path: string, edits: ClaudeEdit[], cwd: string, existing: Existing): GateRequest {
  const abs = resolveToolPath(path, cwd);
  const name = label(abs, cwd);
  const n = edits.length;
  const summary = `edit ${name} (${n} replacement${n === 1 ? "" : "s"}${edits.some((e) => e.replace_all) ? ", replace all" : ""})`.slice(0, LIMITS.summary);
  const base = { action: "edit" as const, cwd, summary };
  const blocks = () => {
    const out = [`--- a/${name}`, `+++ b/${name}`];
    for (const e of edits) {
      out.push("@@ replacement @@");
      for (const l of e.old_string.split("\n")) out.push(`-${l}`);
      for (const l of e.new_string.split("\n")) out.push(`+${l}`);
    }
    return (out.join("\n") + "\n").slice(0, LIMITS.diff - 1024);
  };
  const old = existing.kind === "text" ? existing.text : existing.kind === "missing" ? "" : undefined;
  if (old === undefined) return { ...base, detail: `edit ${abs}\nNo diff: ${existing.kind === "unreadable" ? existing.why : "unreadable"}.`, diff: blocks() };
  const applied = applyClaudeEdits(old, edits);
  if (!applied.ok) return { ...base, detail: `edit ${abs}\nShown as replacement blocks: ${applied.why}.`, diff: blocks() };
  const diff = unifiedDiff(old, applied.text, existing.kind === "missing" ? "/dev/null" : `a/${name}`, `b/${name}`, { maxBytes: LIMITS.diff - 1024 });
  return { ...base, detail: `edit ${abs}`, ...(diff ? { diff } : {}) };
}

function notebookRequest(input: Record<string, unknown>, cwd: string): GateRequest {
  const abs = resolveToolPath(str(input.notebook_path), cwd);
  const mode = str(input.edit_mode) || "replace";
  const cell = str(input.cell_id) || (typeof input.cell_number === "number" ? `#${input.cell_number}` : "");
  const source = str(input.new_source);
  const lines = source.split("\n").map((l) => `+${l}`);
  return {
    action: "edit",
    cwd,
    summary: `${mode} cell ${cell || "(new)"} of ${label(abs, cwd)}`.slice(0, LIMITS.summary),
    detail: `notebook ${abs}\nedit_mode: ${mode}${input.cell_type ? `\ncell_type: ${str(input.cell_type)}` : ""}`,
    diff:
      [`--- a/${label(abs, cwd)} (cell ${cell || "new"})`, `+++ b/${label(abs, cwd)} (cell ${cell || "new"})`, "@@ new cell source @@", ...lines]
        .join("\n")
        .slice(0, LIMITS.diff - 1024) + "\n",
  };
}

/** The approval request for one gated tool call, reading the file on disk for a diff. */
export async function toolRequest(tool: GatedTool, input: Record<string, unknown>, cwd: string): Promise<GateRequest> {
  switch (tool) {
    case "Bash": {
      const req = bashRequest(str(input.command), cwd, typeof input.timeout === "number" ? Math.round(input.timeout / 1000) : undefined);
      if (input.run_in_background === true) req.detail = `${req.detail ?? ""}\nClaude Code runs it in the background.`.trim();
      return req;
    }
    case "Write": {
      const path = str(input.file_path);
      return writeRequest(path, str(input.content), cwd, await readExisting(resolveToolPath(path, cwd)));
    }
    case "Edit": {
      const path = str(input.file_path);
      const edit = { old_string: str(input.old_string), new_string: str(input.new_string), replace_all: input.replace_all === true };
      return editsRequest(path, [edit], cwd, await readExisting(resolveToolPath(path, cwd)));
    }
    case "MultiEdit": {
      const path = str(input.file_path);
      const edits = (Array.isArray(input.edits) ? (input.edits as Record<string, unknown>[]) : []).map((e) => ({
        old_string: str(e?.old_string),
        new_string: str(e?.new_string),
        replace_all: e?.replace_all === true,
      }));
      return editsRequest(path, edits, cwd, await readExisting(resolveToolPath(path, cwd)));
    }
    case "NotebookEdit":
      return notebookRequest(input, cwd);
  }
}
