// What a client does when reattaching one of its endpoints after a reconnect fails: a pure decision
// from the broker's error code, how often this endpoint was retried, and whether the broker moves
// endpoints to a new stream by itself (stream_rebind_v1). The shell (client.ts) performs the step.

/** On a broker without stream_rebind_v1, how often a 409 endpoint_not_reconnecting is retried before re-registering. */
export const NOT_RECONNECTING_RETRIES = 10;
export const NOT_RECONNECTING_DELAY_MS = 100;

export type ReattachStep =
  /** Our broker already moved it to the new stream: nothing to do. */
  | { kind: "rebound" }
  /** A MASONS broker may not have noticed the old stream closing yet: ask again after a pause. */
  | { kind: "retry"; delayMs: number }
  /** The broker no longer knows it (or binds it to a dead socket for good): register it again, unregistering first if asked. */
  | { kind: "reregister"; unregisterFirst: boolean }
  /** Any other failure is the connection's to handle. */
  | { kind: "fail" };

export function reattachStep(code: string, attempt: number, canRebind: boolean): ReattachStep {
  if (code === "endpoint_not_reconnecting") {
    if (canRebind) return { kind: "rebound" };
    if (attempt < NOT_RECONNECTING_RETRIES) return { kind: "retry", delayMs: NOT_RECONNECTING_DELAY_MS };
    return { kind: "reregister", unregisterFirst: true };
  }
  if (code === "endpoint_unknown" || code === "reattach_pid_mismatch") return { kind: "reregister", unregisterFirst: false };
  return { kind: "fail" };
}
