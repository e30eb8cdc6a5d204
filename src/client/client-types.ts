// The public types of BrokerClient (options, events, registrations) and the endpoint it caches,
// kept apart from the class so that readers of the API need not read the connection machinery.
import type { MessageReceivedFrame, PresenceChangedFrame, RegisterRequest } from "../protocol/index.js";
import type { BackoffOptions, PublicPhase } from "./connection-state.js";
import type { DiscoverOptions, Discovered } from "./discover.js";
import type { FeedEvent } from "./feed-model.js";

export interface ClientIdentity {
  /** The pid the broker ties endpoints to; default process.pid. It must be a live process. */
  pluginPid?: number;
  clientKind: string;
  clientVersion?: string;
}

export interface BrokerClientOptions extends Partial<ClientIdentity> {
  /** How to find (or start) the broker, on the first connect and after it went away. */
  discover: DiscoverOptions;
  /** Open the observer feed (/v1/events) when the broker offers observer_feed_v1. Default false. */
  observe?: boolean;
  /** Heartbeat interval per endpoint; default 30 s. */
  heartbeatMs?: number;
  /** WebSocket ping interval; a missed pong drops the stream. Default 15 s. */
  pingMs?: number;
  /** Reconnect backoff; default base 50 ms, cap 500 ms. `maxAttempts` gives up (phase disconnected). */
  reconnect?: Partial<BackoffOptions> & { maxAttempts?: number };
  /** Per HTTP request time limit; default 10 s. */
  requestTimeoutMs?: number;
  /** How long a call made while reconnecting waits for the connection; default 5 s. */
  callWaitMs?: number;
  /** Behave as if the broker lacked these capabilities (e.g. to act like a MASONS client). */
  disableCapabilities?: readonly string[];
  /** Endpoints left by an earlier client of this pid (close({unregister:false})): reattached on connect. */
  endpoints?: readonly RegisteredEndpoint[];
  /** How many recent push ids / message ids are remembered to drop duplicates; default 10 000 messages. */
  dedupeCapacity?: number;
  /**
   * Message pushes are acknowledged by the application (`ackMessage`) instead of right after the
   * listeners ran: until then the broker keeps the message, so it survives this process (it moves to
   * the inbox when the endpoint closes) and a broker restart (it is pushed again). For adapters that
   * queue messages for work that outlasts the listener (`switchboard acp`).
   */
  manualMessageAck?: boolean;
  /** Injection points for tests. */
  random?: () => number;
  discoverFn?: (opts: DiscoverOptions) => Promise<Discovered>;
}

/** The body of POST /v1/endpoint/register without the fields the client fills in. */
export type EndpointRegistration = Omit<RegisterRequest, "plugin_pid" | "client_kind" | "client_version">;

export interface RegisteredEndpoint {
  endpointId: string;
  ownerToken: string;
  registration: EndpointRegistration;
}

/** A push for one of this client's endpoints. `endpointId` is its current id (after any re-registration). */
export type ClientMessage = MessageReceivedFrame & { endpointId: string | undefined };

/** Any other event frame on the stream (approval_resolved, stream_cancelled, …), as sent, plus `endpointId`. */
export type StreamEventFrame = { event: string; endpointId: string | undefined; push_id?: string; [key: string]: unknown };

export interface ConnectionChange {
  phase: PublicPhase;
  /** Why the connection was lost or the last attempt failed. */
  reason?: string;
  /** The attempt about to be made (reconnecting), or the one that succeeded (connected), 1-based. */
  attempt?: number;
  /** The error behind `reason`, when there is one. */
  error?: Error;
}

export interface EndpointReplaced {
  oldId: string;
  newId: string;
  /** The broker's answer that forced re-registration, e.g. "endpoint_unknown". */
  reason: string;
}

export interface EndpointReattached {
  endpointId: string;
  /** reattached: was reconnecting, now active (buffer drained); rebound: the broker had already moved it to the new stream. */
  outcome: "reattached" | "rebound" | "reregistered";
  buffered?: number;
}

export interface BrokerClientEvents {
  message: [message: ClientMessage];
  /** Stream events other than messages and presence; acknowledged after the listeners ran, like messages. */
  frame: [frame: StreamEventFrame];
  presence: [presence: PresenceChangedFrame];
  connection: [change: ConnectionChange];
  endpoint_replaced: [replaced: EndpointReplaced];
  reattach: [reattached: EndpointReattached];
  /** Observer feed: a snapshot (after connecting, a broker restart or a gap), then ordered changes. */
  feed: [frame: FeedEvent];
  /** The feed model changed without a frame: the whole text of a pending approval whose feed copy was a preview arrived. */
  feedText: [];
  /** Problems that do not stop the client (bad frames, failed heartbeats). Only emitted if someone listens. */
  error: [error: Error];
}

export interface ServerInfo {
  brokerUrl: string;
  serverVersion: string;
  serverProtocolVersion: string;
  capabilities: Readonly<Record<string, boolean>>;
  sessionId: string;
  feedEpoch: string | undefined;
  spawned: boolean;
  /** Problems the broker says the user should hear about (e.g. `audit_chain_broken`), from /v1/initialize. */
  warnings: { code: string; message: string }[];
}

/** An endpoint this client owns, with what it needs to re-register it, and the stream it is attached to. */
export interface CachedEndpoint {
  endpointId: string;
  ownerToken: string;
  registration: EndpointRegistration;
  /** Generation of the stream this endpoint is attached to. */
  attachedGen: number;
}

export function snapshotOf(ep: CachedEndpoint): RegisteredEndpoint {
  return { endpointId: ep.endpointId, ownerToken: ep.ownerToken, registration: { ...ep.registration } };
}
