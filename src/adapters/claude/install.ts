// Switchboard's hooks in Claude Code's settings: the `hooks` object for `claude --settings` (New Claude
// Code Session in VS Code) and `switchboard install claude`, which merges it into
// `DIR/.claude/settings.local.json` (--project) or `~/.claude/settings.json` (--user).
//
// The merge edits the file's text with jsonc-parser (the parser VS Code uses for its own settings), so
// everything else stays byte for byte, comments included. It is idempotent: Switchboard's entries are
// recognised by their command (it runs `claude-hook.js`) and replaced, never duplicated; `--uninstall`
// removes only those, and the `hooks` object or event arrays only if they end up empty because of it.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { applyEdits, format, modify, parse, printParseErrorCode, type ParseError } from "jsonc-parser";

/** Claude Code kills a hook after this many seconds; approvals expire 20 s before it. */
export const HOOK_TIMEOUT_S = 900;
export const GATED_MATCHER = "Bash|Write|Edit|MultiEdit|NotebookEdit";
/**
 * PostToolUse answers at once (the companion publishes the output afterwards), so a short timeout: a
 * hook that hangs anyway holds Claude's turn no longer than this, and Claude carries on without it.
 */
export const POST_HOOK_TIMEOUT_S = 30;
/** How Switchboard's own entries are recognised. */
const OURS = /claude-hook\.js|switchboard(\.js)?["']?\s+hook\s+claude/;

interface HookEntry {
  type: "command";
  command: string;
  timeout?: number;
}
interface MatcherGroup {
  matcher?: string;
  hooks: HookEntry[];
}
export type HooksObject = Record<string, MatcherGroup[]>;

/** POSIX shell quoting (Claude Code runs hook commands through a shell). */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface HookCommandOptions {
  /** dist/claude-hook.js */
  hookEntry: string;
  /** dist/claude-hook.sh, the shell fast path in front of it (POSIX only, run by bash when there is one); none: Node for every call. */
  shellEntry?: string | undefined;
  /** The runtime for it; default this process's node. */
  node?: string;
  /** A broker state folder baked in (default: $SWITCHBOARD_HOME or the per-user data folder, when the hook runs). */
  home?: string | undefined;
  /** Prefix for runtimes that need it, e.g. `ELECTRON_RUN_AS_NODE=1` for VS Code's own runtime. */
  envPrefix?: string;
  /** The hook timeout the command is told (must match the settings entry's `timeout`); default HOOK_TIMEOUT_S. */
  timeoutS?: number;
}

export function hookCommand(o: HookCommandOptions): string {
  const parts = [shellQuote(o.node ?? process.execPath), shellQuote(resolve(o.hookEntry)), "--hook-timeout", String(o.timeoutS ?? HOOK_TIMEOUT_S)];
  // bash runs the fast path without starting any other process (/dev/tcp); plain sh uses curl.
  if (o.shellEntry) parts.unshift(existsSync("/bin/bash") ? "/bin/bash" : "/bin/sh", shellQuote(resolve(o.shellEntry)));
  if (o.home) parts.push("--home", shellQuote(o.home));
  return `${o.envPrefix ? `${o.envPrefix} ` : ""}${parts.join(" ")}`;
}

/** The `hooks` settings Switchboard needs, all running `command`. */
export function switchboardHooks(command: string, timeoutS = HOOK_TIMEOUT_S): HooksObject {
  const entry = (t = timeoutS): HookEntry[] => [{ type: "command", command, timeout: t }];
  return {
    SessionStart: [{ hooks: entry() }],
    UserPromptSubmit: [{ hooks: entry() }],
    Notification: [{ hooks: entry() }],
    Stop: [{ hooks: entry() }],
    SessionEnd: [{ hooks: entry() }],
    PreToolUse: [{ matcher: GATED_MATCHER, hooks: entry() }],
    // How an approved Bash call ended (its output and exit status) for its output stream; prints nothing.
    PostToolUse: [{ matcher: "Bash", hooks: entry(Math.min(timeoutS, POST_HOOK_TIMEOUT_S)) }],
    PostToolUseFailure: [{ matcher: "Bash", hooks: entry(Math.min(timeoutS, POST_HOOK_TIMEOUT_S)) }],
  };
}

export function settingsPath(target: { project?: string; user?: boolean }, env: NodeJS.ProcessEnv = process.env): string {
  if (target.project !== undefined) return join(resolve(target.project), ".claude", "settings.local.json");
  return join(env.HOME || homedir(), ".claude", "settings.json");
}

function isOurs(h: unknown): boolean {
  return !!h && typeof h === "object" && typeof (h as HookEntry).command === "string" && OURS.test((h as HookEntry).command);
}

/**
 * The file's new text with Switchboard's hooks merged in (or, with `hooks` undefined, taken out).
 * Throws a sentence when the file is not a JSON object.
 */
export function mergeSettingsText(text: string, hooks: HooksObject | undefined, file = "the settings file"): string {
  const errors: ParseError[] = [];
  const root = text.trim() ? (parse(text, errors, { allowTrailingComma: true }) as unknown) : {};
  if (errors.length) throw new Error(`${file} is not valid JSON (${printParseErrorCode(errors[0]!.error)} at offset ${errors[0]!.offset}); fix it first.`);
  if (!root || typeof root !== "object" || Array.isArray(root)) throw new Error(`${file} does not hold a JSON object; fix it first.`);
  const existing = (root as { hooks?: unknown }).hooks;
  if (existing !== undefined && (typeof existing !== "object" || existing === null || Array.isArray(existing))) throw new Error(`${file}: "hooks" is not an object; fix it first.`);
  // Nothing to change (also: installed already): the text stays exactly as it is.
  if (JSON.stringify(semanticMerge(existing, hooks)) === JSON.stringify(existing ?? {})) return text;
  if (!text.trim()) return `${JSON.stringify({ hooks: semanticMerge(undefined, hooks) }, null, 2)}\n`;
  const fmt = detectFormat(text);
  let out = text;
  // Edits are made unformatted and only the inserted text is formatted afterwards: jsonc-parser's
  // own formatting of an edit reformats the whole lines around it, which would rewrite user entries.
  const set = (path: (string | number)[], value: unknown, isArrayInsertion = false) => {
    for (const e of modify(out, path, value, { isArrayInsertion })) {
      out = applyEdits(out, [e]);
      let end = e.offset + e.content.length;
      while (end < out.length && out[end] !== "\n" && out[end] !== "\r") end++;
      out = applyEdits(out, format(out, { offset: e.offset, length: end - e.offset }, { ...fmt, keepLines: false }));
    }
  };
  const current = (existing ?? {}) as Record<string, unknown>;
  const events = new Set([...Object.keys(current), ...Object.keys(hooks ?? {})]);
  for (const event of events) {
    const groups = Array.isArray(current[event]) ? (current[event] as unknown[]) : undefined;
    if (current[event] !== undefined && !groups) continue; // not ours to fix
    // Take out our entries one by one, last first so that earlier paths stay valid; a group left
    // empty by that goes too. The user's entries are never rewritten.
    let left = groups?.length ?? 0;
    for (let gi = (groups?.length ?? 0) - 1; gi >= 0; gi--) {
      const g = groups![gi];
      const list = g && typeof g === "object" && Array.isArray((g as MatcherGroup).hooks) ? (g as MatcherGroup).hooks : undefined;
      if (!list?.some(isOurs)) continue;
      if (list.every(isOurs)) {
        set(["hooks", event, gi], undefined);
        left--;
      } else for (let hi = list.length - 1; hi >= 0; hi--) if (isOurs(list[hi])) set(["hooks", event, gi, "hooks", hi], undefined);
    }
    const add = hooks?.[event] ?? [];
    if (!groups && add.length) set(["hooks", event], add);
    else {
      add.forEach((group, i) => {
        set(["hooks", event, left + i], group, true);
      });
      if (groups && groups.length > 0 && left + add.length === 0) set(["hooks", event], undefined);
    }
  }
  // Remove a `hooks` object that is empty because of us (not one the user had empty).
  const after = parse(out, [], { allowTrailingComma: true }) as { hooks?: Record<string, unknown> };
  const userHadEmpty = existing !== undefined && Object.keys(current).length === 0;
  if (after.hooks && Object.keys(after.hooks).length === 0 && !userHadEmpty) set(["hooks"], undefined);
  return out;
}

/** The `hooks` object the merge produces: each event's entries without Switchboard's, then Switchboard's. */
function semanticMerge(existing: unknown, hooks: HooksObject | undefined): Record<string, unknown> {
  const current = (existing ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const event of new Set([...Object.keys(current), ...Object.keys(hooks ?? {})])) {
    const groups = current[event];
    if (groups !== undefined && !Array.isArray(groups)) {
      out[event] = groups;
      continue;
    }
    const kept: unknown[] = [];
    for (const g of (groups as unknown[] | undefined) ?? []) {
      const list = g && typeof g === "object" && Array.isArray((g as MatcherGroup).hooks) ? (g as MatcherGroup).hooks : undefined;
      if (!list?.some(isOurs)) kept.push(g);
      else if (!list.every(isOurs)) kept.push({ ...(g as object), hooks: list.filter((h) => !isOurs(h)) });
    }
    const next = [...kept, ...(hooks?.[event] ?? [])];
    if (next.length || (Array.isArray(groups) && groups.length === 0)) out[event] = next;
  }
  return out;
}

function detectFormat(text: string): { insertSpaces: boolean; tabSize: number; eol: string } {
  const m = /\n([ \t]+)"/.exec(text);
  const indent = m?.[1] ?? "  ";
  return { insertSpaces: !indent.startsWith("\t"), tabSize: indent.startsWith("\t") ? 1 : indent.length, eol: text.includes("\r\n") ? "\r\n" : "\n" };
}

export interface InstallResult {
  file: string;
  /** The file changed (false: it already held exactly this). */
  changed: boolean;
  created: boolean;
}

/** Merges (or with `uninstall`, removes) Switchboard's hooks in `file`, writing only when something changes. */
export async function installClaudeHooks(file: string, command: string, opts: { uninstall?: boolean } = {}): Promise<InstallResult> {
  const exists = existsSync(file);
  if (!exists && opts.uninstall) return { file, changed: false, created: false };
  const before = exists ? readFileSync(file, "utf8") : "";
  const after = mergeSettingsText(before, opts.uninstall ? undefined : switchboardHooks(command), file);
  if (after === before) return { file, changed: false, created: false };
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, after.endsWith("\n") || !exists ? (after.endsWith("\n") ? after : `${after}\n`) : after);
  await rename(tmp, file);
  return { file, changed: true, created: !exists };
}
