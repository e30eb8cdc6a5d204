// Waiting that an abort cuts short: a pause, and a promise given a time limit. For adapters whose
// tool calls carry an AbortSignal and whose shutdown must not hang on a broker that went away.

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Resolves with `p`, or with undefined once `signal` aborts or `ms` pass. */
export function bounded<T>(p: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => (stop(), resolve(undefined));
    const timer = setTimeout(() => (stop(), resolve(undefined)), ms);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => (stop(), resolve(v)),
      (e: unknown) => (stop(), reject(e)),
    );
  });
}
