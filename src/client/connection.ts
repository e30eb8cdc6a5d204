// The I/O shell of the client's connection phases: the pure machine of connection-state.ts decides,
// this performs its effects (find and greet the broker, open and retire the /v1/stream socket, retry
// and heartbeat timers) and feeds their outcomes back as events. It also holds what every call needs
// from the connection: the current API, capabilities and stream, waits for `connected`, pauses that
// closing cuts short, and the process-wide stream guard.
import type { EventEmitter } from "node:events";
import type WebSocket from "ws";
import { probeHealth } from "../platform/discovery.js";
import type { InitializeResponse } from "../protocol/index.js";
import { BrokerApi } from "./api.js";
import { ClientClosedError, NotConnectedError, ProtocolMismatchError } from "./client-errors.js";
import type { BrokerClientEvents, BrokerClientOptions, ConnectionChange } from "./client-types.js";
import { DEFAULT_BACKOFF, INITIAL_STATE, transition, type ConnEffect, type ConnEvent, type ConnState, type MachineOptions, type PublicPhase } from "./connection-state.js";
import { discover, type Discovered } from "./discover.js";
import type { Identity } from "./endpoint-keeper.js";
import { checkHealthProtocol, errorReason, initialize, initializeRecorded, isBrokerGone } from "./handshake.js";
import { SocketCloser } from "./sockets.js";
import { acquireStreamGuard, releaseStreamGuard } from "./stream-guard.js";
import { openStreamSocket } from "./stream-socket.js";

/** The effects the connection leaves to the rest of the client. */
export interface ConnectionHooks {
  /** Attach every endpoint to the stream of attempt `gen`; throws what failed. */
  reattachAll(gen: number): Promise<void>;
  heartbeat(): void;
  /** A frame on the current stream. */
  frame(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void;
  /** The phase became `connected` (the observer feed opens then). */
  connected(): void;
}

type Waiter = { resolve: () => void; reject: (err: Error) => void; timer?: NodeJS.Timeout };

export class Connection {
  readonly machine: MachineOptions;
  private current: ConnState = INITIAL_STATE;
  private readonly queue: ConnEvent[] = [];
  private dispatching = false;

  // What the facade reads through the getters below; only this class changes them (and `presence`, on a push).
  private found: Discovered | undefined;
  private currentApi: BrokerApi | undefined;
  private greeting: InitializeResponse | undefined;
  private caps: Record<string, boolean> = {};
  private lastError: Error | undefined;
  private stream: WebSocket | undefined;
  /** The broker's network presence: from /v1/initialize, then from presence_changed pushes. */
  presence: "online" | "reconnecting" | "offline" | undefined;

  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly delays = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private readonly waiters = new Set<Waiter>();
  private readonly sockets = new SocketCloser();
  private readonly inflight = new Set<Promise<void>>();
  private guardKey: string | undefined;

  constructor(
    private readonly events: EventEmitter<BrokerClientEvents>,
    private readonly opts: BrokerClientOptions,
    private readonly identity: Identity,
    private readonly hooks: ConnectionHooks,
  ) {
    this.machine = {
      backoff: { ...DEFAULT_BACKOFF, ...opts.reconnect },
      random: opts.random ?? Math.random,
      ...(opts.reconnect?.maxAttempts !== undefined ? { maxAttempts: opts.reconnect.maxAttempts } : {}),
    };
  }

  get state(): ConnState {
    return this.current;
  }

  get discovered(): Discovered | undefined {
    return this.found;
  }

  /** The API of the broker that answered /v1/initialize last. */
  get api(): BrokerApi | undefined {
    return this.currentApi;
  }

  get init(): InitializeResponse | undefined {
    return this.greeting;
  }

  /** Server capabilities from /v1/initialize, minus `disableCapabilities`. */
  get capabilities(): Readonly<Record<string, boolean>> {
    return this.caps;
  }

  /** The current /v1/stream socket. */
  get ws(): WebSocket | undefined {
    return this.stream;
  }

  hasCapability(name: string): boolean {
    return this.caps[name] === true;
  }

  // ---- the machine and its effects --------------------------------------------------------------------

