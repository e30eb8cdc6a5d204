// The broker's durable state and the journal records that change it. `applyRecord` is the only
// writer, used both live and on replay, so that a restart rebuilds exactly what was acknowledged.
import type { Approval, EndpointState, EndpointView, UndispatchedItem, Workspace } from "../protocol/index.js";
import type { Rule } from "../protocol/policy.js";
import { takesMessages } from "../protocol/capabilities.js";

export interface StoredMessage {
  message_id: string;
  from: string;
  content: string;
  content_type: string;
  metadata: Record<string, unknown>;
  arrived_at: string;
}

/**
 * Something waiting in an endpoint's delivery queue until the owner acknowledges its push: a message
 * (pushed as `message_received`) or another event frame such as `approval_resolved`.
 */
export interface QueuedPush {
  push_id: string;
  message?: StoredMessage;
  frame?: Record<string, unknown>;
}

export interface EndpointRecord {
  endpoint_id: string;
  owner_token: string;
  plugin_pid: number;
  kind: string;
  session_name: string | null;
  workspace: Workspace | null;
  task_hint: string | null;
  agent_id: string | null;
  tracking_ref: string | null;
  runtime_capabilities: unknown;
  client_kind: string | null;
  client_version: string | null;
  state: EndpointState;
  registered_at: string;
  last_seen_at: string;
  closed_at?: string;
  close_reason?: string;
}

export type JournalRecord =
  | { t: "ep"; ep: EndpointRecord }
  | { t: "ep_forget"; id: string }
  | { t: "q_add"; ep: string; push: QueuedPush }
  | { t: "q_del"; ep: string; push_id: string }
  | { t: "in_add"; item: UndispatchedItem }
  | { t: "in_del"; id: string }
  | { t: "corr"; id: string; ep: string }
  | { t: "apr"; a: Approval }
  /** An approval's state changed (decided, expired, cancelled, linked to a stream): only what changed,
   * not its command and diff again, so that cancelling many large approvals writes little. */
  | { t: "apr_upd"; id: string; set: Partial<Pick<Approval, "state" | "decided_at" | "decision" | "reason" | "decided_by" | "stream_id" | "policy">> }
  | { t: "str"; s: StreamMeta }
  /** A session's approval rule (it ends with the session); `rule_del` removes one. */
  | { t: "rule_add"; ep: string; rule: Rule }
  | { t: "rule_del"; ep: string; id: string };

/** What the journal keeps of an output stream; the output itself lives in files (see stream-file.ts). */
export interface StreamMeta {
  stream_id: string;
  endpoint_id: string;
  producer_pid: number;
  session: string;
  action: "sh" | "env";
  command: string;
  cwd: string | null;
  approval_id: string | null;
  /** who approved that request (absent: no approval, or a stream journaled by an older broker) */
  decided_by?: string | null;
  /** stdout and stderr arrive merged on channel 1 (absent: kept apart). */
  output_merged?: boolean;
  /** false: the producer cannot stop the command, so a cancel is refused (absent: it can). */
  cancellable?: false;
  state: "streaming" | "completed" | "aborted" | "cancelled";
  status: 102 | 200 | 500 | 499;
  created_at: string;
  ended_at: string | null;
  exit_code: number | null;
  signal: string | null;
  duration_ms: number | null;
  reason: string | null;
  /** Final figures, journaled when the stream ends (live values are kept by the stream hub). */
  last_seq: number;
  channels: Record<string, { bytes: number; truncated: boolean }>;
  /** The producer's note for viewers (how the output arrives); absent when none was given. */
  note?: string;
}

export interface StoreLimits {
  /** Closed endpoints remembered for closed-session routing and `to` lookups. */
  closedEndpoints: number;
  correlations: number;
  /** Decided, expired and cancelled approvals kept for history. */
  approvalHistory: number;
  /** Ended streams kept for listing and replay. */
  endedStreams: number;
}

export const DEFAULT_STORE_LIMITS: StoreLimits = { closedEndpoints: 1000, correlations: 20_000, approvalHistory: 500, endedStreams: 200 };

