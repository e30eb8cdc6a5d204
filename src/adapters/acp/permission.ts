// What the reviewer sees for an ACP `session/request_permission`, and which of the agent's options a
// decision selects. Pure.
//
// - kind `execute`: the command (rawInput.command as a string, or an argv; else the title) asked as
//   `env` or `sh` by the shared classifier.
// - a diff in the content (or kind `edit`): `edit`, with a unified diff built from the diff items.
// - anything else: `tool`, with the title and the raw input.
//
// Options are chosen by their `kind`, never by id (ids differ per agent). An approval selects
// `allow_once`; a rejection `reject_once` (else `reject_always`); nothing is ever mapped onto an
// option that grants more than the reviewer approved, and a decision that cannot be mapped is sent
// as a rejection or as `cancelled`, never as an approval.
// `allow_always` is never selected: the agent would stop asking, and Switchboard's one policy would
// stop seeing those requests. The card's "Allow for this session" keeps "always" as a Switchboard
// session rule instead (docs/protocol.md, section 11).
import type { PermissionOption, RequestPermissionOutcome, ToolCallContent, ToolCallUpdate } from "@agentclientprotocol/sdk";
import { isAbsolute, relative } from "node:path";
import { shellQuote } from "../../exec/index.js";
import { unifiedDiff } from "../shared/diff.js";
import { LIMITS, clip, commandRequest, type GateRequest, oneLine } from "../shared/requests.js";

/** An ACP agent's request is the shared GateRequest (its `alwaysOffered` is answered `allow_once` all the same: see permissionOutcome). */
export type AcpGateRequest = GateRequest;

const SHELLS = /(^|\/)(ba|z|da|k)?sh$/;

/**
 * The command line of an `execute` tool call. codex-acp sends an argv (`["/bin/bash","-lc","…"]`),
 * claude-agent-acp and opencode a string, gemini only the title.
 */
export function commandOf(call: ToolCallUpdate): string | undefined {
  const raw = call.rawInput as Record<string, unknown> | null | undefined;
  const cmd = raw && typeof raw === "object" ? (raw.command ?? raw.cmd) : undefined;
  if (typeof cmd === "string" && cmd.trim()) return cmd;
  if (Array.isArray(cmd) && cmd.length && cmd.every((a) => typeof a === "string")) {
    const argv = cmd as string[];
    // `sh -c CMD` / `bash -lc CMD`: the reviewer judges CMD, which is what runs.
    if (argv.length === 3 && SHELLS.test(argv[0]!) && /^-l?c$/.test(argv[1]!)) return argv[2]!;
    return argv.map(shellQuote).join(" ");
  }
  return call.title?.trim() ? call.title : undefined;
}

