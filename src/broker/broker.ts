// The broker's I/O shell: owns the store, the journal, the per-pid streams, grace timers and the feed.
// Decisions are made by the pure parts (lifecycle.transition, router.route); this file performs them.
import { randomBytes, randomUUID } from "node:crypto";
import type WebSocket from "ws";
import {
  ClientFrame,
  decodeProducerChunk,
  ProtocolError,
  Workspace,
  parseWith,
  takesMessages,
  type DeliveryStatus,
  type DispatchResponse,
  type EndpointView,
  type FeedSnapshot,
  type IngressRequest,
  type MessageReceivedFrame,
  type RegisterRequest,
  type SendRequest,
  type SendResponse,
  type UndispatchedItem,
} from "../protocol/index.js";
import { pidAlive } from "../platform/process.js";
import { systemClock, type Clock } from "./clock.js";
import { Feed } from "./feed.js";
import { transition, type EndpointEffect, type EndpointEvent } from "./lifecycle.js";
import type { Logger } from "./log.js";
import { route } from "./router.js";
import { DEFAULT_LIMITS, limitReached, type Limits } from "./limits.js";
import type { EndpointRecord, JournalRecord, QueuedPush, Store, StoredMessage } from "./store.js";

export interface BrokerConfig {
  graceMs: number;
  inboxMax: number;
  endpointBufferMax: number;
  /** How long POST /v1/dispatch waits for the target's push_ack before answering "stored". */
  dispatchAckWaitMs: number;
}

/** What the daemon (or a test) plugs in besides the store and the journal. */
export interface BrokerDeps {
  /** Timers of the reconnect grace; the system clock unless a test injects one. */
  clock?: Clock;
  /** Resolves when everything committed so far is durable (the journal's flush). */
  flush?: () => Promise<void>;
  limits?: Limits;
}

export const DEFAULT_CONFIG: BrokerConfig = {
  graceMs: 10 * 60_000,
  inboxMax: 1000,
  endpointBufferMax: 10_000,
  dispatchAckWaitMs: 2000,
};

/**
 * Persists a record (applied to the store at once) and resolves when it is durable. A `lazy` record
 * (an ack) may be lost in a crash without harm; it rides along with the next write.
 */
export type Commit = (rec: JournalRecord, lazy?: boolean) => Promise<void>;

interface Connection {
  pid: number;
  ws: WebSocket;
  ackMode: boolean;
  /** push_id -> endpoint of pushes sent on this socket and not yet acknowledged (a drain skips them). */
  sent: Map<string, string>;
}

const TASK_HINT_MAX = 200;
/** How often a reconnecting endpoint's owner pid is checked. */
const OWNER_CHECK_MS = 1000;
// Timestamps repeat within a millisecond (several per message): format each millisecond once.
let nowMs = 0;
let nowIso = "";
const now = () => {
  const ms = Date.now();
  if (ms !== nowMs) {
    nowMs = ms;
    nowIso = new Date(ms).toISOString();
  }
  return nowIso;
};
// Ids need to be unique, not secret (owner tokens and approval ids are the secrets): a random
// per-process prefix plus a counter is unique across restarts and far cheaper than random bytes per id.
const ID_PREFIX = randomBytes(9).toString("base64url");
let idCounter = 0;
const newId = (prefix: string) => `${prefix}_${ID_PREFIX}${(++idCounter).toString(36)}`;

export class Broker {
  readonly feed: Feed;
  private readonly conns = new Map<number, Connection>();
  private readonly graceTimers = new Map<string, () => void>(); // id -> cancel
  private readonly ownerWatches = new Map<string, () => void>();
  private readonly ackWaiters = new Map<string, () => void>();
  private stopping = false;
  private readonly closeHooks: ((endpointId: string) => void)[] = [];
  /** Approvals and streams add their part of the observer snapshot (see daemon.ts). */
  snapshotExtras: () => Partial<Pick<FeedSnapshot, "approvals" | "streams">> = () => ({});
  /** Chunk frames from a producer's /v1/stream socket; returns a promise while the producer must wait. */
  onChunkFrame: (streamId: string, channel: number, seq: number | undefined, data: Buffer, pid: number) => Promise<void> | undefined = () => undefined;
  lastActivity = Date.now();