  fire(event: ConnEvent): void {
    this.queue.push(event);
    if (this.dispatching) return; // a listener reacted synchronously; handled after the current effects
    this.dispatching = true;
    try {
      for (let e = this.queue.shift(); e; e = this.queue.shift()) {
        const { next, effects } = transition(this.current, e, this.machine);
        this.current = next;
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
        this.heartbeatTimer = setInterval(() => this.hooks.heartbeat(), this.opts.heartbeatMs ?? 30_000);
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
      this.hooks.connected();
    } else if (phase === "disconnected" || phase === "closed") {
      this.releaseGuard();
      this.settleWaiters(phase === "closed" ? new ClientClosedError() : (this.lastError ?? new NotConnectedError(phase, reason)));
    }
    this.emitSafely("connection", change);
  }

  /**
   * Emits without letting a throwing listener break the machine halfway through its effects (a
   * skipped schedule_retry would leave the client stuck): the error is rethrown on the next tick,
   * where it surfaces as an uncaught exception, as it would from any event listener.
   */
  emitSafely<K extends "connection" | "reattach" | "endpoint_replaced">(event: K, ...args: BrokerClientEvents[K]): void {
    try {
      (this.events.emit as (e: K, ...a: BrokerClientEvents[K]) => boolean).call(this.events, event, ...args);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  report(err: Error): void {
    if (this.events.listenerCount("error") > 0) this.events.emit("error", err);
  }

  /** Runs an effect's async work; its outcome is dispatched by the work itself. */
  background(p: Promise<void>): void {
    const tracked = p.catch((err) => this.report(err as Error)).finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
  }

  private async openStream(gen: number, rediscover: boolean): Promise<void> {
    const who = { clientKind: this.identity.clientKind!, clientVersion: this.identity.clientVersion };
    try {
      let api = this.currentApi;
      // The first connect usually finds a recorded broker that answers: let /v1/initialize prove it.
      const recorded = !api && !this.opts.discoverFn ? await initializeRecorded(this.opts.discover, who) : undefined;
      let init = recorded?.init;
      if (recorded) {
        this.found = recorded.discovered;
        api = this.currentApi = this.newApi();
      } else if (rediscover || !api || !(await probeHealth({ ipcUrl: api.baseUrl, ipcSocket: api.ipcSocket }, 1000))) {
        if (this.current.gen !== gen) return;
        const found = await (this.opts.discoverFn ?? discover)(this.opts.discover);
        checkHealthProtocol(found.record.ipcUrl, found.health);
        this.found = found;
        api = this.currentApi = this.newApi();
      }
      if (this.current.gen !== gen) return;
      init ??= await initialize(api!, who);
      if (this.current.gen !== gen) return;
      this.greeting = init;
      const disabled = new Set(this.opts.disableCapabilities ?? []);
      this.caps = Object.fromEntries(Object.entries(init.server_capabilities).filter(([k]) => !disabled.has(k)));
      this.presence = init.network_presence;
      // Never two streams for one pid: close ours and wait until it is closed before opening the next.
      await this.retireStream();
      if (this.current.gen !== gen) return;
      const ws = await openStreamSocket(this.found!.record, this.identity.pid, this.opts.pingMs ?? 15_000, {
        frame: (s, data, isBinary) => this.hooks.frame(s, data, isBinary),
        error: (err) => this.report(err),
        closed: (s, code, reason) => {
          if (this.stream !== s) return; // retired on purpose
          this.stream = undefined;
          this.lastError = undefined;
          this.fire({ type: "stream_closed", gen, reason: `the stream closed (${code}${reason.length ? ` ${reason.toString()}` : ""})`, brokerGone: code !== 1000 });
        },
      });
      if (this.current.gen !== gen) {
        void this.closeSocket(ws);
        return;
      }
      this.stream = ws;
      this.fire({ type: "stream_open", gen });
    } catch (err) {
      if (this.current.gen !== gen) return;
      this.lastError = err as Error;
      this.fire({ type: "attempt_failed", gen, reason: errorReason(err), brokerGone: isBrokerGone(err), fatal: err instanceof ProtocolMismatchError });
    }
  }

  private newApi(): BrokerApi {
    return new BrokerApi(this.found!.record, this.opts.requestTimeoutMs !== undefined ? { timeoutMs: this.opts.requestTimeoutMs } : {});
  }

  private async reattachAll(gen: number): Promise<void> {
    try {
      await this.hooks.reattachAll(gen);
      if (this.current.gen !== gen) return;
      this.fire({ type: "reattached", gen });
    } catch (err) {
      if (this.current.gen !== gen) return;
      this.lastError = err as Error;
      this.fire({ type: "attempt_failed", gen, reason: errorReason(err), brokerGone: isBrokerGone(err) });
    }
  }

  /** Detaches the current stream (its close no longer counts as a drop) and closes it. */
  private retireStream(): Promise<void> {
    const ws = this.stream;
    this.stream = undefined;
    return ws ? this.closeSocket(ws) : Promise.resolve();
  }

  closeSocket(ws: WebSocket, code = 1000, reason = "client_close"): Promise<void> {
    return this.sockets.close(ws, code, reason);
  }

  // ---- waiting -------------------------------------------------------------------------------------------

  /** Resolves on `connected`; rejects on `disconnected` or `closed`, or once `timeoutMs` passed. */
  waitFor(timeoutMs: number | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new NotConnectedError(this.current.phase, `not connected within ${timeoutMs} ms`));
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
  delay(ms: number): Promise<void> {
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

  // ---- the stream guard and closing ----------------------------------------------------------------------

  /** Connects from `idle` or `disconnected`: resolves once connected, rejects with the cause if the attempt fails. */
  start(): Promise<void> {
    this.acquireGuard();
    const connected = this.waitFor(undefined);
    this.lastError = undefined;
    this.fire({ type: "connect_requested" });
    return connected;
  }

  private acquireGuard(): void {
    this.guardKey = acquireStreamGuard(this, this.identity.pid, this.opts.discover);
  }

  private releaseGuard(): void {
    releaseStreamGuard(this, this.guardKey);
    this.guardKey = undefined;
  }

  /** Closes for good: stops every timer, cuts pauses short; `settled()` then waits for the work in flight. */
  close(): void {
    this.fire({ type: "close_requested" });
  }

  async settled(): Promise<void> {
    for (const d of this.delays) {
      clearTimeout(d.timer);
      d.resolve();
    }
    this.delays.clear();
    // Attempts in flight notice the new generation and stop; wait for them and for every socket to close.
    await Promise.allSettled([...this.inflight]);
    await this.sockets.settled();
    this.releaseGuard();
  }
}
