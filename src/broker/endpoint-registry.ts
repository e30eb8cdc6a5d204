// The endpoint registry's shell: register, heartbeat, task hint, reattach, unregister, restore after a
// restart, and the reconnect grace with its owner checks. What happens to an endpoint is decided by the
// pure lifecycle.transition; this performs its effects (journal, feed, grace timers, drain, close hooks).
import { randomUUID } from "node:crypto";
import { ProtocolError, Workspace, parseWith, type EndpointView, type RegisterRequest } from "../protocol/index.js";
import { pidAlive } from "../platform/process.js";
import type { Clock } from "./clock.js";
import type { Durability } from "./durability.js";
import type { Feed } from "./feed.js";
import { newId, now, truncateCodePoints } from "./ids.js";
import type { Inbox } from "./inbox.js";
import { transition, type EndpointEffect, type EndpointEvent } from "./lifecycle.js";
import { limitReached, type Limits } from "./limits.js";
import type { Logger } from "./log.js";
import type { PidSockets } from "./pid-sockets.js";
import type { Pushes } from "./pushes.js";
import type { EndpointRecord, Store } from "./store.js";

export interface RegistryDeps {
  store: Store;
  durability: Durability;
  feed: Feed;
  sockets: PidSockets;
  pushes: Pushes;
  inbox: Inbox;
  clock: Clock;
  limits: Limits;
  log: Logger;
  graceMs: number;
}

const TASK_HINT_MAX = 200;
/** How often a reconnecting endpoint's owner pid is checked. */
const OWNER_CHECK_MS = 1000;

export class EndpointRegistry {
  private readonly graceTimers = new Map<string, () => void>(); // id -> cancel
  private readonly ownerWatches = new Map<string, () => void>();
  private readonly closeHooks: ((endpointId: string) => void)[] = [];
  private readonly openHooks: ((endpointId: string) => void)[] = [];

  constructor(private readonly d: RegistryDeps) {}

  /** Runs `hook` whenever an endpoint closes (its pending approvals are cancelled, for example). */
  onEndpointClosed(hook: (endpointId: string) => void): void {
    this.closeHooks.push(hook);
  }

  /** Runs `hook` whenever an endpoint registers (the approval policy watches its workspace's rules). */
  onEndpointOpened(hook: (endpointId: string) => void): void {
    this.openHooks.push(hook);
  }

  /** The open endpoint with this id, or a 404 `unknown_endpoint`. */
  requireOpenEndpoint(id: string): EndpointRecord {
    const ep = this.d.store.endpoints.get(id);
    if (!ep || ep.state === "closed") throw new ProtocolError("unknown_endpoint", `No open endpoint has id ${id}; register one first.`);
    return ep;
  }

  /** After a restart, every endpoint that was open waits for its owner to reattach (if the owner lives). */
  restore(): void {
    for (const ep of this.d.store.openEndpoints()) this.apply(ep, { type: "restored", pidAlive: pidAlive(ep.plugin_pid) });
  }

  get openCount(): number {
    return this.d.store.openEndpoints().length;
  }

  list(): EndpointView[] {
    return this.d.store.openEndpoints().map((e) => this.d.store.view(e));
  }

  // ---- the owner's socket ---------------------------------------------------------------------------

  streamReplaced(pid: number): void {
    for (const ep of this.endpointsOf(pid)) this.apply(ep, { type: "stream_replaced" });
  }

  streamClosed(pid: number): void {
    const alive = pidAlive(pid);
    for (const ep of this.endpointsOf(pid)) this.apply(ep, { type: "stream_closed", pidAlive: alive });
  }

  private endpointsOf(pid: number): EndpointRecord[] {
    return this.d.store.openEndpoints().filter((e) => e.plugin_pid === pid);
  }

  // ---- the routes -----------------------------------------------------------------------------------

  register(body: RegisterRequest): Promise<{ endpoint_id: string; endpoint_owner_token: string }> {
    const { limits } = this.d;
    if (!this.d.sockets.has(body.plugin_pid))
      throw new ProtocolError("ipc_channel_missing", `Open the /v1/stream WebSocket with x-plugin-pid: ${body.plugin_pid} before registering.`);
    if (this.endpointsOf(body.plugin_pid).length >= limits.endpointsPerPid)
      throw limitReached("pid_endpoints_full", "endpointsPerPid", limits, `Process ${body.plugin_pid} already has as many open endpoints as it may; unregister some first`);
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
    const durable = this.d.durability.persist({ t: "ep", ep });
    this.d.log.info("endpoint registered", { endpoint_id: ep.endpoint_id, kind: ep.kind, pid: ep.plugin_pid });
    this.d.feed.publish({ kind: "endpoint_upserted", endpoint: this.d.store.view(ep) });
    for (const hook of this.openHooks) hook(ep.endpoint_id);
    return durable.then(() => ({ endpoint_id: ep.endpoint_id, endpoint_owner_token: ep.owner_token }));
  }

