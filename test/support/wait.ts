// Bounded waiting for tests: every wait names what it waited for when it gives up.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `p`, or a rejection naming `what` after `ms`; the timer never outlives the race. */
export async function within<T>(p: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${typeof what === "string" ? what : what()}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

type Probe<T> = () => T | undefined | null | false | Promise<T | undefined | null | false>;

/**
 * Polls `probe` every `everyMs` until it returns something truthy. A probe that throws is tried again
 * (what it polls may not be there yet); the last error is named if the wait gives up. Every test and
 * bench polls through this one function (or `until`, the same with the name first).
 */
export async function waitFor<T>(probe: Probe<T>, timeoutMs: number, what: string, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error)?.message ?? String(lastError)})` : ""}`);
    await sleep(everyMs);
  }
}

/** `waitFor` with what it waits for first, as the UI and pi suites read best. */
export function until<T>(what: string, probe: Probe<T>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  return waitFor(probe, timeoutMs, what, everyMs);
}
