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

/** JSON of `state` (an object whose values are arrays or plain values), element by element, letting the event loop run every `sliceMs`. */
export async function* stringifySliced(state: object, sliceMs = SLICE_MS): AsyncGenerator<string> {
  let until = performance.now() + sliceMs;
  const pause = async () => {
    if (performance.now() < until) return;
    await new Promise((r) => setImmediate(r));
    until = performance.now() + sliceMs;
  };
  let first = true;
  yield "{";
  for (const [key, value] of Object.entries(state)) {
    if (value === undefined) continue;
    yield `${first ? "" : ","}${JSON.stringify(key)}:`;
    first = false;
    if (!Array.isArray(value)) {
      yield JSON.stringify(value);
      continue;
    }
    yield "[";
    for (let i = 0; i < value.length; i++) {
      yield (i ? "," : "") + (JSON.stringify(value[i]) ?? "null");
      await pause();
    }
    yield "]";
  }
  yield "}";
}

/** `parts` gathered into chunks of at least `chars` characters (the last one may be shorter), for fewer writes. */
export async function* chunked(parts: AsyncIterable<string>, chars = 256 * 1024): AsyncGenerator<string> {
  let chunk = "";
  for await (const part of parts) {
    chunk += part;
    if (chunk.length >= chars) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}