function label(path: string, cwd: string): string {
  if (!isAbsolute(path)) return path;
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

type DiffItem = Extract<ToolCallContent, { type: "diff" }>;

export function diffsOf(call: ToolCallUpdate): DiffItem[] {
  return (call.content ?? []).filter((c): c is DiffItem => c?.type === "diff" && typeof c.path === "string" && typeof c.newText === "string");
}

/** A unified diff for the diff items (a null/absent oldText is a new file). */
export function diffText(items: DiffItem[], cwd: string): string {
  const budget = LIMITS.diff - 1024;
  let out = "";
  for (const d of items) {
    const name = label(d.path, cwd);
    const created = d.oldText === null || d.oldText === undefined;
    const part = unifiedDiff(created ? "" : d.oldText!, d.newText, created ? "/dev/null" : `a/${name}`, `b/${name}`, { maxBytes: Math.max(1024, budget - out.length) });
    out += part;
  }
  return out;
}

function rawInputText(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  try {
    return JSON.stringify(raw, null, 2);
  } catch {
    return String(raw);
  }
}

function contentText(call: ToolCallUpdate): string {
  return (call.content ?? [])
    .map((c) => (c?.type === "content" && c.content?.type === "text" ? c.content.text : ""))
    .filter(Boolean)
    .join("\n");
}

/** The approval request for a permission request's tool call (merged with what earlier updates said). */
export function approvalRequestFor(call: ToolCallUpdate, cwd: string, agentName: string): AcpGateRequest {
  const diffs = diffsOf(call);
  const title = call.title?.trim() || "(untitled tool call)";
  if (call.kind === "execute") {
    const note = contentText(call);
    return commandRequest(commandOf(call) ?? "", cwd, note ? [`${agentName} says: ${note}`] : []);
  }
  if (diffs.length || call.kind === "edit") {
    const names = diffs.map((d) => label(d.path, cwd));
    const summary = diffs.length ? `${diffs.some((d) => d.oldText === null || d.oldText === undefined) && diffs.length === 1 ? "create" : "edit"} ${names.join(", ")}` : title;
    const raw = rawInputText(call.rawInput);
    return {
      action: "edit",
      summary: clip(oneLine(summary), LIMITS.summary),
      cwd,
      detail: clip([`${agentName}: ${title}`, ...(diffs.length ? [] : ["No diff: the agent sent none."]), ...(raw ? [raw] : [])].join("\n"), LIMITS.detail, "detail"),
      ...(diffs.length ? { diff: diffText(diffs, cwd) } : {}),
    };
  }
  const raw = rawInputText(call.rawInput);
  const note = contentText(call);
  return {
    action: "tool",
    summary: clip(oneLine(title), LIMITS.summary),
    cwd,
    detail: clip([`${agentName} tool call (${call.kind ?? "other"}): ${title}`, ...(note ? [note] : []), ...(raw ? [raw] : [])].join("\n"), LIMITS.detail, "detail"),
  };
}

export type Verdict = { decision: "approve" } | { decision: "reject"; reason?: string | undefined } | { decision: "cancelled" };

/**
 * The answer to send for a verdict. An approval that has no `allow_once` to select is sent as a
 * rejection (the only allow left would grant more), with a reason saying so.
 */
export function permissionOutcome(options: readonly PermissionOption[], verdict: Verdict): { outcome: RequestPermissionOutcome; note?: string } {
  const byKind = (kind: PermissionOption["kind"]) => options.find((o) => o.kind === kind);
  if (verdict.decision === "approve") {
    const allow = byKind("allow_once");
    if (allow) return { outcome: { outcome: "selected", optionId: allow.optionId } };
    return rejectWith(options, "Approved in Switchboard, but the agent offered no allow-once option; not granted.");
  }
  if (verdict.decision === "reject") return rejectWith(options, verdict.reason);
  return { outcome: { outcome: "cancelled" } };
}

function rejectWith(options: readonly PermissionOption[], reason: string | undefined): { outcome: RequestPermissionOutcome; note?: string } {
  const reject = options.find((o) => o.kind === "reject_once") ?? options.find((o) => o.kind === "reject_always");
  const meta = reason ? { _meta: { switchboard: { reason } } } : {};
  if (reject) return { outcome: { outcome: "selected", optionId: reject.optionId, ...meta }, ...(reason ? { note: reason } : {}) };
  // No reject option at all: cancelling the request is the only answer that grants nothing.
  return { outcome: { outcome: "cancelled" }, ...(reason ? { note: reason } : {}) };
}

/** Fills what a permission request's tool call leaves out from what earlier updates said. */
export function mergeToolCall(known: ToolCallUpdate | undefined, update: ToolCallUpdate): ToolCallUpdate {
  if (!known) return { ...update };
  const merged: ToolCallUpdate = { ...known };
  for (const [k, v] of Object.entries(update)) if (v !== undefined && v !== null) (merged as Record<string, unknown>)[k] = v;
  // An empty rawInput ({}) says nothing new.
  if (update.rawInput && typeof update.rawInput === "object" && !Object.keys(update.rawInput).length && known.rawInput) merged.rawInput = known.rawInput;
  return merged;
}