  private readonly clock: Clock;
  private readonly flush: (() => Promise<void>) | undefined;
  private readonly limits: Limits;

  constructor(
    private readonly store: Store,
    private readonly commit: Commit,
    private readonly config: BrokerConfig,
    private readonly log: Logger,
    deps: BrokerDeps = {},
  ) {
    this.clock = deps.clock ?? systemClock;
    this.flush = deps.flush;
    this.limits = deps.limits ?? DEFAULT_LIMITS;
    this.feed = new Feed(() => ({
      endpoints: this.store.openEndpoints().map((e) => this.store.view(e)),
      inbox: [...this.store.inbox.values()],
      approvals: [],
      streams: [],
      ...this.snapshotExtras(),
    }));
  }

  /** Runs `hook` whenever an endpoint closes (its pending approvals are cancelled, for example). */
  onEndpointClosed(hook: (endpointId: string) => void): void {
    this.closeHooks.push(hook);
  }

  /** The open endpoint with this id, or a 404 `unknown_endpoint`. */
  requireOpenEndpoint(id: string): EndpointRecord {
    const ep = this.store.endpoints.get(id);
    if (!ep || ep.state === "closed") throw new ProtocolError("unknown_endpoint", `No open endpoint has id ${id}; register one first.`);
    return ep;
  }

  label(ep: EndpointRecord): string {
    return this.store.view(ep).label;
  }

  /** Persists a record and returns a promise for it and everything before it being durable. */
  journal(rec: JournalRecord): Promise<void> {
    return this.persist(rec);
  }

  /** Resolves once everything committed so far is durable. With `flush` it asks the journal, so that
   * a write that failed earlier and succeeded on a retry does not keep answering with its old error. */
  whenDurable(): Promise<void> {
    return this.flush ? this.flush() : this.durable;
  }

  // ---- start-up -----------------------------------------------------------------------------------

  /** After a restart, every endpoint that was open waits for its owner to reattach (if the owner lives). */
  restore(): void {
    for (const ep of this.store.openEndpoints()) this.apply(ep, { type: "restored", pidAlive: pidAlive(ep.plugin_pid) });
  }

  get openEndpointCount(): number {
    return this.store.openEndpoints().length;
  }

  get streamCount(): number {
    return this.conns.size;
  }

  // ---- streams ------------------------------------------------------------------------------------

  openStream(pid: number, ws: WebSocket, ackMode: boolean): void {
    this.lastActivity = Date.now();
    const old = this.conns.get(pid);
    const conn: Connection = { pid, ws, ackMode, sent: new Map() };
    this.conns.set(pid, conn);
    if (old) {
      // One stream per pid. Unlike MASONS, endpoints move to the new socket instead of staying bound to the dead one.
      old.ws.close(1000, "replaced");
      for (const ep of this.endpointsOf(pid)) this.apply(ep, { type: "stream_replaced" });
    }
    ws.on("message", (data, isBinary) => this.onFrame(conn, data, isBinary));
    ws.on("close", () => this.onStreamClosed(conn));
    ws.on("error", (err) => this.log.warn("stream socket error", { pid, err: String(err) }));
  }

