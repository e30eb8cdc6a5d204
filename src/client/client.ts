// BrokerClient: the one library through which the extension, the CLI and agent adapters talk to a
// broker (ours, or a MASONS runtime broker with the Switchboard capabilities absent).
//
// The connection phases are decided by the pure machine in connection-state.ts; this class performs
// its effects: discovery, /v1/initialize, the /v1/stream WebSocket, reattaching endpoints, timers.
// Pushes are delivered to `message` listeners once (deduplicated by push_id and sourceMessageId) and
// acknowledged only after the listeners returned.
import { EventEmitter } from "node:events";
import * as v from "valibot";
import WebSocket from "ws";
import {
  MessageReceivedFrame,
  PROTOCOL_MAJOR,
  PROTOCOL_VERSION,
  PUSH_RECEIPT_ACK,
  PresenceChangedFrame,
  SOCKETS,
  describeIssues,
  protocolMajor,
  type DiscoveryRecord,
  type EndpointView,
  type HealthResponse,
  type IngressRequest,
  type InitializeResponse,
  type RegisterRequest,
  type Schema,
  type SendRequest,
  type UndispatchedItem,
} from "../protocol/index.js";
import { probeHealth } from "../platform/discovery.js";
import { wsTransport } from "../platform/transport.js";
import { BrokerApi } from "./api.js";
import { CapabilityMissingError, ClientClosedError, NotConnectedError, ProtocolMismatchError } from "./client-errors.js";
import {
  snapshotOf,
  type BrokerClientEvents,
  type BrokerClientOptions,
  type CachedEndpoint,
  type ClientIdentity,
  type ConnectionChange,
  type EndpointRegistration,
  type RegisteredEndpoint,
  type ServerInfo,
} from "./client-types.js";
import { DEFAULT_BACKOFF, INITIAL_STATE, transition, type ConnEffect, type ConnEvent, type ConnState, type MachineOptions, type PublicPhase } from "./connection-state.js";
import { discover, readRecorded, type Discovered } from "./discover.js";
import { BrokerError, BrokerUnreachableError, DiscoveryError } from "./errors.js";
import type { FeedModel, FeedRecord } from "./feed-model.js";
import { ObserverFeed } from "./observer-feed.js";
import { PushDedup } from "./push-dedup.js";
import { reattachStep } from "./reattach-policy.js";
import { SocketCloser, rawToString, zeroMask } from "./sockets.js";
import { acquireStreamGuard, releaseStreamGuard } from "./stream-guard.js";

// The public types live in client-types.ts; importers of this module get them from here too.
export type * from "./client-types.js";

const STREAM_CAPABILITIES = PUSH_RECEIPT_ACK;

export class BrokerClient extends EventEmitter<BrokerClientEvents> {
  private readonly opts: BrokerClientOptions;
  private readonly machine: MachineOptions;
  private state: ConnState = INITIAL_STATE;
  private readonly queue: ConnEvent[] = [];
  private dispatching = false;

  private pid: number;
  private clientKind: string | undefined;
  private clientVersion: string | undefined;

  private discovered: Discovered | undefined;
  private api: BrokerApi | undefined;
  private init: InitializeResponse | undefined;
  private caps: Record<string, boolean> = {};
  private presence: "online" | "reconnecting" | "offline" | undefined;
  private lastError: Error | undefined;

  private ws: WebSocket | undefined;
  private readonly cache = new Map<string, CachedEndpoint>();
  private readonly aliases = new Map<string, string>();
  private readonly pushes: PushDedup;
  /** push ids of messages the application has not acknowledged yet (manualMessageAck). */
  private readonly heldAcks = new Set<string>();

  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly delays = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private readonly waiters = new Set<{ resolve: () => void; reject: (err: Error) => void; timer?: NodeJS.Timeout }>();
  private readonly sockets = new SocketCloser();
  private readonly inflight = new Set<Promise<void>>();
  private guardKey: string | undefined;
  private closing: Promise<void> | undefined;

  private readonly observer: ObserverFeed;