export class Store {
  readonly endpoints = new Map<string, EndpointRecord>();
  /** Per endpoint, its queued pushes by push_id in queue order: adding and acknowledging are O(1). */
  readonly queues = new Map<string, Map<string, QueuedPush>>();
  readonly inbox = new Map<string, UndispatchedItem>();
  readonly correlations = new Map<string, string>();
  readonly approvals = new Map<string, Approval>();
  readonly streams = new Map<string, StreamMeta>();
  /** Session rules of the policy, by endpoint: they last as long as the session. */
  readonly sessionRules = new Map<string, Rule[]>();
  /** Closed endpoints, oldest first (a Set: O(1) to test, add and drop the oldest). */
  private readonly closedOrder = new Set<string>();
  /** Ended approvals and streams, least recently changed first: history is trimmed from the front. */
  private readonly endedApprovals = new Set<string>();
  /** Approval ids by requesting endpoint and idempotency key (keyOf): a retry is found without a scan. */
  private readonly byIdempotencyKey = new Map<string, string>();
  private readonly endedStreams = new Set<string>();

  constructor(private readonly limits: StoreLimits = DEFAULT_STORE_LIMITS) {}

  apply(rec: JournalRecord): void {
    switch (rec.t) {
      case "ep": {
        this.endpoints.set(rec.ep.endpoint_id, rec.ep);
        if (rec.ep.state === "closed") {
          this.queues.delete(rec.ep.endpoint_id);
          this.sessionRules.delete(rec.ep.endpoint_id);
          this.closedOrder.add(rec.ep.endpoint_id);
          dropOldest(this.closedOrder, this.limits.closedEndpoints, (id) => this.endpoints.delete(id));
        }
        break;
      }
      case "ep_forget":
        this.endpoints.delete(rec.id);
        this.queues.delete(rec.id);
        this.sessionRules.delete(rec.id);
        break;
      case "rule_add": {
        const ep = this.endpoints.get(rec.ep);
        if (!ep || ep.state === "closed") break;
        const rules = (this.sessionRules.get(rec.ep) ?? []).filter((r) => r.id !== rec.rule.id);
        rules.push(rec.rule);
        this.sessionRules.set(rec.ep, rules);
        break;
      }
      case "rule_del": {
        const rules = (this.sessionRules.get(rec.ep) ?? []).filter((r) => r.id !== rec.id);
        if (rules.length) this.sessionRules.set(rec.ep, rules);
        else this.sessionRules.delete(rec.ep);
        break;
      }
      case "q_add": {
        let q = this.queues.get(rec.ep);
        if (!q) this.queues.set(rec.ep, (q = new Map()));
        q.set(rec.push.push_id, rec.push);
        break;
      }
      case "q_del": {
        this.queues.get(rec.ep)?.delete(rec.push_id);
        break;
      }
      case "in_add":
        this.inbox.set(rec.item.id, rec.item);
        break;
      case "in_del":
        this.inbox.delete(rec.id);
        break;
      case "corr":
        this.correlations.set(rec.id, rec.ep);
        if (this.correlations.size > this.limits.correlations) {
          this.correlations.delete(this.correlations.keys().next().value!);
        }
        break;
      case "apr":
        // Re-insert so that map order is "last changed last"; history is trimmed oldest first.
        this.approvals.delete(rec.a.approval_id);
        this.approvals.set(rec.a.approval_id, rec.a);
        this.indexApproval(rec.a);
        if (rec.a.state !== "pending") this.ended(this.endedApprovals, rec.a.approval_id, this.approvals, this.limits.approvalHistory, (old) => this.forgetApproval(old));
        break;
      case "apr_upd": {
        const a = this.approvals.get(rec.id);
        if (a) this.apply({ t: "apr", a: { ...a, ...rec.set } });
        break;
      }
      case "str":
        this.streams.delete(rec.s.stream_id);
        this.streams.set(rec.s.stream_id, rec.s);
        if (rec.s.state !== "streaming") this.ended(this.endedStreams, rec.s.stream_id, this.streams, this.limits.endedStreams);
        break;
    }
  }

  /** The endpoint's queued pushes, oldest first. */
  queue(endpointId: string): Iterable<QueuedPush> {
    return this.queues.get(endpointId)?.values() ?? [];
  }

  queueSize(endpointId: string): number {
    return this.queues.get(endpointId)?.size ?? 0;
  }

  /** Marks `id` as the most recently ended entry of `map` and forgets the oldest beyond `keep`. */
  private ended<T>(order: Set<string>, id: string, map: Map<string, T>, keep: number, forget: (old: string) => void = (old) => map.delete(old)): void {
    order.delete(id);
    order.add(id);
    dropOldest(order, keep, forget);
  }

  private indexApproval(a: Approval): void {
    if (a.idempotency_key) this.byIdempotencyKey.set(keyOf(a.endpoint_id, a.idempotency_key), a.approval_id);
  }

