// The client library: what the extension, the CLI and agent adapters import.
export { BrokerClient } from "./client.js";
export type {
  BrokerClientEvents,
  BrokerClientOptions,
  ClientIdentity,
  ClientMessage,
  ConnectionChange,
  EndpointReattached,
  EndpointRegistration,
  EndpointReplaced,
  RegisteredEndpoint,
  ServerInfo,
  StreamEventFrame,
} from "./client.js";
export { BrokerApi, type ApiOptions } from "./api.js";
export { discover, defaultBrokerEntry, type DiscoverOptions, type Discovered } from "./discover.js";
export { BrokerError, BrokerUnreachableError, DiscoveryError, type DiscoveryFailure } from "./errors.js";
export { CapabilityMissingError, ClientClosedError, NotConnectedError, ProtocolMismatchError, StreamInUseError } from "./client-errors.js";
export { backoffMs, DEFAULT_BACKOFF, type BackoffOptions, type PublicPhase } from "./connection-state.js";
export {
  ON_DEMAND_RETRY_MS,
  TIMED_RETRY_MS,
  attemptFailed,
  attemptStarted,
  connectRetry,
  connectSucceeded,
  retryDelayMs,
  retryDueIn,
  type ConnectRetry,
} from "./connect-retry.js";
export type { FeedEvent, FeedModel, FeedRecord } from "./feed-model.js";
export { StreamWriter, type FrameSender, type StreamWriterOptions } from "./stream-writer.js";
export { followStream, type FollowOptions, type Following } from "./follow.js";