  constructor(opts: BrokerClientOptions) {
    super();
    this.opts = opts;
    this.pid = opts.pluginPid ?? process.pid;
    this.clientKind = opts.clientKind;
    this.clientVersion = opts.clientVersion;
    this.machine = {
      backoff: { ...DEFAULT_BACKOFF, ...opts.reconnect },
      random: opts.random ?? Math.random,
      ...(opts.reconnect?.maxAttempts !== undefined ? { maxAttempts: opts.reconnect.maxAttempts } : {}),
    };
    this.pushes = new PushDedup(2 * (opts.dedupeCapacity ?? 10_000));
    this.observer = new ObserverFeed(
      {
        target: () => (this.state.phase === "connected" && this.discovered && this.hasCapability("observer_feed_v1") ? this.discovered.record : undefined),
        closed: () => this.state.phase === "closed",
        backoff: { ...this.machine.backoff, random: this.machine.random },
        onEvent: (frame) => this.emit("feed", frame),
        fullApproval: async (id) => {
          if (!this.api) throw new NotConnectedError(this.state.phase, "not connected");
          return (await this.api.approval(id)) as unknown as FeedRecord;
        },
        onText: () => this.emit("feedText"),
        report: (err) => this.report(err),
        closeSocket: (ws) => this.closeSocket(ws),
      },
      opts.observe ?? false,
    );
    for (const ep of opts.endpoints ?? []) this.cache.set(ep.endpointId, { ...ep, registration: { ...ep.registration }, attachedGen: -1 });
  }

