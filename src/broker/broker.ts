// The broker's facade: wires its parts and is what the server, the desks and the daemon talk to.
// Per-pid sockets are pid-sockets.ts, the endpoints endpoint-registry.ts (decided by the pure
// lifecycle.transition), messages messages.ts (routed by the pure router.route and recipients.ts),
// queues and acks pushes.ts, the undispatched inbox inbox.ts, durability durability.ts.
import type WebSocket from "ws";
import type { DispatchResponse, EndpointView, FeedSnapshot, IngressRequest, RegisterRequest, SendRequest, SendResponse, UndispatchedItem } from "../protocol/index.js";
import { randomUUID } from "node:crypto";
import { systemClock, type Clock } from "./clock.js";
import { Durability, type Commit } from "./durability.js";
import { EndpointRegistry } from "./endpoint-registry.js";
import { Feed } from "./feed.js";
import { Inbox } from "./inbox.js";
import type { Logger } from "./log.js";
import { DEFAULT_LIMITS, type Limits } from "./limits.js";
import { Messages } from "./messages.js";
import { PidSockets } from "./pid-sockets.js";
import { Pushes } from "./pushes.js";
import type { EndpointRecord, JournalRecord, Store } from "./store.js";

export type { Commit } from "./durability.js";

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

export class Broker {
  readonly feed: Feed;
  /** Approvals and streams add their part of the observer snapshot (see daemon.ts). */
  snapshotExtras: () => Partial<Pick<FeedSnapshot, "approvals" | "streams">> = () => ({});
  /** Chunk frames from a producer's /v1/stream socket; returns a promise while the producer must wait. */
  onChunkFrame: (streamId: string, channel: number, seq: number | undefined, data: Buffer, pid: number) => Promise<void> | undefined = () => undefined;

  private readonly durability: Durability;
  private readonly sockets: PidSockets;
  private readonly pushes: Pushes;
  private readonly inbox: Inbox;
  private readonly registry: EndpointRegistry;
  private readonly messages: Messages;

  constructor(
    private readonly store: Store,
    commit: Commit,
    config: BrokerConfig,
    log: Logger,
    deps: BrokerDeps = {},
  ) {
    const clock = deps.clock ?? systemClock;
    this.feed = new Feed(() => ({
      endpoints: this.store.openEndpoints().map((e) => this.store.view(e)),
      inbox: [...this.store.inbox.values()],
      approvals: [],
      streams: [],
      ...this.snapshotExtras(),
    }));
    const feed = this.feed;
    const durability = (this.durability = new Durability(commit, log, deps.flush));
    const sockets = (this.sockets = new PidSockets(
      {
        chunk: (streamId, channel, seq, data, pid) => this.onChunkFrame(streamId, channel, seq, data, pid),
        acked: (endpointId, pushId) => this.pushes.acked(endpointId, pushId),
        replaced: (pid) => this.registry.streamReplaced(pid),
        closed: (pid) => this.registry.streamClosed(pid),
      },
      log,
    ));
    const pushes = (this.pushes = new Pushes({
      store,
      durability,
      feed,
      sockets,
      clock,
      endpointBufferMax: config.endpointBufferMax,
      dispatchAckWaitMs: config.dispatchAckWaitMs,
    }));
    const inbox = (this.inbox = new Inbox({ store, durability, feed, pushes, log, inboxMax: config.inboxMax }));
    this.registry = new EndpointRegistry({ store, durability, feed, sockets, pushes, inbox, clock, limits: deps.limits ?? DEFAULT_LIMITS, log, graceMs: config.graceMs });
    this.messages = new Messages({ store, durability, pushes, inbox });
  }

  /** Runs `hook` whenever an endpoint closes (its pending approvals are cancelled, for example). */
  onEndpointClosed(hook: (endpointId: string) => void): void {
    this.registry.onEndpointClosed(hook);
  }

  /** Runs `hook` whenever an endpoint registers. */
  onEndpointOpened(hook: (endpointId: string) => void): void {
    this.registry.onEndpointOpened(hook);
  }

  /** The open endpoint with this id, or a 404 `unknown_endpoint`. */
  requireOpenEndpoint(id: string): EndpointRecord {
    return this.registry.requireOpenEndpoint(id);
  }

  label(ep: EndpointRecord): string {
    return this.store.view(ep).label;
  }

  /** Persists a record and returns a promise for it and everything before it being durable. */
  journal(rec: JournalRecord): Promise<void> {
    return this.durability.persist(rec);
  }

  /** Resolves once everything committed so far is durable (see durability.ts). */
  whenDurable(): Promise<void> {
    return this.durability.whenDurable();
  }

  /** After a restart, every endpoint that was open waits for its owner to reattach (if the owner lives). */
  restore(): void {
    this.registry.restore();
  }

  get openEndpointCount(): number {
    return this.registry.openCount;
  }

  get streamCount(): number {
    return this.sockets.size;
  }

  openStream(pid: number, ws: WebSocket, ackMode: boolean): void {
    this.sockets.open(pid, ws, ackMode);
  }

  // ---- endpoints ----------------------------------------------------------------------------------

  register(body: RegisterRequest): Promise<{ endpoint_id: string; endpoint_owner_token: string }> {
    return this.registry.register(body);
  }

  heartbeat(id: string): void {
    this.registry.heartbeat(id);
  }

  taskHint(id: string, pid: number, hint: string): Promise<void> {
    return this.registry.taskHint(id, pid, hint);
  }

  reattach(id: string, pid: number): Promise<{ restored: true; reconnecting_buffer_count: number }> {
    return this.registry.reattach(id, pid);
  }

  /** `pid`: the caller's x-plugin-pid, if it sent one; another process's endpoint is refused. */
  unregister(id: string, pid?: number): Promise<void> {
    return this.registry.unregister(id, pid);
  }

  listEndpoints(): EndpointView[] {
    return this.registry.list();
  }

  // ---- messages and frames ------------------------------------------------------------------------

  send(body: SendRequest): Promise<SendResponse> {
    return this.messages.send(body);
  }

  ingress(body: IngressRequest): Promise<SendResponse> {
    return this.messages.ingress(body);
  }

  /** Queues an event frame for an endpoint's owner, durably, like a message (approval_resolved, …). */
  enqueueFrame(endpointId: string, frame: Record<string, unknown>): void {
    const ep = this.store.endpoints.get(endpointId);
    if (!ep || ep.state === "closed") return;
    this.pushes.enqueuePush(endpointId, { push_id: `push_${randomUUID()}`, frame });
  }

  /** Sends a frame now if the endpoint's owner is connected; not queued, not journaled (live events only). */
  sendLive(endpointId: string, frame: Record<string, unknown>): boolean {
    const ep = this.store.endpoints.get(endpointId);
    const conn = ep && this.sockets.get(ep.plugin_pid);
    if (!ep || !conn) return false;
    this.sockets.sendJson(conn.ws, { ...frame, endpoint_id: endpointId });
    return true;
  }

  // ---- inbox --------------------------------------------------------------------------------------

  listUndispatched(): UndispatchedItem[] {
    return this.inbox.list();
  }

  dispatch(undispatchedId: string, targetId: string): Promise<DispatchResponse> {
    return this.inbox.dispatch(undispatchedId, targetId);
  }

  dismiss(id: string, reason: string | undefined): Promise<void> {
    return this.inbox.dismiss(id, reason);
  }

  // ---- shutdown -----------------------------------------------------------------------------------

  stop(): void {
    this.registry.stop();
    this.sockets.stop();
    this.feed.closeAll(1001, "broker shutting down");
  }
}