  private openEndpoint(id: string): EndpointRecord {
    const ep = this.d.store.endpoints.get(id);
    if (!ep || ep.state === "closed") throw new ProtocolError("endpoint_unknown", `No open endpoint has id ${id}.`);
    return ep;
  }

  heartbeat(id: string): void {
    const ep = this.openEndpoint(id);
    this.d.store.touch(ep, now());
  }

  taskHint(id: string, pid: number, hint: string): Promise<void> {
    const ep = this.openEndpoint(id);
    if (ep.plugin_pid !== pid) throw new ProtocolError("ownership_mismatch", "Only the process that registered this endpoint can set its task hint.");
    const updated = { ...ep, task_hint: truncateCodePoints(hint, TASK_HINT_MAX) || null, last_seen_at: now() };
    const durable = this.d.durability.persist({ t: "ep", ep: updated });
    this.d.feed.publish({ kind: "endpoint_upserted", endpoint: this.d.store.view(updated) });
    return durable;
  }

  async reattach(id: string, pid: number): Promise<{ restored: true; reconnecting_buffer_count: number }> {
    const ep = this.openEndpoint(id);
    const wasReconnecting = ep.state === "reconnecting";
    const buffered = this.d.store.queueSize(id);
    const rejection = this.apply(ep, { type: "reattach", samePid: ep.plugin_pid === pid, streamOpen: this.d.sockets.has(pid) });
    if (rejection) throw new ProtocolError(rejection.code, rejection.message);
    // A repeat (already active) writes nothing: ask the journal, not the last write's promise, which
    // may hold the error of a write that has succeeded on a retry since.
    await this.d.durability.whenDurable();
    return { restored: true, reconnecting_buffer_count: wasReconnecting ? buffered : 0 };
  }

  /** `pid`: the caller's x-plugin-pid, if it sent one; another process's endpoint is refused. */
  unregister(id: string, pid?: number): Promise<void> {
    const ep = this.d.store.endpoints.get(id);
    if (!ep || ep.state === "closed") return Promise.resolve(); // idempotent, as in MASONS
    if (pid !== undefined && ep.plugin_pid !== pid) throw new ProtocolError("ownership_mismatch", "Only the process that registered this endpoint can unregister it.");
    this.apply(ep, { type: "unregister" });
    return this.d.durability.latest;
  }

  // ---- the lifecycle --------------------------------------------------------------------------------

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
      if (closeReason) this.d.inbox.takeQueueOf(ep);
      this.d.durability.persist({ t: "ep", ep: updated });
      this.d.log.info("endpoint state", { endpoint_id: ep.endpoint_id, from: ep.state, to: next, reason: closeReason ?? event.type });
      if (closeReason) {
        this.d.feed.publish({ kind: "endpoint_closed", endpoint_id: ep.endpoint_id, reason: closeReason });
        for (const hook of this.closeHooks) hook(ep.endpoint_id);
      } else this.d.feed.publish({ kind: "endpoint_upserted", endpoint: this.d.store.view(updated) });
    }
    for (const effect of effects) {
      if (effect.type === "start_grace") this.startGrace(ep.endpoint_id);
      if (effect.type === "cancel_grace") this.cancelGrace(ep.endpoint_id);
      if (effect.type === "drain") this.d.pushes.drain(ep.endpoint_id);
    }
    return rejection;
  }

  private startGrace(id: string): void {
    this.cancelGrace(id);
    const { clock, store } = this.d;
    const cancel = clock.after(this.d.graceMs, () => {
      this.graceTimers.delete(id);
      const ep = store.endpoints.get(id);
      if (ep) this.apply(ep, { type: "grace_expired" });
    });
    this.graceTimers.set(id, cancel);
    // An owner that was still exiting when its stream closed (a terminal closed with SIGHUP, say) is
    // not coming back: look again every second rather than waiting out the whole grace.
    const look = () => {
      const ep = store.endpoints.get(id);
      if (ep?.state !== "reconnecting") return this.cancelGrace(id);
      if (!pidAlive(ep.plugin_pid)) return this.apply(ep, { type: "owner_gone" });
      this.ownerWatches.set(id, clock.after(OWNER_CHECK_MS, look));
    };
    this.ownerWatches.set(id, clock.after(OWNER_CHECK_MS, look));
  }

  private cancelGrace(id: string): void {
    this.graceTimers.get(id)?.();
    this.graceTimers.delete(id);
    this.ownerWatches.get(id)?.();
    this.ownerWatches.delete(id);
  }

  /** The broker is stopping: no grace runs out while it does. */
  stop(): void {
    for (const id of [...this.graceTimers.keys()]) this.cancelGrace(id);
  }
}
