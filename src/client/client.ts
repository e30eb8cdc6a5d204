// BrokerClient: the one library through which the extension, the CLI and agent adapters talk to a
// broker (ours, or a MASONS runtime broker with the Switchboard capabilities absent).
//
// This class is the facade: connecting, what is known about the broker, and the typed calls. The
// parts behind it: connection.ts (the shell of the pure phase machine in connection-state.ts:
// discovery and /v1/initialize in handshake.ts, the /v1/stream socket in stream-socket.ts, timers),
// endpoint-keeper.ts (this client's endpoints: reattach and re-register after a reconnect, with the
// pure reattach-policy.ts; heartbeats), push-receiver.ts (pushes delivered once, acknowledged after
// the listeners returned) and observer-feed.ts.
import { EventEmitter } from "node:events";
import type * as v from "valibot";
import WebSocket from "ws";
import type { EndpointView, HealthResponse, IngressRequest, Schema, SendRequest, UndispatchedItem } from "../protocol/index.js";
import type { BrokerApi } from "./api.js";
import { CapabilityMissingError, ClientClosedError, NotConnectedError } from "./client-errors.js";
import {
  snapshotOf,
  type BrokerClientEvents,
  type BrokerClientOptions,
  type CachedEndpoint,
  type ClientIdentity,
  type EndpointRegistration,
  type RegisteredEndpoint,
  type ServerInfo,
} from "./client-types.js";
import { Connection } from "./connection.js";
import type { PublicPhase } from "./connection-state.js";
import type { Discovered } from "./discover.js";
import { EndpointKeeper, type Identity } from "./endpoint-keeper.js";
import { BrokerError } from "./errors.js";
import type { FeedModel, FeedRecord } from "./feed-model.js";
import { ObserverFeed } from "./observer-feed.js";
import { PushReceiver } from "./push-receiver.js";

// The public types live in client-types.ts; importers of this module get them from here too.
export type * from "./client-types.js";

export class BrokerClient extends EventEmitter<BrokerClientEvents> {
  private readonly opts: BrokerClientOptions;
  private readonly identity: Identity;
  private readonly conn: Connection;
  private readonly keeper: EndpointKeeper;
  private readonly pushes: PushReceiver;
  private readonly observer: ObserverFeed;
  private closing: Promise<void> | undefined;

  constructor(opts: BrokerClientOptions) {
    super();
    this.opts = opts;
    this.identity = { pid: opts.pluginPid ?? process.pid, clientKind: opts.clientKind, clientVersion: opts.clientVersion };
    const conn = (this.conn = new Connection(this, opts, this.identity, {
      reattachAll: (gen) => this.keeper.reattachAll(gen),
      heartbeat: () => this.keeper.heartbeatAll(),
      frame: (ws, data, isBinary) => this.pushes.onFrame(ws, data, isBinary),
      connected: () => this.observer.open(),
    }));
    this.keeper = new EndpointKeeper(
      {
        identity: this.identity,
        api: () => conn.api!,
        gen: () => conn.state.gen,
        phase: () => conn.state.phase,
        canRebind: () => conn.hasCapability("stream_rebind_v1"),
        delay: (ms) => conn.delay(ms),
        emit: (event, ...args) => conn.emitSafely(event, ...args),
        brokerGone: (reason) => conn.fire({ type: "broker_gone", reason }),
        background: (p) => conn.background(p),
        report: (err) => conn.report(err),
      },
      opts.endpoints ?? [],
    );
    this.pushes = new PushReceiver(
      {
        manualAck: opts.manualMessageAck === true,
        endpointOf: (raw) => this.keeper.endpointOf(raw),
        message: (m) => this.emit("message", m),
        presence: (p) => {
          conn.presence = p.presence;
          this.emit("presence", p);
        },
        frame: (f) => this.emit("frame", f),
        report: (err) => conn.report(err),
      },
      opts.dedupeCapacity ?? 10_000,
    );
    this.observer = new ObserverFeed(
      {
        target: () => (conn.state.phase === "connected" && conn.discovered && conn.hasCapability("observer_feed_v1") ? conn.discovered.record : undefined),
        closed: () => conn.state.phase === "closed",
        backoff: { ...conn.machine.backoff, random: conn.machine.random },
        onEvent: (frame) => this.emit("feed", frame),
        fullApproval: async (id) => {
          if (!conn.api) throw new NotConnectedError(conn.state.phase, "not connected");
          return (await conn.api.approval(id)) as unknown as FeedRecord;
        },
        onText: () => this.emit("feedText"),
        report: (err) => conn.report(err),
        closeSocket: (ws) => conn.closeSocket(ws),
      },
      opts.observe ?? false,
    );
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
    const who = this.identity;
    if (identity.pluginPid !== undefined) who.pid = identity.pluginPid;
    if (identity.clientKind !== undefined) who.clientKind = identity.clientKind;
    if (identity.clientVersion !== undefined) who.clientVersion = identity.clientVersion;
    if (!who.clientKind) throw new TypeError("BrokerClient.connect needs a clientKind.");
    if (!(Number.isInteger(who.pid) && who.pid > 0)) throw new TypeError(`pluginPid must be a positive integer, not ${who.pid}.`);
    const phase = this.conn.state.phase;
    if (phase === "closed" || this.closing) throw new ClientClosedError();
    if (phase === "connected") return this.serverInfo;
    if (phase === "idle" || phase === "disconnected") {
      await this.conn.start();
    } else {
      await this.conn.waitFor(undefined);
    }
    return this.serverInfo;
  }