  /** Discovers (or spawns) the broker and connects. On failure nothing is left running. */
  static async create(opts: BrokerClientOptions & ClientIdentity): Promise<BrokerClient> {
    const client = new BrokerClient(opts);
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.close({ unregister: false });
      throw err;
    }
  }

  // ---- connection ----------------------------------------------------------------------------------

  /**
   * /v1/initialize, then the /v1/stream WebSocket (push_receipt_ack_v1), then reattach of any adopted
   * endpoints. Rejects with the cause (DiscoveryError, ProtocolMismatchError, BrokerError, …) if the
   * first attempt fails; after that the client reconnects by itself until close().
   */
  async connect(identity: Partial<ClientIdentity> = {}): Promise<ServerInfo> {
    if (identity.pluginPid !== undefined) this.pid = identity.pluginPid;
    if (identity.clientKind !== undefined) this.clientKind = identity.clientKind;
    if (identity.clientVersion !== undefined) this.clientVersion = identity.clientVersion;
    if (!this.clientKind) throw new TypeError("BrokerClient.connect needs a clientKind.");
    if (!(Number.isInteger(this.pid) && this.pid > 0)) throw new TypeError(`pluginPid must be a positive integer, not ${this.pid}.`);
    const phase = this.state.phase;
    if (phase === "closed" || this.closing) throw new ClientClosedError();
    if (phase === "connected") return this.serverInfo;
    if (phase === "idle" || phase === "disconnected") {
      this.acquireStreamGuard();
      const connected = this.waitFor(undefined);
      this.lastError = undefined;
      this.fire({ type: "connect_requested" });
      await connected;
    } else {
      await this.waitFor(undefined);
    }
    return this.serverInfo;
  }

  /** Resolves when connected; rejects if the client is closed, gives up, or `timeoutMs` passes. */
  whenConnected(timeoutMs?: number): Promise<void> {
    if (this.state.phase === "connected") return Promise.resolve();
    if (this.state.phase === "closed") return Promise.reject(new ClientClosedError());
    if (this.state.phase === "idle" || this.state.phase === "disconnected") return Promise.reject(new NotConnectedError(this.state.phase, this.state.lastFailure));
    return this.waitFor(timeoutMs);
  }

  get phase(): PublicPhase | "idle" {
    return this.state.phase;
  }

  get lastFailure(): string | undefined {
    return this.state.lastFailure;
  }

  get pluginPid(): number {
    return this.pid;
  }

  get serverInfo(): ServerInfo {
    const init = this.init;
    if (!init || !this.api) throw new NotConnectedError(this.state.phase, "no broker has answered /v1/initialize yet");
    return {
      brokerUrl: this.api.baseUrl,
      serverVersion: init.server_version,
      serverProtocolVersion: init.server_protocol_version,
      capabilities: { ...this.caps },
      sessionId: init.session_id,
      feedEpoch: typeof init.feed_epoch === "string" ? init.feed_epoch : undefined,
      spawned: this.discovered?.spawned ?? false,
      warnings: (init.warnings ?? []).map((w) => ({ code: w.code, message: w.message })),
    };
  }

  /** Server capabilities from /v1/initialize, minus `disableCapabilities`. */
  get capabilities(): Readonly<Record<string, boolean>> {
    return { ...this.caps };
  }

  hasCapability(name: string): boolean {
    return this.caps[name] === true;
  }

  /** Throws CapabilityMissingError naming the capability if the broker does not offer it. */
  requireCapability(name: string, what: string): void {
    if (!this.hasCapability(name)) throw new CapabilityMissingError(name, what, this.api?.baseUrl);
  }

  get discovery(): Discovered | undefined {
    return this.discovered;
  }

  get networkPresence(): "online" | "reconnecting" | "offline" | undefined {
    return this.presence;
  }

  /** Endpoints this client owns (current ids), with what it needs to re-register or adopt them. */
  get endpoints(): RegisteredEndpoint[] {
    return [...this.cache.values()].map(snapshotOf);
  }

  /** The current id of an endpoint, following re-registrations. */
  resolveEndpointId(id: string): string {
    let current = id;
    for (let i = 0; i < 100 && this.aliases.has(current); i++) current = this.aliases.get(current)!;
    return current;
  }

  /** The observer feed's current state (after the last snapshot and changes), if observing. */
  get feed(): FeedModel | undefined {
    return this.observer.model;
  }

  /**
   * Unregisters this client's endpoints (unless `unregister: false`: they stay reconnecting on the
   * broker for its grace period, and `endpoints` can be passed to a new client of the same pid), closes
   * the stream and the feed, and stops every timer.
   */
  close(opts: { unregister?: boolean } = {}): Promise<void> {
    return (this.closing ??= this.shutdown(opts.unregister ?? true));
  }

  // ---- typed calls -----------------------------------------------------------------------------------

  async registerEndpoint(registration: EndpointRegistration): Promise<RegisteredEndpoint> {
    for (let tries = 0; ; tries++) {
      const api = await this.ready("registerEndpoint");
      const gen = this.state.gen;
      try {
        const res = await api.register(this.registerBody(registration));
        const ep: CachedEndpoint = { endpointId: res.endpoint_id, ownerToken: res.endpoint_owner_token, registration: { ...registration }, attachedGen: gen };
        this.cache.set(ep.endpointId, ep);
        // Registered on a stream that has since been replaced: attach it to the current one.
        if (this.state.gen !== gen && this.state.phase === "connected") this.background(this.reattachOne(ep, this.state.gen));
        return snapshotOf(ep);
      } catch (err) {
        // The stream dropped under us; wait for the reconnect and try again.
        if (tries < 3 && err instanceof BrokerError && err.code === "ipc_channel_missing") {
          await this.delay(50);
          continue;
        }
        throw err;
      }
    }
  }

  async unregisterEndpoint(endpointId: string): Promise<void> {
    const id = this.resolveEndpointId(endpointId);
    const api = await this.ready("unregisterEndpoint");
    await api.unregister(id, this.pid);
    this.forget(id);
  }

  /** Heartbeats are sent automatically every heartbeatMs; this sends one now. */
  async heartbeat(endpointId: string): Promise<void> {
    const api = await this.ready("heartbeat");
    await api.heartbeat(this.resolveEndpointId(endpointId));
  }

  async setTaskHint(endpointId: string, taskHint: string): Promise<void> {
    const id = this.resolveEndpointId(endpointId);
    const api = await this.ready("setTaskHint");
    await api.taskHint(id, this.pid, taskHint);
    const ep = this.cache.get(id);
    if (ep) ep.registration = { ...ep.registration, task_hint: taskHint }; // a re-registration carries it
  }

  async send(req: SendRequest) {
    const api = await this.ready("send");
    return api.send({ ...req, endpoint_id: this.resolveEndpointId(req.endpoint_id) });
  }

  /** Message ingress (POST /v1/messages) for producers without an endpoint. */
  async ingress(req: IngressRequest) {
    const api = await this.ready("ingress");
    this.requireCapability("message_ingress_v1", "Message ingress");
    return api.ingress(req.to ? { ...req, to: this.resolveEndpointId(req.to) } : req);
  }

  async undispatched(opts: { endpointId?: string } = {}): Promise<UndispatchedItem[]> {
    const api = await this.ready("undispatched");
    return api.undispatched(this.pid, opts.endpointId ? this.resolveEndpointId(opts.endpointId) : undefined);
  }

  /** Routes an inbox item to an endpoint. On a MASONS broker the target must be background-exchange capable. */
  async dispatch(undispatchedId: string, targetEndpointId: string) {
    const api = await this.ready("dispatch");
    return api.dispatch(undispatchedId, this.resolveEndpointId(targetEndpointId));
  }

  async dismiss(undispatchedId: string, reason?: string): Promise<void> {
    const api = await this.ready("dismiss");
    this.requireCapability("undispatched_dismiss_v1", "Dismissing an inbox item");
    await api.dismiss(undispatchedId, reason);
  }

  async listEndpoints(): Promise<EndpointView[]> {
    const api = await this.ready("listEndpoints");
    this.requireCapability("endpoint_list_v1", "Listing endpoints");
    return api.endpoints();
  }

  async health(): Promise<HealthResponse> {
    const api = await this.ready("health");
    return api.health();
  }

  /**
   * The typed HTTP API of the broker the client is connected to (waiting while it reconnects), for the
   * routes added by capability: `(await client.brokerApi("approvals_v1")).approvals()`,
   * `(await client.brokerApi("output_streams_v1")).streams()`. Take it per call: after a broker
   * restart it is another object (new port and token).
   */
  async brokerApi(capability?: string): Promise<BrokerApi> {
    const api = await this.ready(capability ?? "brokerApi");
    if (capability) this.requireCapability(capability, `The ${capability.replace(/_v\d+$/, "").replace(/_/g, " ")} routes`);
    return api;
  }

  /** Any other route, by path, gated by the capability that announces it. */
  async call<S extends Schema>(
    method: string,
    path: string,
    schema: S,
    opts: { body?: unknown; capability?: string; headers?: Record<string, string> } = {},
  ): Promise<v.InferOutput<S>> {
    const api = await this.ready(`${method} ${path}`);
    if (opts.capability) this.requireCapability(opts.capability, `${method} ${path}`);
    return api.call(method, path, schema, opts.body, opts.headers);
  }

  // ---- the machine and its effects --------------------------------------------------------------------

  private fire(event: ConnEvent): void {
    this.queue.push(event);
    if (this.dispatching) return; // a listener reacted synchronously; handled after the current effects
    this.dispatching = true;
    try {
      for (let e = this.queue.shift(); e; e = this.queue.shift()) {
        const { next, effects } = transition(this.state, e, this.machine);
        this.state = next;
        for (const effect of effects) this.perform(effect);
      }
    } finally {
      this.dispatching = false;
    }
  }

  private perform(effect: ConnEffect): void {
    switch (effect.type) {
      case "open_stream":
        this.background(this.openStream(effect.gen, effect.rediscover));
        break;
      case "reattach_all":
        this.background(this.reattachAll(effect.gen));
        break;
      case "schedule_retry":
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.fire({ type: "retry_timer", gen: effect.gen });
        }, effect.delayMs);
        break;
      case "cancel_retry":
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        break;
      case "close_stream":
        this.retireStream();
        break;
      case "start_heartbeats":
        clearInterval(this.heartbeatTimer);
        this.heartbeatTimer = setInterval(() => this.heartbeatAll(), this.opts.heartbeatMs ?? 30_000);
        break;
      case "stop_heartbeats":
        clearInterval(this.heartbeatTimer);
        this.heartbeatTimer = undefined;
        break;
      case "emit":
        this.onPhase(effect.phase, effect.reason, effect.attempt);
        break;
    }
  }

  private onPhase(phase: PublicPhase, reason: string | undefined, attempt: number | undefined): void {
    const change: ConnectionChange = { phase };
    if (reason !== undefined) change.reason = reason;
    if (attempt !== undefined) change.attempt = attempt;
    if ((phase === "reconnecting" || phase === "disconnected") && this.lastError && reason === errorReason(this.lastError)) change.error = this.lastError;
    if (phase === "connected") {
      this.settleWaiters();
      this.observer.open();
    } else if (phase === "disconnected" || phase === "closed") {
      this.releaseStreamGuard();
      this.settleWaiters(phase === "closed" ? new ClientClosedError() : (this.lastError ?? new NotConnectedError(phase, reason)));
    }
    this.emitSafely("connection", change);
  }

  /**
   * Emits without letting a throwing listener break the machine halfway through its effects (a
   * skipped schedule_retry would leave the client stuck): the error is rethrown on the next tick,
   * where it surfaces as an uncaught exception, as it would from any event listener.
   */
  private emitSafely<K extends "connection" | "reattach" | "endpoint_replaced">(event: K, ...args: BrokerClientEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: BrokerClientEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  /** Runs an effect's async work; its outcome is dispatched by the work itself. */
  private background(p: Promise<void>): void {
    const tracked = p.catch((err) => this.report(err as Error)).finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
  }

  private async openStream(gen: number, rediscover: boolean): Promise<void> {
    try {
      let api = this.api;
      // The first connect usually finds a recorded broker that answers: let /v1/initialize prove it.
      let init = !api && !this.opts.discoverFn ? await this.initializeRecorded() : undefined;
      if (init) api = this.api;
      else if (rediscover || !api || !(await probeHealth({ ipcUrl: api.baseUrl, ipcSocket: api.ipcSocket }, 1000))) {
        if (this.state.gen !== gen) return;
        const found = await (this.opts.discoverFn ?? discover)(this.opts.discover);
        checkHealthProtocol(found.record.ipcUrl, found.health);
        this.discovered = found;
        api = this.api = this.newApi(found.record);
      }
      if (this.state.gen !== gen) return;
      init ??= await this.initialize(api!);
      if (this.state.gen !== gen) return;
      this.init = init;
      const disabled = new Set(this.opts.disableCapabilities ?? []);
      this.caps = Object.fromEntries(Object.entries(init.server_capabilities).filter(([k]) => !disabled.has(k)));
      this.presence = init.network_presence;
      // Never two streams for one pid: close ours and wait until it is closed before opening the next.
      await this.retireStream();
      if (this.state.gen !== gen) return;
      const ws = await this.openSocket(this.discovered!.record, gen);
      if (this.state.gen !== gen) {
        void this.closeSocket(ws);
        return;
      }
      this.ws = ws;
      this.fire({ type: "stream_open", gen });
    } catch (err) {
      if (this.state.gen !== gen) return;
      this.lastError = err as Error;
      this.fire({
        type: "attempt_failed",
        gen,
        reason: errorReason(err),
        brokerGone: isBrokerGone(err),
        fatal: err instanceof ProtocolMismatchError,
      });
    }
  }

  private newApi(record: DiscoveryRecord): BrokerApi {
    return new BrokerApi(record, this.opts.requestTimeoutMs !== undefined ? { timeoutMs: this.opts.requestTimeoutMs } : {});
  }

  /**
   * Initializes against the recorded broker without probing /health first (one round trip less on
   * the way to a registered endpoint). Undefined when there is no record or it does not answer
   * within a second: the full discovery (which may start a broker) then takes over.
   */
  private async initializeRecorded(): Promise<InitializeResponse | undefined> {
    const recorded = readRecorded(this.opts.discover);
    if (!recorded) return undefined;
    let init: InitializeResponse;
    try {
      init = await this.initialize(new BrokerApi(recorded.record, { timeoutMs: 1000 }));
    } catch (err) {
      if (err instanceof ProtocolMismatchError) throw err;
      return undefined;
    }
    const health: HealthResponse = { ok: true, version: init.server_version, protocol_version: init.server_protocol_version, capabilities: init.server_capabilities };
    this.discovered = { ...recorded, health, spawned: false };
    this.api = this.newApi(recorded.record);
    return init;
  }

  private async initialize(api: BrokerApi): Promise<InitializeResponse> {
    let init: InitializeResponse;
    try {
      init = await api.initialize(this.clientKind!, this.clientVersion);
    } catch (err) {
      if (err instanceof BrokerError && err.code === "protocol_version_mismatch") {
        const server = typeof err.extra.server_protocol_version === "string" ? err.extra.server_protocol_version : /protocol (\d+(?:\.\d+)*)/.exec(err.message)?.[1];
        throw new ProtocolMismatchError(api.baseUrl, server, PROTOCOL_VERSION);
      }
      throw err;
    }
    if (protocolMajor(init.server_protocol_version) !== PROTOCOL_MAJOR) throw new ProtocolMismatchError(api.baseUrl, init.server_protocol_version, PROTOCOL_VERSION);
    return init;
  }

  private openSocket(record: DiscoveryRecord, gen: number): Promise<WebSocket> {
    const url = record.ipcUrl.replace(/^http/, "ws") + SOCKETS.stream.path;
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${record.bearerToken}`, "x-plugin-pid": String(this.pid), "x-masons-ipc-capabilities": STREAM_CAPABILITIES },
      perMessageDeflate: false,
      handshakeTimeout: 5000,
      ...wsTransport(record),
      generateMask: zeroMask,
    });
    let alive = true;
    let opened = false;
    ws.on("error", (err) => {
      if (opened) this.report(err); // before "open", the failure rejects the promise below
    });
    const ping = setInterval(() => {
      if (!alive) return ws.terminate(); // no pong since the last ping: the broker is gone or hung
      alive = false;
      ws.ping();
    }, this.opts.pingMs ?? 15_000);
    ws.on("pong", () => (alive = true));
    ws.on("message", (data, isBinary) => this.onStreamFrame(ws, data, isBinary));
    ws.on("close", (code, reason) => {
      clearInterval(ping);
      if (this.ws !== ws) return; // retired on purpose
      this.ws = undefined;
      this.lastError = undefined;
      this.fire({ type: "stream_closed", gen, reason: `the stream closed (${code}${reason.length ? ` ${reason.toString()}` : ""})`, brokerGone: code !== 1000 });
    });
    return new Promise<WebSocket>((resolve, reject) => {
      const fail = (err: Error) => {
        ws.off("open", onOpen);
        clearInterval(ping);
        reject(new BrokerUnreachableError(url, err));
      };
      const onOpen = () => {
        opened = true;
        ws.off("error", fail);
        resolve(ws);
      };
      ws.once("open", onOpen);
      ws.once("error", fail);
    });
  }

  /**
   * Sends a binary stream frame (src/protocol/binary-frames.ts) on this client's /v1/stream socket.
   * False, and `done` is never called, when the socket is not open or the broker lacks
   * `stream_frames_v1`; otherwise `done` runs once the frame is handed to the OS, with an error if it
   * never was (the socket closed first).
   */
  sendStreamFrame(frame: Buffer, done: (err?: Error) => void): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.caps.stream_frames_v1) return false;
    ws.send(frame, { binary: true }, done);
    return true;
  }

  /** Detaches the current stream (its close no longer counts as a drop) and closes it. */
  private retireStream(): Promise<void> {
    const ws = this.ws;
    this.ws = undefined;
    return ws ? this.closeSocket(ws) : Promise.resolve();
  }

  private closeSocket(ws: WebSocket, code = 1000, reason = "client_close"): Promise<void> {
    return this.sockets.close(ws, code, reason);
  }

  // ---- reattach ------------------------------------------------------------------------------------------

  private async reattachAll(gen: number): Promise<void> {
    try {
      // Endpoints registered while this runs get attached by a later pass.
      for (let pass = 0; pass < 5; pass++) {
        const pending = [...this.cache.values()].filter((ep) => ep.attachedGen !== gen);
        if (pending.length === 0) break;
        const results = await Promise.allSettled(pending.map((ep) => this.reattachOne(ep, gen)));
        if (this.state.gen !== gen) return;
        const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed) throw failed.reason;
      }
      if (this.state.gen !== gen) return;
      this.fire({ type: "reattached", gen });
    } catch (err) {
      if (this.state.gen !== gen) return;
      this.lastError = err as Error;
      this.fire({ type: "attempt_failed", gen, reason: errorReason(err), brokerGone: isBrokerGone(err) });
    }
  }

  private async reattachOne(ep: CachedEndpoint, gen: number): Promise<void> {
    const api = this.api!;
    for (let attempt = 0; ; attempt++) {
      if (this.state.gen !== gen || this.state.phase === "closed") return;
      try {
        const res = await api.reattach(ep.endpointId, this.pid);
        ep.attachedGen = gen;
        this.emitSafely("reattach", { endpointId: ep.endpointId, outcome: "reattached", buffered: res.reconnecting_buffer_count });
        return;
      } catch (err) {
        if (!(err instanceof BrokerError)) throw err;
        const step = reattachStep(err.code, attempt, this.hasCapability("stream_rebind_v1"));
        switch (step.kind) {
          case "rebound":
            ep.attachedGen = gen;
            this.emitSafely("reattach", { endpointId: ep.endpointId, outcome: "rebound" });
            return;
          case "retry":
            await this.delay(step.delayMs);
            continue;
          case "reregister":
            if (step.unregisterFirst) await api.unregister(ep.endpointId, this.pid).catch(() => {});
            await this.reregister(ep, gen, err.code);
            return;
          case "fail":
            throw err;
        }
      }
    }
  }

  /** The broker no longer knows the endpoint (closed, grace expired, state lost): register it again. */
  private async reregister(ep: CachedEndpoint, gen: number, why: string): Promise<void> {
    const api = this.api!;
    const res = await api.register(this.registerBody(ep.registration));
    const oldId = ep.endpointId;
    if (this.cache.get(oldId) === ep) this.cache.delete(oldId);
    ep.endpointId = res.endpoint_id;
    ep.ownerToken = res.endpoint_owner_token;
    ep.attachedGen = gen;
    this.cache.set(ep.endpointId, ep);
    this.aliases.set(oldId, ep.endpointId);
    this.emitSafely("endpoint_replaced", { oldId, newId: ep.endpointId, reason: why });
    this.emitSafely("reattach", { endpointId: ep.endpointId, outcome: "reregistered" });
  }

  private registerBody(registration: EndpointRegistration): RegisterRequest {
    return {
      ...registration,
      plugin_pid: this.pid,
      client_kind: this.clientKind!,
      ...(this.clientVersion ? { client_version: this.clientVersion } : {}),
    };
  }

  private forget(id: string): void {
    this.cache.delete(id);
    for (const [from, to] of this.aliases) if (to === id) this.aliases.delete(from);
  }

  private heartbeatAll(): void {
    const api = this.api;
    if (!api || this.state.phase !== "connected") return;
    for (const ep of [...this.cache.values()]) {
      api.heartbeat(ep.endpointId).catch((err: Error) => {
        if (this.state.phase !== "connected" || this.cache.get(ep.endpointId) !== ep) return;
        if (err instanceof BrokerError && err.code === "endpoint_unknown") {
          this.background(this.reregister(ep, this.state.gen, err.code));
        } else if (err instanceof BrokerUnreachableError) {
          this.fire({ type: "broker_gone", reason: errorReason(err) });
        } else {
          this.report(err);
        }
      });
    }
  }

  // ---- pushes ----------------------------------------------------------------------------------------------

  private onStreamFrame(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    let frame: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = isBinary ? undefined : JSON.parse(rawToString(data));
      frame = parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
    } catch {
      frame = undefined;
    }
    if (!frame) return this.report(new Error("The broker sent a stream frame that is not a JSON object."));
    const event = frame.event;
    if (typeof event !== "string") return; // objects without `event` are ignored, as MASONS clients do
    if (event === "error") {
      return this.report(new BrokerError(String(frame.error ?? "stream_error"), 0, String(frame.message ?? "The broker reported a stream error.")));
    }
    const pushId = typeof frame.push_id === "string" ? frame.push_id : undefined;
    if (event === "message_received") {
      const parsed = v.safeParse(MessageReceivedFrame, frame);
      // Not acknowledged: the broker keeps it, and a fixed client can still get it.
      if (!parsed.success) return this.report(new Error(`Ignored a bad message_received frame: ${describeIssues(parsed.issues, "frame")}`));
      const m = parsed.output;
      const endpointId = this.endpointOf(m.endpoint_id ?? m.metadata.target_endpoint_id);
      const hold = this.opts.manualMessageAck === true && pushId !== undefined;
      this.pushes.deliver([`m:${m.sourceMessageId}`, ...(pushId ? [`p:${pushId}`] : [])], () => {
        if (hold) this.heldAcks.add(pushId);
        try {
          this.emit("message", { ...m, endpointId });
        } catch (err) {
          if (hold) this.heldAcks.delete(pushId);
          throw err;
        }
      });
      // Held by the application (also when pushed again before it was done with it): no ack yet.
      if (hold && this.heldAcks.has(pushId)) return;
    } else if (event === "presence_changed") {
      const parsed = v.safeParse(PresenceChangedFrame, frame);
      if (!parsed.success) return this.report(new Error(`Ignored a bad presence_changed frame: ${describeIssues(parsed.issues, "frame")}`));
      this.presence = parsed.output.presence;
      this.emit("presence", parsed.output);
    } else {
      const endpointId = this.endpointOf(frame.endpoint_id);
      this.pushes.deliver(pushId ? [`p:${pushId}`] : [], () => this.emit("frame", { ...frame, event, endpointId }));
    }
    // Acknowledge only after the listeners ran; a duplicate too (its first ack may have been lost).
    if (pushId && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ event: "push_ack", push_id: pushId }));
  }

  /**
   * With `manualMessageAck`: the application is done with this message; the broker may drop its copy.
   * Sent on the current stream; without one, the broker pushes it again after the reconnect and it is
   * acknowledged then (it is no longer held).
   */
  ackMessage(message: { push_id?: string | undefined }): void {
    const pushId = message.push_id;
    if (!pushId || !this.heldAcks.delete(pushId)) return;
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ event: "push_ack", push_id: pushId }));
  }

  private endpointOf(raw: unknown): string | undefined {
    const id = typeof raw === "string" ? raw : this.soleEndpointId();
    return id === undefined ? undefined : this.resolveEndpointId(id);
  }

  private soleEndpointId(): string | undefined {
    return this.cache.size === 1 ? this.cache.keys().next().value : undefined;
  }

  // ---- observer feed --------------------------------------------------------------------------------------

  /**
   * Opens the observer feed now (and after every reconnect) if `observe` was not set: a window that
   * first registers its endpoint and then observes keeps the snapshot off its path to registered.
   */
  startObserving(): void {
    this.observer.start();
  }

  // ---- helpers ---------------------------------------------------------------------------------------------

  /** The API once connected; waits up to callWaitMs while (re)connecting. */
  private async ready(what: string): Promise<BrokerApi> {
    const phase = this.state.phase;
    if (phase === "connected") return this.api!;
    if (phase === "closed") throw new ClientClosedError();
    if (phase === "connecting" || phase === "reconnecting") {
      try {
        await this.waitFor(this.opts.callWaitMs ?? 5000);
      } catch (err) {
        if (err instanceof NotConnectedError)
          throw new NotConnectedError(this.state.phase, `${what} waited for a reconnect that did not come (${this.state.lastFailure ?? "no reason"})`);
        throw err;
      }
      return this.api!;
    }
    throw new NotConnectedError(phase, `call connect() before ${what}${this.state.lastFailure ? `; last failure: ${this.state.lastFailure}` : ""}`);
  }

  private waitFor(timeoutMs: number | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: { resolve: () => void; reject: (err: Error) => void; timer?: NodeJS.Timeout } = { resolve, reject };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new NotConnectedError(this.state.phase, `not connected within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.waiters.add(waiter);
    });
  }

  private settleWaiters(err?: Error): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      if (err) w.reject(err);
      else w.resolve();
    }
    this.waiters.clear();
  }

  /** A timer that close() cancels (resolving early). */
  private delay(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.delays.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.delays.add(entry);
    });
  }

  private report(err: Error): void {
    if (this.listenerCount("error") > 0) this.emit("error", err);
  }

  private acquireStreamGuard(): void {
    this.guardKey = acquireStreamGuard(this, this.pid, this.opts.discover);
  }

  private releaseStreamGuard(): void {
    releaseStreamGuard(this, this.guardKey);
    this.guardKey = undefined;
  }

  private async shutdown(unregister: boolean): Promise<void> {
    const record = this.discovered?.record;
    if (unregister && record && this.cache.size > 0) {
      // A short time limit: closing must not hang on a broker that went away.
      const api = new BrokerApi(record, { timeoutMs: 2000 });
      const ids = [...this.cache.keys()];
      const results = await Promise.allSettled(ids.map((id) => api.unregister(id, this.pid)));
      results.forEach((r, i) => {
        if (r.status === "fulfilled") this.forget(ids[i]!);
      });
    }
    this.fire({ type: "close_requested" });
    this.observer.close();
    for (const d of this.delays) {
      clearTimeout(d.timer);
      d.resolve();
    }
    this.delays.clear();
    // Attempts in flight notice the new generation and stop; wait for them and for every socket to close.
    await Promise.allSettled([...this.inflight]);
    await this.sockets.settled();
    this.releaseStreamGuard();
  }
}

// ---- module helpers ----------------------------------------------------------------------------------------

function checkHealthProtocol(url: string, health: HealthResponse): void {
  const major = protocolMajor(health.protocol_version);
  if (major !== undefined && major !== PROTOCOL_MAJOR) throw new ProtocolMismatchError(url, health.protocol_version, PROTOCOL_VERSION);
}

function errorReason(err: unknown): string {
  if (err instanceof BrokerError) return `${err.code}: ${err.message}`;
  return (err as Error)?.message ?? String(err);
}

/** Failures after which the broker must be found again (it may have restarted elsewhere, or must be spawned). */
function isBrokerGone(err: unknown): boolean {
  if (err instanceof BrokerUnreachableError || err instanceof DiscoveryError) return true;
  return err instanceof BrokerError && (err.code === "unauthorized" || err.code === "shutting_down");
}
