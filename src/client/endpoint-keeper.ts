// The endpoints a BrokerClient owns, kept attached to its current stream: the cache of what it needs
// to re-register each one, the aliases from old ids to new ones, reattaching them all after a
// reconnect and re-registering those the broker no longer knows (the decision per error code is the
// pure reattach-policy.ts), and the heartbeats.
import type { DiscoveryRecord, RegisterRequest } from "../protocol/index.js";
import { BrokerApi } from "./api.js";
import { snapshotOf, type BrokerClientEvents, type CachedEndpoint, type EndpointRegistration, type RegisteredEndpoint } from "./client-types.js";
import type { Phase } from "./connection-state.js";
import { BrokerError, BrokerUnreachableError } from "./errors.js";
import { errorReason } from "./handshake.js";
import { reattachStep } from "./reattach-policy.js";

/** Who the client says it is; `connect()` may change it before the first connect. */
export interface Identity {
  pid: number;
  clientKind: string | undefined;
  clientVersion: string | undefined;
}

type KeeperEvent = "reattach" | "endpoint_replaced";

/** What the keeper needs from its client's connection. */
export interface KeeperHost {
  readonly identity: Identity;
  /** The API of the broker the current stream is on. */
  api(): BrokerApi;
  gen(): number;
  phase(): Phase;
  /** The broker moves endpoints to a new stream by itself (stream_rebind_v1). */
  canRebind(): boolean;
  /** A pause that closing the client cuts short. */
  delay(ms: number): Promise<void>;
  emit<K extends KeeperEvent>(event: K, ...args: BrokerClientEvents[K]): void;
  /** A heartbeat found the broker unreachable. */
  brokerGone(reason: string): void;
  background(p: Promise<void>): void;
  report(err: Error): void;
}

export class EndpointKeeper {
  private readonly cache = new Map<string, CachedEndpoint>();
  private readonly aliases = new Map<string, string>();

  constructor(
    private readonly host: KeeperHost,
    adopted: readonly RegisteredEndpoint[],
  ) {
    for (const ep of adopted) this.cache.set(ep.endpointId, { ...ep, registration: { ...ep.registration }, attachedGen: -1 });
  }

  get size(): number {
    return this.cache.size;
  }

  list(): RegisteredEndpoint[] {
    return [...this.cache.values()].map(snapshotOf);
  }

  get(id: string): CachedEndpoint | undefined {
    return this.cache.get(id);
  }

  add(ep: CachedEndpoint): void {
    this.cache.set(ep.endpointId, ep);
  }

  /** The current id of an endpoint, following re-registrations. */
  resolve(id: string): string {
    let current = id;
    for (let i = 0; i < 100 && this.aliases.has(current); i++) current = this.aliases.get(current)!;
    return current;
  }

  /** The current id for an id a frame carries, or the only endpoint's when it carries none. */
  endpointOf(raw: unknown): string | undefined {
    const id = typeof raw === "string" ? raw : this.cache.size === 1 ? this.cache.keys().next().value : undefined;
    return id === undefined ? undefined : this.resolve(id);
  }

  forget(id: string): void {
    this.cache.delete(id);
    for (const [from, to] of this.aliases) if (to === id) this.aliases.delete(from);
  }

  registerBody(registration: EndpointRegistration): RegisterRequest {
    const who = this.host.identity;
    return {
      ...registration,
      plugin_pid: who.pid,
      client_kind: who.clientKind!,
      ...(who.clientVersion ? { client_version: who.clientVersion } : {}),
    };
  }

  /** Closing: unregisters every endpoint, briefly (closing must not hang on a broker that went away). */
  async unregisterAll(record: DiscoveryRecord): Promise<void> {
    if (this.cache.size === 0) return;
    const api = new BrokerApi(record, { timeoutMs: 2000 });
    const ids = [...this.cache.keys()];
    const results = await Promise.allSettled(ids.map((id) => api.unregister(id, this.host.identity.pid)));
    results.forEach((r, i) => {
      if (r.status === "fulfilled") this.forget(ids[i]!);
    });
  }

  /** Attaches every endpoint to the stream of attempt `gen`; throws the first failure. Stops if a newer attempt began. */
  async reattachAll(gen: number): Promise<void> {
    // Endpoints registered while this runs get attached by a later pass.
    for (let pass = 0; pass < 5; pass++) {
      const pending = [...this.cache.values()].filter((ep) => ep.attachedGen !== gen);
      if (pending.length === 0) break;
      const results = await Promise.allSettled(pending.map((ep) => this.reattachOne(ep, gen)));
      if (this.host.gen() !== gen) return;
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    }
  }

  async reattachOne(ep: CachedEndpoint, gen: number): Promise<void> {
    const api = this.host.api();
    const pid = this.host.identity.pid;
    for (let attempt = 0; ; attempt++) {
      if (this.host.gen() !== gen || this.host.phase() === "closed") return;
      try {
        const res = await api.reattach(ep.endpointId, pid);
        ep.attachedGen = gen;
        this.host.emit("reattach", { endpointId: ep.endpointId, outcome: "reattached", buffered: res.reconnecting_buffer_count });
        return;
      } catch (err) {
        if (!(err instanceof BrokerError)) throw err;
        const step = reattachStep(err.code, attempt, this.host.canRebind());
        switch (step.kind) {
          case "rebound":
            ep.attachedGen = gen;
            this.host.emit("reattach", { endpointId: ep.endpointId, outcome: "rebound" });
            return;
          case "retry":
            await this.host.delay(step.delayMs);
            continue;
          case "reregister":
            if (step.unregisterFirst) await api.unregister(ep.endpointId, pid).catch(() => {});
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
    const res = await this.host.api().register(this.registerBody(ep.registration));
    const oldId = ep.endpointId;
    if (this.cache.get(oldId) === ep) this.cache.delete(oldId);
    ep.endpointId = res.endpoint_id;
    ep.ownerToken = res.endpoint_owner_token;
    ep.attachedGen = gen;
    this.cache.set(ep.endpointId, ep);
    this.aliases.set(oldId, ep.endpointId);
    this.host.emit("endpoint_replaced", { oldId, newId: ep.endpointId, reason: why });
    this.host.emit("reattach", { endpointId: ep.endpointId, outcome: "reregistered" });
  }

  heartbeatAll(): void {
    if (this.host.phase() !== "connected") return;
    const api = this.host.api();
    for (const ep of [...this.cache.values()]) {
      api.heartbeat(ep.endpointId).catch((err: Error) => {
        if (this.host.phase() !== "connected" || this.cache.get(ep.endpointId) !== ep) return;
        if (err instanceof BrokerError && err.code === "endpoint_unknown") {
          this.host.background(this.reregister(ep, this.host.gen(), err.code));
        } else if (err instanceof BrokerUnreachableError) {
          this.host.brokerGone(errorReason(err));
        } else {
          this.host.report(err);
        }
      });
    }
  }
}