  /** Resolves when connected; rejects if the client is closed, gives up, or `timeoutMs` passes. */
  whenConnected(timeoutMs?: number): Promise<void> {
    const state = this.conn.state;
    if (state.phase === "connected") return Promise.resolve();
    if (state.phase === "closed") return Promise.reject(new ClientClosedError());
    if (state.phase === "idle" || state.phase === "disconnected") return Promise.reject(new NotConnectedError(state.phase, state.lastFailure));
    return this.conn.waitFor(timeoutMs);
  }

  get phase(): PublicPhase | "idle" {
    return this.conn.state.phase;
  }

  get lastFailure(): string | undefined {
    return this.conn.state.lastFailure;
  }

  get pluginPid(): number {
    return this.identity.pid;
  }

  private get pid(): number {
    return this.identity.pid;
  }

  get serverInfo(): ServerInfo {
    const { init, api } = this.conn;
    if (!init || !api) throw new NotConnectedError(this.conn.state.phase, "no broker has answered /v1/initialize yet");
    return {
      brokerUrl: api.baseUrl,
      serverVersion: init.server_version,
      serverProtocolVersion: init.server_protocol_version,
      capabilities: { ...this.conn.capabilities },
      sessionId: init.session_id,
      feedEpoch: typeof init.feed_epoch === "string" ? init.feed_epoch : undefined,
      spawned: this.conn.discovered?.spawned ?? false,
      warnings: (init.warnings ?? []).map((w) => ({ code: w.code, message: w.message })),
    };
  }

  /** Server capabilities from /v1/initialize, minus `disableCapabilities`. */
  get capabilities(): Readonly<Record<string, boolean>> {
    return { ...this.conn.capabilities };
  }

  hasCapability(name: string): boolean {
    return this.conn.hasCapability(name);
  }

  /** Throws CapabilityMissingError naming the capability if the broker does not offer it. */
  requireCapability(name: string, what: string): void {
    if (!this.hasCapability(name)) throw new CapabilityMissingError(name, what, this.conn.api?.baseUrl);
  }

  get discovery(): Discovered | undefined {
    return this.conn.discovered;
  }

  get networkPresence(): "online" | "reconnecting" | "offline" | undefined {
    return this.conn.presence;
  }

  /** Endpoints this client owns (current ids), with what it needs to re-register or adopt them. */
  get endpoints(): RegisteredEndpoint[] {
    return this.keeper.list();
  }

