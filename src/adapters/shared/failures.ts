// How an adapter words a failure of the broker or the client, and tells "no broker right now" (wait a
// while, then apply the offline policy) from "the broker refused" (deny with its reason).
import { ClientClosedError, NotConnectedError } from "../../client/client-errors.js";
import { BrokerError, BrokerUnreachableError, DiscoveryError } from "../../client/errors.js";

export function errText(err: unknown): string {
  if (err instanceof BrokerError) return `${err.message} (${err.code})`;
  return (err as Error)?.message ?? String(err);
}

/** Failures that mean "no broker right now" (as opposed to the broker refusing something). */
export function isUnreachable(err: unknown): boolean {
  return (
    err instanceof BrokerUnreachableError ||
    err instanceof NotConnectedError ||
    err instanceof DiscoveryError ||
    err instanceof ClientClosedError ||
    (err instanceof BrokerError && (err.code === "unknown_endpoint" || err.code === "endpoint_not_active" || err.code === "shutting_down" || err.code === "unauthorized"))
  );
}
