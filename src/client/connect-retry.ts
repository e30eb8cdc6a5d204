// When to try a failed first connect again: the one policy for every caller, pure so that it is
// tested without timers. The phase machine (connection-state.ts) fails a first connect fast (the
// caller of connect() gets the cause instead of a silent retry loop) and reconnects by itself only
// once it was connected. A caller that must keep trying spaces its attempts with this:
// - on a timer, as the VS Code window does: wait `retryDelayMs` after each failure (TIMED_RETRY_MS:
//   2 s, 5 s, 10 s, then every 30 s), so a broker that comes back is found soon without a hot loop;
// - on demand, as agent adapters do: try again when a gated call needs the broker, but not before
//   `retryDueIn` says so (ON_DEMAND_RETRY_MS: 5 s after the last attempt began), so a session
//   without a broker does not make every tool call wait for discovery.

/** Waits after the 1st, 2nd, … failure in a row; the last one repeats. */
export const TIMED_RETRY_MS: readonly number[] = [2000, 5000, 10_000, 30_000];
export const ON_DEMAND_RETRY_MS: readonly number[] = [5000];

export interface ConnectRetry {
  readonly schedule: readonly number[];
  /** Failed attempts since the last success. */
  readonly failures: number;
  /** When the last attempt began (milliseconds on the caller's clock). */
  readonly lastAttemptAt: number | undefined;
}

export function connectRetry(schedule: readonly number[]): ConnectRetry {
  if (schedule.length === 0 || schedule.some((ms) => !(ms >= 0))) throw new RangeError("a retry schedule needs at least one delay, none negative");
  return { schedule, failures: 0, lastAttemptAt: undefined };
}

export function attemptStarted(r: ConnectRetry, now: number): ConnectRetry {
  return { ...r, lastAttemptAt: now };
}

export function attemptFailed(r: ConnectRetry): ConnectRetry {
  return { ...r, failures: r.failures + 1 };
}

export function connectSucceeded(r: ConnectRetry): ConnectRetry {
  return { ...r, failures: 0 };
}

/** How long to wait after the latest failure before trying again. */
export function retryDelayMs(r: ConnectRetry): number {
  return r.schedule[Math.min(Math.max(r.failures - 1, 0), r.schedule.length - 1)]!;
}

/** Milliseconds until another attempt may begin (0: now), counted from the start of the last one. */
export function retryDueIn(r: ConnectRetry, now: number): number {
  if (r.lastAttemptAt === undefined) return 0;
  return Math.max(0, r.lastAttemptAt + retryDelayMs(r) - now);
}
