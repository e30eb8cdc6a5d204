// Builds the sidebar's full state from what the broker's observer feed says plus this window's own
// pieces (its endpoint, messages addressed to it). Pure: no vscode, no I/O.
import type { FeedModel } from "../client/index.js";
import type { Approval, ConnectionPhase, EndpointView, PolicyView, SidebarState, StreamView, WindowMessage } from "../protocol/index.js";

export interface WindowFacts {
  phase: ConnectionPhase;
  reason: string | undefined;
  brokerUrl: string | undefined;
  brokerVersion: string | undefined;
  self: { endpoint_id: string; session_name: string } | undefined;
  messages: readonly WindowMessage[];
  recentStreams: number;
  /** The broker's warnings (from /v1/initialize). */
  warnings?: readonly string[];
  /** The approval rules in force (GET /v1/policy), once fetched. */
  policy?: PolicyView | undefined;
}

export function sidebarState(feed: FeedModel | undefined, facts: WindowFacts, now = new Date()): SidebarState {
  const approvals = feed ? ([...feed.approvals.values()] as unknown as Approval[]).filter((a) => a.state === "pending") : [];
  approvals.sort((a, b) => a.created_at.localeCompare(b.created_at));
  const streams = feed ? ([...feed.streams.values()] as unknown as StreamView[]) : [];
  const running = streams.filter((s) => s.state === "streaming");
  const ended = streams
    .filter((s) => s.state !== "streaming")
    .sort((a, b) => (b.ended_at ?? "").localeCompare(a.ended_at ?? ""))
    .slice(0, facts.recentStreams);
  return {
    connection: {
      phase: facts.phase,
      reason: facts.reason ?? null,
      broker_url: facts.brokerUrl ?? null,
      broker_version: facts.brokerVersion ?? null,
    },
    self: facts.self ?? null,
    approvals,
    inbox: feed ? [...feed.inbox.values()].sort((a, b) => a.arrived_at.localeCompare(b.arrived_at)) : [],
    sessions: feed ? [...feed.endpoints.values()].sort((a, b) => a.label.localeCompare(b.label)) : [],
    streams: [...running.sort((a, b) => a.created_at.localeCompare(b.created_at)), ...ended],
    messages: [...facts.messages],
    now: now.toISOString(),
    ...(facts.warnings?.length ? { warnings: [...facts.warnings] } : {}),
    ...(facts.policy ? { policy: facts.policy } : {}),
  };
}

/** Pending approvals that were not pending in `before`: the ones to notify about. */
export function newlyPending(before: FeedModel | undefined, after: FeedModel): Approval[] {
  const out: Approval[] = [];
  for (const [id, a] of after.approvals) {
    const approval = a as unknown as Approval;
    if (approval.state !== "pending") continue;
    const prev = before?.approvals.get(id) as unknown as Approval | undefined;
    if (prev?.state !== "pending") out.push(approval);
  }
  return out;
}

/** The marker an agent adapter puts at the start of its task hint while the agent waits for its user. */
export const WAITING_HINT = "[waiting for you";

/**
 * Sessions that started waiting for their user between two feed states (the Claude Code adapter marks
 * its task hint so on Claude's Notification hook): the ones to raise a notification for.
 */
export function newlyWaiting(before: FeedModel | undefined, after: FeedModel): EndpointView[] {
  const out: EndpointView[] = [];
  for (const [id, ep] of after.endpoints) {
    if (!ep.task_hint?.startsWith(WAITING_HINT)) continue;
    const prev = before?.endpoints.get(id);
    if (!prev?.task_hint?.startsWith(WAITING_HINT) || prev.task_hint !== ep.task_hint) out.push(ep);
  }
  return out;
}
