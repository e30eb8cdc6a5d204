// What the sidebar lists, derived from the state the host sends: each section's items (without
// duplicates) and their keys, in the order shown.
import type { Approval } from "../protocol/approvals.js";
import { ruleKey, type RuleView } from "../protocol/policy.js";
import type { EndpointView, UndispatchedItem } from "../protocol/schemas.js";
import type { StreamView } from "../protocol/streams.js";
import type { SidebarState, WindowMessage } from "../protocol/webview.js";
import type { SectionId } from "./vscode.js";

export interface Derived {
  approvals: Approval[];
  inbox: UndispatchedItem[];
  sessions: EndpointView[];
  streams: StreamView[];
  messages: WindowMessage[];
  /** the approval rules in force, strongest first (deny, ask, allow) */
  policy: RuleView[];
  keys: Record<SectionId, string[]>;
}

function dedupe<T>(items: readonly T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const it of items) {
    const k = key(it);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(it);
  }
  return out;
}

const STRENGTH = { deny: 0, ask: 1, allow: 2 } as const;

export function derive(s: SidebarState): Derived {
  const approvals = dedupe(
    s.approvals.filter((a) => a.state === "pending"),
    (a) => a.approval_id,
  );
  const inbox = dedupe(s.inbox, (i) => i.id);
  const sessions = dedupe(
    s.sessions.filter((e) => e.state !== "closed"),
    (e) => e.endpoint_id,
  );
  const all = dedupe(s.streams, (x) => x.stream_id);
  const streams = [...all.filter((x) => x.state === "streaming"), ...all.filter((x) => x.state !== "streaming")];
  const messages = dedupe(s.messages, (m) => m.id);
  // Built-in rules: the guards are always on and many (the section sums them up in a line); the
  // read-only set is listed when it is turned on.
  const policy = dedupe(
    (s.policy?.rules ?? []).filter((r) => r.scope !== "builtin" || (r.active && r.rule.decision === "allow")),
    ruleKey,
  ).sort((a, b) => STRENGTH[a.rule.decision] - STRENGTH[b.rule.decision]);
  return {
    approvals,
    inbox,
    sessions,
    streams,
    messages,
    policy,
    keys: {
      approvals: approvals.map((a) => a.approval_id),
      inbox: inbox.map((i) => i.id),
      sessions: sessions.map((e) => e.endpoint_id),
      streams: streams.map((x) => x.stream_id),
      messages: messages.map((m) => m.id),
      policy: policy.map(ruleKey),
    },
  };
}
