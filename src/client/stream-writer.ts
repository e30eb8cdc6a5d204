// The producer side of an output stream: numbered chunks with bounded buffering. write() returns false
// when the buffer is full; onDrain() says when to go on. This is how a command runner (switchboard run,
// the VS Code window, the pi adapter) feeds a broker stream.
//
// Output goes as binary frames on the producer's /v1/stream socket when it has one (`frames`), else
// as JSON batches over HTTP. A frame the socket could not write is sent again over HTTP with its seq,
// and from then on the stream stays on HTTP, so chunks never overtake each other (the broker drops a
// seq it already has as a retry).
import { encodeProducerChunk, MAX_FRAME_SEQ, type AbortRequest, type Chunk, type CompleteRequest, type StreamStartRequest, type StreamView } from "../protocol/index.js";
import type { BrokerApi } from "./api.js";
import { BrokerError } from "./errors.js";

/** Sends one binary frame; false when it cannot (then `done` is never called). BrokerClient.sendStreamFrame is one. */
export type FrameSender = (frame: Buffer, done: (err?: Error) => void) => boolean;

export interface StreamWriterOptions {
  /** Returns the current API (after a broker restart it is another object). */
  api: () => Promise<BrokerApi>;
  pluginPid: number;
  /** The producer's socket, for binary frames; it must belong to `pluginPid`. */
  frames?: FrameSender;
  /** Bytes buffered before write() asks the producer to pause; default 4 MiB. */
  highWaterBytes?: number;
  /** Called when sending failed for good (the broker is gone or refused the stream); output is then dropped. */
  onError?: (err: Error) => void;
}

/** Body bytes per HTTP batch, well under the broker's 1 MiB body limit. */
const MAX_BATCH_BYTES = 768 * 1024;

export class StreamWriter {
  private seq = 0;
  /** Chunks waiting for HTTP, in seq order. */
  private queue: Chunk[] = [];
  private queuedBytes = 0;
  private flushing: Promise<void> | undefined;
  /** Frames handed to the socket whose write has not finished yet. */
  private framesInFlight = 0;
  private frameBytes = 0;
  /** Set for good once a frame could not be sent: HTTP only from then on. */
  private httpOnly: boolean;
  private idleWaiters: (() => void)[] = [];
  private drainListeners: (() => void)[] = [];
  private failed: Error | undefined;
  private readonly highWater: number;

  private constructor(
    readonly stream: StreamView,
    private readonly opts: StreamWriterOptions,
  ) {
    this.highWater = opts.highWaterBytes ?? 4 * 1024 * 1024;
    this.httpOnly = !opts.frames;
  }

  static async start(req: StreamStartRequest, opts: StreamWriterOptions): Promise<StreamWriter> {
    const api = await opts.api();
    return new StreamWriter(await api.startStream(req), opts);
  }

  get streamId(): string {
    return this.stream.stream_id;
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Queues output (text, or bytes cut on UTF-8 character boundaries); false means "pause until onDrain". */
  write(channel: number, data: string | Uint8Array): boolean {
    if (!data.length || this.failed) return true;
    const seq = ++this.seq;
    if (!this.httpOnly && seq <= MAX_FRAME_SEQ) {
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      const frame = encodeProducerChunk(this.streamId, channel, seq, bytes);
      if (this.opts.frames!(frame, (err) => this.frameDone(frame.length, err ? { channel, seq, data: text(bytes) } : undefined))) {
        this.framesInFlight++;
        this.frameBytes += frame.length;
        return this.roomLeft();
      }
      this.httpOnly = true;
    }
    this.enqueue({ channel, seq, data: text(data) });
    this.kick();
    return this.roomLeft();
  }

  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  /** Sends what is queued, then ends the stream with the command's outcome. */
  async complete(end: Omit<CompleteRequest, "last_seq">): Promise<StreamView | undefined> {
    await this.flush();
    return this.finish((api) => api.completeStream(this.streamId, { ...end, last_seq: this.seq }, this.opts.pluginPid));
  }

  /** Sends what is queued, then ends the stream as aborted by the producer (with how the process ended, if known). */
  async abort(reason: string, ended: Omit<AbortRequest, "reason"> = {}): Promise<StreamView | undefined> {
    await this.flush();
    return this.finish((api) => api.abortStream(this.streamId, reason, this.opts.pluginPid, ended));
  }

  /** Resolves once every chunk written so far has left: frames written out, HTTP batches answered. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.framesInFlight > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
      else if (this.flushing || (this.queue.length && !this.failed)) {
        this.kick();
        await this.flushing;
      } else return;
    }
  }

  private roomLeft(): boolean {
    return this.queuedBytes + this.frameBytes < this.highWater;
  }

  private enqueue(c: Chunk): void {
    // Frames that failed come back with seqs below what was queued after them: keep seq order.
    let at = this.queue.length;
    while (at > 0 && this.queue[at - 1]!.seq! > c.seq!) at--;
    this.queue.splice(at, 0, c);
    this.queuedBytes += c.data.length;
  }

  private frameDone(size: number, unsent: Chunk | undefined): void {
    this.framesInFlight--;
    this.frameBytes -= size;
    if (unsent && !this.failed) {
      this.httpOnly = true;
      this.enqueue(unsent);
    }
    if (this.framesInFlight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      this.kick();
    }
    this.drained();
  }

  private kick(): void {
    // While frames are in flight one of them may still fail and need to go first.
    if (this.flushing || !this.queue.length || this.failed || this.framesInFlight > 0) return;
    // A batch holds at most MAX_BATCH_BYTES of body: the broker refuses bodies over 1 MiB.
    let take = 0;
    let size = 0;
    let bytes = 0;
    while (take < this.queue.length) {
      const c = this.queue[take]!;
      const est = Buffer.byteLength(JSON.stringify(c.data)) + 48; // this chunk's bytes in the body
      if (take > 0 && size + est > MAX_BATCH_BYTES) break;
      size += est;
      bytes += c.data.length;
      take++;
    }
    const batch = this.queue.splice(0, take);
    this.queuedBytes -= bytes;
    // `flushing` is set before any drain listener runs: a listener that writes synchronously only queues.
    this.flushing = this.sendQueued(batch).finally(() => {
      this.flushing = undefined;
      if (this.queue.length && !this.failed) this.kick();
      else this.drained();
    });
    this.drained();
  }

  private async sendQueued(batch: Chunk[]): Promise<void> {
    try {
      await this.retrying((api) => api.appendChunks(this.streamId, batch, this.opts.pluginPid));
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private drained(): void {
    if (!this.roomLeft() || !this.drainListeners.length) return;
    const listeners = this.drainListeners;
    this.drainListeners = [];
    for (const l of listeners) l();
  }

  private async finish(call: (api: BrokerApi) => Promise<StreamView>): Promise<StreamView | undefined> {
    if (this.failed) return undefined;
    try {
      return await this.retrying(call);
    } catch (err) {
      this.fail(err as Error);
      return undefined;
    }
  }

  /** Retries while the broker is unreachable (it may be restarting); a broker refusal is final. */
  private async retrying<T>(call: (api: BrokerApi) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call(await this.opts.api());
      } catch (err) {
        if (err instanceof BrokerError || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.queue = [];
    this.queuedBytes = 0;
    this.drained();
    this.opts.onError?.(err);
  }
}

function text(data: string | Uint8Array): string {
  return typeof data === "string" ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
}
