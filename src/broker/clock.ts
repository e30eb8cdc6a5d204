// Time, for the broker. Waits inside one run (approval timeouts, reconnect grace, long-polls) are
// measured on a monotonic clock, so a wall-clock step (NTP, a suspended laptop, someone setting the
// date) neither fires them early nor holds them forever. Wall time is only for timestamps people
// read and for deadlines that must outlive the process (an approval's `expires_at`), and those are
// turned back into a monotonic wait, bounded by their original length, when the broker starts.
// Tests inject a clock they move by hand (test/support/clock.ts).

export interface Clock {
  /** Wall time in ms since the epoch: for timestamps, never for measuring a wait. */
  now(): number;
  /** Calls `fn` once `ms` of monotonic time has passed; returns a function that cancels it. The
   * timer does not keep the process alive. */
  after(ms: number, fn: () => void): () => void;
}

/** Node's timers already run on the monotonic clock; this only adds waits longer than 24.8 days
 * (setTimeout would fire those at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    let handle: NodeJS.Timeout;
    const arm = (left: number) => {
      handle = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()), Math.min(left, MAX_TIMER_MS));
      handle.unref();
    };
    arm(Math.max(0, ms));
    return () => clearTimeout(handle);
  },
};
