// Work over a backlog, a slice of the event loop at a time: whatever is done per item, other requests
// (GET /health, a decision) get a turn every `sliceMs`, so no stall grows with the backlog.

/** How long one slice of backlog work may run before other requests get a turn. */
export const SLICE_MS = 5;

/** Yields `items` in order, letting the event loop run (setImmediate) whenever `sliceMs` of work has passed. */
export async function* inSlices<T>(items: Iterable<T>, sliceMs = SLICE_MS): AsyncGenerator<T> {
  let until = performance.now() + sliceMs;
  for (const item of items) {
    if (performance.now() >= until) {
      await new Promise((resolve) => setImmediate(resolve));
      until = performance.now() + sliceMs;
    }
    yield item;
  }
}