  private onFrame(conn: Connection, data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) return this.onBinaryFrame(conn, data as Buffer); // nodebuffer: the server's binaryType
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      frame = undefined;
    }
    // The hot path: an ack is tiny and frequent, so it skips the schema machinery.
    const ack = frame as { event?: unknown; push_id?: unknown } | undefined;
    if (ack?.event === "push_ack" && typeof ack.push_id === "string" && ack.push_id.length >= 1 && ack.push_id.length <= 128) return this.onAck(conn, ack.push_id);
    const parsed = parseWith(ClientFrame, frame, "frame");
    if (!parsed.ok) {
      this.sendJson(conn.ws, { event: "error", error: "bad_frame", message: frame === undefined ? "Frames must be JSON text." : parsed.message });
      return;
    }
    const f = parsed.value;
    if (f.event === "push_ack") return this.onAck(conn, f.push_id);
    this.backpressure(conn, this.onChunkFrame(f.stream_id, f.channel, f.seq, Buffer.from(f.data, "utf8"), conn.pid));
  }

  /** Stream output as raw bytes (capability stream_frames_v1): no JSON on the hot path. */
  private onBinaryFrame(conn: Connection, data: Buffer): void {
    const chunk = decodeProducerChunk(data);
    if (typeof chunk === "string") return this.sendJson(conn.ws, { event: "error", error: "bad_frame", message: chunk });
    this.backpressure(conn, this.onChunkFrame(chunk.streamId, chunk.channel, chunk.seq, chunk.data, conn.pid));
  }

  /** Stops reading a producer's socket until its output is written. */
  private backpressure(conn: Connection, wait: Promise<void> | undefined): void {
    if (!wait) return;
    conn.ws.pause();
    void wait.finally(() => conn.ws.resume());
  }

  private onAck(conn: Connection, pushId: string): void {
    const endpointId = conn.sent.get(pushId);
    if (endpointId === undefined) return; // unknown or already acknowledged
    conn.sent.delete(pushId);
    // Lazy: losing an ack in a crash only means the push is sent again with the same push_id.
    void this.commit({ t: "q_del", ep: endpointId, push_id: pushId }, true);
    this.ackWaiters.get(pushId)?.();
  }

  private onStreamClosed(conn: Connection): void {
    if (this.conns.get(conn.pid) !== conn || this.stopping) return; // replaced, or the broker is stopping
    this.conns.delete(conn.pid);
    const alive = pidAlive(conn.pid);
    for (const ep of this.endpointsOf(conn.pid)) this.apply(ep, { type: "stream_closed", pidAlive: alive });
  }

  private endpointsOf(pid: number): EndpointRecord[] {
    return this.store.openEndpoints().filter((e) => e.plugin_pid === pid);
  }

  // ---- endpoint lifecycle ---------------------------------------------------------------------------

  /** Runs the pure transition and performs its effects. Returns the rejection, if any. */
  private apply(ep: EndpointRecord, event: EndpointEvent): Extract<EndpointEffect, { type: "reject" }> | undefined {
    const { next, effects } = transition(ep.state, event);
    let rejection: Extract<EndpointEffect, { type: "reject" }> | undefined;
    let closeReason: string | undefined;
    for (const effect of effects) {
      if (effect.type === "reject") rejection = effect;
      if (effect.type === "close") closeReason = effect.reason;
    }
    if (next !== ep.state) {
      const updated: EndpointRecord = { ...ep, state: next, last_seen_at: now() };
      if (closeReason) Object.assign(updated, { closed_at: now(), close_reason: closeReason });
      // Buffered messages of a closing endpoint are not dropped: they go to the inbox first.
      if (closeReason) this.moveQueueToInbox(ep);
      this.persist({ t: "ep", ep: updated });
      this.log.info("endpoint state", { endpoint_id: ep.endpoint_id, from: ep.state, to: next, reason: closeReason ?? event.type });
      if (closeReason) {
        this.feed.publish({ kind: "endpoint_closed", endpoint_id: ep.endpoint_id, reason: closeReason });
        for (const hook of this.closeHooks) hook(ep.endpoint_id);
      } else this.feed.publish({ kind: "endpoint_upserted", endpoint: this.store.view(updated) });
    }
    for (const effect of effects) {
      if (effect.type === "start_grace") this.startGrace(ep.endpoint_id);
      if (effect.type === "cancel_grace") this.cancelGrace(ep.endpoint_id);
      if (effect.type === "drain") this.drain(ep.endpoint_id);
    }
    return rejection;
  }

  private startGrace(id: string): void {
    this.cancelGrace(id);
    const cancel = this.clock.after(this.config.graceMs, () => {
      this.graceTimers.delete(id);
      const ep = this.store.endpoints.get(id);
      if (ep) this.apply(ep, { type: "grace_expired" });
    });
    this.graceTimers.set(id, cancel);
    // An owner that was still exiting when its stream closed (a terminal closed with SIGHUP, say) is
    // not coming back: look again every second rather than waiting out the whole grace.
    const look = () => {
      const ep = this.store.endpoints.get(id);
      if (ep?.state !== "reconnecting") return this.cancelGrace(id);
      if (!pidAlive(ep.plugin_pid)) return this.apply(ep, { type: "owner_gone" });
      this.ownerWatches.set(id, this.clock.after(OWNER_CHECK_MS, look));
    };
    this.ownerWatches.set(id, this.clock.after(OWNER_CHECK_MS, look));
  }

  private cancelGrace(id: string): void {
    this.graceTimers.get(id)?.();
    this.graceTimers.delete(id);
    this.ownerWatches.get(id)?.();
    this.ownerWatches.delete(id);
  }

  private moveQueueToInbox(ep: EndpointRecord): void {
    for (const push of this.store.queue(ep.endpoint_id)) {
      if (!push.message) continue; // event frames (approval_resolved, …) mean nothing to anyone else
      const item = this.inboxItem(push.message, "closed_session_continuation", { original_target_endpoint_id: ep.endpoint_id });
      this.persist({ t: "in_add", item });
      this.feed.publish({ kind: "inbox_added", item });
    }
  }

  /**
   * Journals a record (the store applies it at once). The journal commits in order, so the newest
   * record's promise (`durable`) resolving means every earlier record is durable too.
   */
  private persist(rec: JournalRecord): Promise<void> {
    const p = this.commit(rec);
    p.catch((err) => this.log.error("journal append failed", { err: String(err) }));
    this.durable = p;
    return p;
  }

  private durable: Promise<void> = Promise.resolve();

  register(body: RegisterRequest): Promise<{ endpoint_id: string; endpoint_owner_token: string }> {
    if (!this.conns.has(body.plugin_pid)) throw new ProtocolError("ipc_channel_missing", `Open the /v1/stream WebSocket with x-plugin-pid: ${body.plugin_pid} before registering.`);
    if (this.endpointsOf(body.plugin_pid).length >= this.limits.endpointsPerPid)
      throw limitReached("pid_endpoints_full", "endpointsPerPid", this.limits, `Process ${body.plugin_pid} already has as many open endpoints as it may; unregister some first`);
    let workspace: Workspace | null = null;
    if (body.workspace !== undefined && body.workspace !== null) {
      const ws = parseWith(Workspace, body.workspace, "workspace");
      if (!ws.ok) throw new ProtocolError("invalid_request", `workspace must be a string or {root, cwd}: ${ws.message}`);
      workspace = ws.value;
    }
    const at = now();
    const ep: EndpointRecord = {
      endpoint_id: newId("ep"),
      owner_token: randomUUID(),
      plugin_pid: body.plugin_pid,
      kind: body.kind,
      session_name: body.session_name?.trim() || null,
      workspace,
      task_hint: body.task_hint ? truncateCodePoints(body.task_hint, TASK_HINT_MAX) : null,
      agent_id: body.agent_id ?? null,
      tracking_ref: body.tracking_ref ?? null,
      runtime_capabilities: body.runtime_capabilities ?? null,
      client_kind: body.client_kind ?? null,
      client_version: body.client_version ?? null,
      state: "active",
      registered_at: at,
      last_seen_at: at,
    };
    const durable = this.persist({ t: "ep", ep });
    this.log.info("endpoint registered", { endpoint_id: ep.endpoint_id, kind: ep.kind, pid: ep.plugin_pid });
    this.feed.publish({ kind: "endpoint_upserted", endpoint: this.store.view(ep) });
    return durable.then(() => ({ endpoint_id: ep.endpoint_id, endpoint_owner_token: ep.owner_token }));
  }

  private openEndpoint(id: string): EndpointRecord {
    const ep = this.store.endpoints.get(id);
    if (!ep || ep.state === "closed") throw new ProtocolError("endpoint_unknown", `No open endpoint has id ${id}.`);
    return ep;
  }

  heartbeat(id: string): void {
    const ep = this.openEndpoint(id);
    this.store.touch(ep, now());
    this.lastActivity = Date.now();
  }

  taskHint(id: string, pid: number, hint: string): Promise<void> {
    const ep = this.openEndpoint(id);
    if (ep.plugin_pid !== pid) throw new ProtocolError("ownership_mismatch", "Only the process that registered this endpoint can set its task hint.");
    const updated = { ...ep, task_hint: truncateCodePoints(hint, TASK_HINT_MAX) || null, last_seen_at: now() };
    const durable = this.persist({ t: "ep", ep: updated });
    this.feed.publish({ kind: "endpoint_upserted", endpoint: this.store.view(updated) });
    return durable;
  }

  async reattach(id: string, pid: number): Promise<{ restored: true; reconnecting_buffer_count: number }> {
    const ep = this.openEndpoint(id);
    const wasReconnecting = ep.state === "reconnecting";
    const buffered = this.store.queueSize(id);
    const rejection = this.apply(ep, { type: "reattach", samePid: ep.plugin_pid === pid, streamOpen: this.conns.has(pid) });
    if (rejection) throw new ProtocolError(rejection.code, rejection.message);
    // A repeat (already active) writes nothing: ask the journal, not the last write's promise, which
    // may hold the error of a write that has succeeded on a retry since.
    await this.whenDurable();
    return { restored: true, reconnecting_buffer_count: wasReconnecting ? buffered : 0 };
  }

  /** `pid`: the caller's x-plugin-pid, if it sent one; another process's endpoint is refused. */
  unregister(id: string, pid?: number): Promise<void> {
    const ep = this.store.endpoints.get(id);
    if (!ep || ep.state === "closed") return Promise.resolve(); // idempotent, as in MASONS
    if (pid !== undefined && ep.plugin_pid !== pid) throw new ProtocolError("ownership_mismatch", "Only the process that registered this endpoint can unregister it.");
    this.apply(ep, { type: "unregister" });
    return this.durable;
  }

  listEndpoints(): EndpointView[] {
    return this.store.openEndpoints().map((e) => this.store.view(e));
  }

  // ---- messages -----------------------------------------------------------------------------------

  async send(body: SendRequest): Promise<SendResponse> {
    const sender = this.store.endpoints.get(body.endpoint_id);
    if (!sender || sender.state === "closed") throw new ProtocolError("unknown_endpoint", `No open endpoint has id ${body.endpoint_id}.`);
    if (sender.state !== "active") throw new ProtocolError("endpoint_not_active", "This endpoint is reconnecting; reattach it before sending.");
    const meta = { ...(body.metadata ?? {}) };
    if ("correlation_id" in meta) throw new ProtocolError("correlation_id_forbidden", "metadata.correlation_id is issued by the broker; remove it.");
    if ("target_endpoint_id" in meta) throw new ProtocolError("target_endpoint_id_forbidden", "metadata.target_endpoint_id is set by the broker from `to`; remove it.");
    if ("source_endpoint_id" in meta && meta.source_endpoint_id !== sender.endpoint_id)
      throw new ProtocolError("source_endpoint_id_mismatch", "metadata.source_endpoint_id must be the sending endpoint's id.");

    const target = this.resolveRecipient(body.to);
    this.requireTakesMessages(target);
    // A reply reuses the correlation id it answers, so the original sender can match it.
    const inReplyTo = typeof meta.in_reply_to === "string" && this.store.correlations.has(meta.in_reply_to) ? meta.in_reply_to : undefined;
    const correlationId = inReplyTo ?? randomUUID();
    meta.correlation_id = correlationId;
    meta.source_endpoint_id = sender.endpoint_id;
    meta.source_session = this.store.view(sender).label;
    meta.require_live = body.require_live ?? false;
    meta.target_endpoint_id = target; // a closed target makes the router file it as a continuation
    if (!inReplyTo) this.persist({ t: "corr", id: correlationId, ep: sender.endpoint_id });
    this.store.touch(sender, now());

    const msg = this.message(this.store.view(sender).label, body.content, body.contentType, meta);
    const res = await this.accept(msg);
    return { ...res, correlation_id: correlationId };
  }

  ingress(body: IngressRequest): Promise<SendResponse> {
    const meta = { ...(body.metadata ?? {}) };
    if (body.to) meta.target_endpoint_id = this.resolveRecipient(body.to);
    if (typeof meta.target_endpoint_id === "string") this.requireTakesMessages(meta.target_endpoint_id);
    return this.accept(this.message(body.from, body.content, body.contentType, meta));
  }

  /**
   * An open endpoint that registered with `runtime_capabilities.messages_v1: false` (e.g. `switchboard
   * run`) never reads a message: refuse rather than queue one nobody will take.
   */
  private requireTakesMessages(endpointId: string): void {
    const ep = this.store.endpoints.get(endpointId);
    if (!ep || ep.state === "closed" || takesMessages(ep.runtime_capabilities)) return;
    const label = this.store.view(ep).label;
    throw new ProtocolError("recipient_takes_no_messages", `Session "${label}" (${ep.kind}) takes no messages; send or route it to another session.`, {
      endpoint_id: ep.endpoint_id,
    });
  }

  /** `to` is an endpoint id or a session name. Open endpoints win; a closed one means a continuation. */
  private resolveRecipient(to: string): string {
    const byId = this.store.endpoints.get(to);
    if (byId) return byId.endpoint_id;
    const open = this.store.openEndpoints().filter((e) => e.session_name === to || this.store.view(e).label === to);
    if (open.length === 1) return open[0]!.endpoint_id;
    if (open.length > 1)
      throw new ProtocolError("recipient_ambiguous", `${open.length} open sessions are named "${to}"; send to one of their endpoint ids instead.`, {
        candidates: open.map((e) => e.endpoint_id),
      });
    const closed = [...this.store.endpoints.values()].reverse().find((e) => e.session_name === to);
    if (closed) return closed.endpoint_id;
    throw new ProtocolError("recipient_unknown", `No session is named "${to}" and no endpoint has that id; list them with GET /v1/endpoints.`);
  }

  private message(from: string, content: string, contentType: string | undefined, metadata: Record<string, unknown>): StoredMessage {
    return { message_id: newId("msg"), from, content, content_type: contentType ?? "text", metadata, arrived_at: now() };
  }

  /** Routes one accepted message, persists where it went, pushes it if possible; resolves once durable. */
  private async accept(msg: StoredMessage): Promise<SendResponse> {
    this.lastActivity = Date.now();
    const decision = route(msg.metadata, {
      endpointState: (id) => this.store.endpoints.get(id)?.state,
      correlationOwner: (cid) => this.store.correlations.get(cid),
      takesMessages: (id) => takesMessages(this.store.endpoints.get(id)?.runtime_capabilities),
    });
    if (decision.to === "endpoint") {
      // MASONS clients only see metadata (not our frame's endpoint_id), so name the target there too.
      msg.metadata.target_endpoint_id = decision.endpointId;
      const status = this.enqueue(decision.endpointId, msg);
      await this.durable;
      return { messageId: msg.message_id, status, target_endpoint_id: decision.endpointId };
    }
    if (this.store.inbox.size >= this.config.inboxMax)
      throw new ProtocolError("inbox_full", `The undispatched inbox is full (${this.config.inboxMax} items); route or dismiss items (switchboard inbox) and try again.`, {
        retryable: true,
      });
    const item = this.inboxItem(msg, decision.reason, {
      ...(decision.originalTargetEndpointId ? { original_target_endpoint_id: decision.originalTargetEndpointId } : {}),
      ...(decision.originalCorrelationId ? { original_correlation_id: decision.originalCorrelationId } : {}),
    });
    const durable = this.persist({ t: "in_add", item });
    this.feed.publish({ kind: "inbox_added", item });
    await durable;
    return { messageId: msg.message_id, status: "undispatched", undispatched_id: item.id };
  }

  /** Queues an event frame for an endpoint's owner, durably, like a message (approval_resolved, …). */
  enqueueFrame(endpointId: string, frame: Record<string, unknown>): void {
    const ep = this.store.endpoints.get(endpointId);
    if (!ep || ep.state === "closed") return;
    this.enqueuePush(endpointId, { push_id: `push_${randomUUID()}`, frame });
  }

  /** Sends a frame now if the endpoint's owner is connected; not queued, not journaled (live events only). */
  sendLive(endpointId: string, frame: Record<string, unknown>): boolean {
    const ep = this.store.endpoints.get(endpointId);
    const conn = ep && this.conns.get(ep.plugin_pid);
    if (!ep || !conn) return false;
    this.sendJson(conn.ws, { ...frame, endpoint_id: endpointId });
    return true;
  }

  /** Adds a message to an endpoint's queue (journaled) and pushes it when the endpoint is active. */
  private enqueue(endpointId: string, msg: StoredMessage, pushId = `push_${randomUUID()}`): DeliveryStatus {
    return this.enqueuePush(endpointId, { push_id: pushId, message: msg });
  }

  private enqueuePush(endpointId: string, push: QueuedPush): DeliveryStatus {
    if (this.store.queueSize(endpointId) >= this.config.endpointBufferMax)
      throw new ProtocolError("endpoint_buffer_full", `Endpoint ${endpointId} already holds ${this.config.endpointBufferMax} undelivered messages; try again later.`, {
        retryable: true,
      });
    this.persist({ t: "q_add", ep: endpointId, push });
    const ep = this.store.endpoints.get(endpointId)!;
    // Push before the fsync completes: delivery early is harmless, and an acknowledgement to the sender still waits for it.
    if (ep.state === "active" && this.pushOne(ep, push)) return "delivered";
    this.feed.publish({ kind: "endpoint_upserted", endpoint: this.store.view(ep) });
    return "stored";
  }

  private drain(endpointId: string): void {
    const ep = this.store.endpoints.get(endpointId);
    if (!ep) return;
    for (const push of [...this.store.queue(endpointId)]) this.pushOne(ep, push);
  }

  /** Sends one push on the owner's stream. Without push_receipt_ack_v1 a written frame counts as delivered. */
  private pushOne(ep: EndpointRecord, push: QueuedPush): boolean {
    const conn = this.conns.get(ep.plugin_pid);
    if (!conn || conn.ws.readyState !== conn.ws.OPEN) return false;
    if (conn.sent.has(push.push_id)) return true;
    const m = push.message;
    const frame: MessageReceivedFrame | Record<string, unknown> = m
      ? {
          event: "message_received",
          endpoint_id: ep.endpoint_id,
          from: m.from,
          content: m.content,
          contentType: m.content_type,
          metadata: m.metadata,
          sourceMessageId: m.message_id,
          ...(conn.ackMode ? { push_id: push.push_id } : {}),
        }
      : { ...push.frame, endpoint_id: ep.endpoint_id, ...(conn.ackMode ? { push_id: push.push_id } : {}) };
    conn.sent.set(push.push_id, ep.endpoint_id);
    this.cork(conn);
    conn.ws.send(JSON.stringify(frame), (err) => {
      if (err) {
        conn.sent.delete(push.push_id);
        return;
      }
      if (!conn.ackMode) {
        conn.sent.delete(push.push_id);
        void this.commit({ t: "q_del", ep: ep.endpoint_id, push_id: push.push_id }, true);
        this.ackWaiters.get(push.push_id)?.();
      }
    });
    return true;
  }

  /**
   * Holds a socket's writes until the event loop has handled this round of I/O, so that pushes
   * produced together leave in one write instead of one system call each.
   */
  private cork(conn: Connection): void {
    const socket = (conn.ws as unknown as { _socket?: import("node:net").Socket })._socket;
    if (!socket || this.corked.has(socket)) return;
    socket.cork();
    this.corked.add(socket);
    setImmediate(() => {
      this.corked.delete(socket);
      socket.uncork();
    });
  }

  private readonly corked = new Set<import("node:net").Socket>();

  // ---- inbox --------------------------------------------------------------------------------------

  private inboxItem(msg: StoredMessage, reason: UndispatchedItem["reason"], extra: Partial<UndispatchedItem>): UndispatchedItem {
    return {
      id: msg.message_id,
      source_message_id: msg.message_id,
      arrived_at: msg.arrived_at,
      sender_address: msg.from,
      content: msg.content,
      content_type: msg.content_type,
      metadata: msg.metadata,
      reason,
      claim_policy: "owner_select_required",
      ...extra,
    };
  }

  listUndispatched(): UndispatchedItem[] {
    return [...this.store.inbox.values()];
  }

  async dispatch(undispatchedId: string, targetId: string): Promise<DispatchResponse> {
    const item = this.store.inbox.get(undispatchedId);
    if (!item) throw new ProtocolError("dispatch_failed", `unknown undispatched_id: ${undispatchedId}`);
    const target = this.store.endpoints.get(targetId);
    if (!target || target.state === "closed") throw new ProtocolError("dispatch_failed", `target endpoint not found: ${targetId}`);
    this.requireTakesMessages(targetId); // the item stays in the inbox
    const msg: StoredMessage = {
      message_id: item.source_message_id,
      from: item.sender_address,
      content: item.content,
      content_type: item.content_type,
      metadata: { ...item.metadata, target_endpoint_id: targetId, dispatched_from: item.id },
      arrived_at: item.arrived_at,
    };
    // Enqueue first (it may refuse a full buffer), then take the item out of the inbox: a crash in
    // between can at worst leave a copy in both places, never in neither.
    const pushId = `push_${randomUUID()}`;
    const status = this.enqueue(targetId, msg, pushId);
    const acked = status === "delivered" ? this.waitForAck(pushId) : Promise.resolve(false);
    this.persist({ t: "in_del", id: item.id });
    this.feed.publish({ kind: "inbox_removed", id: item.id, reason: "dispatched", target_endpoint_id: targetId });
    this.log.info("dispatched", { id: item.id, target: targetId });
    await this.durable;
    return { ok: true, status: (await acked) ? "delivered" : "stored", target_endpoint_id: targetId };
  }

  private waitForAck(pushId: string): Promise<boolean> {
    return new Promise((resolve) => {
      const cancel = this.clock.after(this.config.dispatchAckWaitMs, () => {
        this.ackWaiters.delete(pushId);
        resolve(false);
      });
      this.ackWaiters.set(pushId, () => {
        cancel();
        this.ackWaiters.delete(pushId);
        resolve(true);
      });
    });
  }

  dismiss(id: string, reason: string | undefined): Promise<void> {
    if (!this.store.inbox.has(id)) throw new ProtocolError("undispatched_unknown", `No inbox item has id ${id}.`);
    const durable = this.persist({ t: "in_del", id });
    this.feed.publish({ kind: "inbox_removed", id, reason: "dismissed", ...(reason ? { note: reason } : {}) });
    this.log.info("dismissed", { id, reason });
    return durable;
  }

  // ---- shutdown -----------------------------------------------------------------------------------

  stop(): void {
    this.stopping = true;
    for (const id of [...this.graceTimers.keys()]) this.cancelGrace(id);
    for (const conn of this.conns.values()) {
      this.sendJson(conn.ws, { event: "presence_changed", presence: "offline", reason: "broker_shutdown" });
      conn.ws.close(1001, "broker shutting down");
    }
    this.feed.closeAll(1001, "broker shutting down");
  }

  private sendJson(ws: WebSocket, value: unknown): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(value));
  }
}

function truncateCodePoints(text: string, max: number): string {
  const cps = Array.from(text);
  return cps.length > max ? cps.slice(0, max).join("") : text;
}