  /** The current id of an endpoint, following re-registrations. */
  resolveEndpointId(id: string): string {
    return this.keeper.resolve(id);
  }

  /** The observer feed's current state (after the last snapshot and changes), if observing. */
  get feed(): FeedModel | undefined {
    return this.observer.model;
  }

  /**
   * Opens the observer feed now (and after every reconnect) if `observe` was not set: a window that
   * first registers its endpoint and then observes keeps the snapshot off its path to registered.
   */
  startObserving(): void {
    this.observer.start();
  }

  /**
   * Unregisters this client's endpoints (unless `unregister: false`: they stay reconnecting on the
   * broker for its grace period, and `endpoints` can be passed to a new client of the same pid), closes
   * the stream and the feed, and stops every timer.
   */
  close(opts: { unregister?: boolean } = {}): Promise<void> {
    return (this.closing ??= this.shutdown(opts.unregister ?? true));
  }

  private async shutdown(unregister: boolean): Promise<void> {
    const record = this.conn.discovered?.record;
    if (unregister && record) await this.keeper.unregisterAll(record);
    this.conn.close();
    this.observer.close();
    await this.conn.settled();
  }

  /**
   * With `manualMessageAck`: the application is done with this message; the broker may drop its copy.
   * Sent on the current stream; without one, the broker pushes it again after the reconnect and it is
   * acknowledged then (it is no longer held).
   */
  ackMessage(message: { push_id?: string | undefined }): void {
    this.pushes.release(message.push_id, this.conn.ws);
  }

  /**
   * Sends a binary stream frame (src/protocol/binary-frames.ts) on this client's /v1/stream socket.
   * False, and `done` is never called, when the socket is not open or the broker lacks
   * `stream_frames_v1`; otherwise `done` runs once the frame is handed to the OS, with an error if it
   * never was (the socket closed first).
   */
  sendStreamFrame(frame: Buffer, done: (err?: Error) => void): boolean {
    const ws = this.conn.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.conn.hasCapability("stream_frames_v1")) return false;
    ws.send(frame, { binary: true }, done);
    return true;
  }

  // ---- typed calls -----------------------------------------------------------------------------------

  async registerEndpoint(registration: EndpointRegistration): Promise<RegisteredEndpoint> {
    for (let tries = 0; ; tries++) {
      const api = await this.ready("registerEndpoint");
      const gen = this.conn.state.gen;
      try {
        const res = await api.register(this.keeper.registerBody(registration));
        const ep: CachedEndpoint = { endpointId: res.endpoint_id, ownerToken: res.endpoint_owner_token, registration: { ...registration }, attachedGen: gen };
        this.keeper.add(ep);
        // Registered on a stream that has since been replaced: attach it to the current one.
        const now = this.conn.state;
        if (now.gen !== gen && now.phase === "connected") this.conn.background(this.keeper.reattachOne(ep, now.gen));
        return snapshotOf(ep);
      } catch (err) {
        // The stream dropped under us; wait for the reconnect and try again.
        if (tries < 3 && err instanceof BrokerError && err.code === "ipc_channel_missing") {
          await this.conn.delay(50);
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
    this.keeper.forget(id);
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
    const ep = this.keeper.get(id);
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

  /** The API once connected; waits up to callWaitMs while (re)connecting. */
  private async ready(what: string): Promise<BrokerApi> {
    const phase = this.conn.state.phase;
    if (phase === "connected") return this.conn.api!;
    if (phase === "closed") throw new ClientClosedError();
    if (phase === "connecting" || phase === "reconnecting") {
      try {
        await this.conn.waitFor(this.opts.callWaitMs ?? 5000);
      } catch (err) {
        if (err instanceof NotConnectedError)
          throw new NotConnectedError(this.conn.state.phase, `${what} waited for a reconnect that did not come (${this.conn.state.lastFailure ?? "no reason"})`);
        throw err;
      }
      return this.conn.api!;
    }
    const last = this.conn.state.lastFailure;
    throw new NotConnectedError(phase, `call connect() before ${what}${last ? `; last failure: ${last}` : ""}`);
  }
}