  /** Drops an approval from history, and from the key index if the key still names it. */
  private forgetApproval(id: string): void {
    const a = this.approvals.get(id);
    this.approvals.delete(id);
    if (!a?.idempotency_key) return;
    const key = keyOf(a.endpoint_id, a.idempotency_key);
    if (this.byIdempotencyKey.get(key) === id) this.byIdempotencyKey.delete(key);
  }

  /** The approval this endpoint asked for with this idempotency key, if it is still kept. */
  approvalByKey(endpointId: string, idempotencyKey: string): Approval | undefined {
    const id = this.byIdempotencyKey.get(keyOf(endpointId, idempotencyKey));
    return id === undefined ? undefined : this.approvals.get(id);
  }

  /** Decided, expired and cancelled approvals (at most the history limit), least recently ended first. */
  endedApprovalList(): Approval[] {
    const out: Approval[] = [];
    for (const id of this.endedApprovals) {
      const a = this.approvals.get(id);
      if (a) out.push(a);
    }
    return out;
  }

  /** How many approvals of the index and of history are kept (for tests: both stay bounded). */
  get approvalIndexSizes(): { byIdempotencyKey: number; ended: number } {
    return { byIdempotencyKey: this.byIdempotencyKey.size, ended: this.endedApprovals.size };
  }

  /** Records that an open endpoint was just heard from. Not journaled: it is a hint, and a restart resets it anyway. */
  touch(ep: EndpointRecord, at: string): void {
    ep.last_seen_at = at;
  }

  openEndpoints(): EndpointRecord[] {
    return [...this.endpoints.values()].filter((e) => e.state !== "closed");
  }

  view(ep: EndpointRecord): EndpointView {
    return {
      endpoint_id: ep.endpoint_id,
      kind: ep.kind,
      label: ep.session_name || `${ep.kind}-${ep.plugin_pid}`,
      session_name: ep.session_name,
      workspace: ep.workspace,
      task_hint: ep.task_hint,
      state: ep.state,
      plugin_pid: ep.plugin_pid,
      agent_id: ep.agent_id,
      client_kind: ep.client_kind,
      registered_at: ep.registered_at,
      last_seen_at: ep.last_seen_at,
      buffered_count: this.queueSize(ep.endpoint_id),
      accepts_messages: takesMessages(ep.runtime_capabilities),
    };
  }

  toSnapshot(): StoreSnapshot {
    return {
      endpoints: [...this.endpoints.values()],
      queues: [...this.queues].map(([id, q]) => [id, [...q.values()]]),
      inbox: [...this.inbox.values()],
      correlations: [...this.correlations.entries()],
      closedOrder: [...this.closedOrder],
      approvals: [...this.approvals.values()],
      streams: [...this.streams.values()],
      sessionRules: [...this.sessionRules.entries()],
    };
  }

  static fromSnapshot(s: StoreSnapshot | undefined, limits?: StoreLimits): Store {
    const store = new Store(limits);
    if (!s) return store;
    for (const ep of s.endpoints) store.endpoints.set(ep.endpoint_id, ep);
    for (const [id, q] of s.queues) store.queues.set(id, new Map(q.map((p) => [p.push_id, p])));
    for (const item of s.inbox) store.inbox.set(item.id, item);
    for (const [cid, ep] of s.correlations) store.correlations.set(cid, ep);
    for (const id of s.closedOrder) store.closedOrder.add(id);
    for (const a of s.approvals ?? []) {
      store.approvals.set(a.approval_id, a);
      store.indexApproval(a);
      if (a.state !== "pending") store.endedApprovals.add(a.approval_id);
    }
    for (const x of s.streams ?? []) {
      store.streams.set(x.stream_id, x);
      if (x.state !== "streaming") store.endedStreams.add(x.stream_id);
    }
    for (const [ep, rules] of s.sessionRules ?? []) store.sessionRules.set(ep, rules);
    return store;
  }
}

export interface StoreSnapshot {
  endpoints: EndpointRecord[];
  queues: [string, QueuedPush[]][];
  inbox: UndispatchedItem[];
  correlations: [string, string][];
  closedOrder: string[];
  approvals?: Approval[];
  streams?: StreamMeta[];
  sessionRules?: [string, Rule[]][];
}

const keyOf = (endpointId: string, idempotencyKey: string) => `${endpointId}\u0000${idempotencyKey}`;

/** Drops the oldest members of an insertion-ordered set beyond `keep`, telling `drop` each one. */
function dropOldest(order: Set<string>, keep: number, drop: (id: string) => void): void {
  for (const id of order) {
    if (order.size <= keep) return;
    order.delete(id);
    drop(id);
  }
}
