// Finding the broker and greeting it: /v1/initialize against the recorded broker (one round trip less
// on the way to a registered endpoint), or full discovery (which may start one); the protocol major
// checked on /health and on /v1/initialize. Also how the connection words and sorts a failure.
import { PROTOCOL_MAJOR, PROTOCOL_VERSION, protocolMajor, type HealthResponse, type InitializeResponse } from "../protocol/index.js";
import { BrokerApi } from "./api.js";
import { ProtocolMismatchError } from "./client-errors.js";
import { readRecorded, type DiscoverOptions, type Discovered } from "./discover.js";
import { BrokerError, BrokerUnreachableError, DiscoveryError } from "./errors.js";

export interface Greeter {
  clientKind: string;
  clientVersion: string | undefined;
}

export async function initialize(api: BrokerApi, who: Greeter): Promise<InitializeResponse> {
  let init: InitializeResponse;
  try {
    init = await api.initialize(who.clientKind, who.clientVersion);
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

/**
 * Initializes against the recorded broker without probing /health first. Undefined when there is no
 * record or it does not answer within a second: the full discovery then takes over.
 */
export async function initializeRecorded(discover: DiscoverOptions, who: Greeter): Promise<{ init: InitializeResponse; discovered: Discovered } | undefined> {
  const recorded = readRecorded(discover);
  if (!recorded) return undefined;
  let init: InitializeResponse;
  try {
    init = await initialize(new BrokerApi(recorded.record, { timeoutMs: 1000 }), who);
  } catch (err) {
    if (err instanceof ProtocolMismatchError) throw err;
    return undefined;
  }
  const health: HealthResponse = { ok: true, version: init.server_version, protocol_version: init.server_protocol_version, capabilities: init.server_capabilities };
  return { init, discovered: { ...recorded, health, spawned: false } };
}

export function checkHealthProtocol(url: string, health: HealthResponse): void {
  const major = protocolMajor(health.protocol_version);
  if (major !== undefined && major !== PROTOCOL_MAJOR) throw new ProtocolMismatchError(url, health.protocol_version, PROTOCOL_VERSION);
}

export function errorReason(err: unknown): string {
  if (err instanceof BrokerError) return `${err.code}: ${err.message}`;
  return (err as Error)?.message ?? String(err);
}

/** Failures after which the broker must be found again (it may have restarted elsewhere, or must be spawned). */
export function isBrokerGone(err: unknown): boolean {
  if (err instanceof BrokerUnreachableError || err instanceof DiscoveryError) return true;
  return err instanceof BrokerError && (err.code === "unauthorized" || err.code === "shutting_down");
}
