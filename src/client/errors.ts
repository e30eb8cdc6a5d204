// Errors a client raises: a broker answer with its stable code, or a failure to find or reach a broker.

/** The broker refused a request; `code` is the wire error code (e.g. "endpoint_unknown"). */
export class BrokerError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "BrokerError";
  }
}

export type DiscoveryFailure = "not_running" | "unhealthy" | "unresponsive" | "spawn_failed" | "timeout" | "invalid_record";

/** No usable broker: the message says what happened and what to do. */
export class DiscoveryError extends Error {
  constructor(
    readonly code: DiscoveryFailure,
    message: string,
  ) {
    super(message);
    this.name = "DiscoveryError";
  }
}

/** The broker could not be reached at all (connection refused, reset, timeout). */
export class BrokerUnreachableError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`Could not reach the broker at ${url}: ${(cause as Error)?.message ?? String(cause)}.`);
    this.name = "BrokerUnreachableError";
  }
}
