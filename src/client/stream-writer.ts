// The producer side of an output stream: numbered chunks, sent in batches over HTTP, with bounded
// buffering. write() returns false when the buffer is full; onDrain() says when to go on. This is how
// a command runner (switchboard run, the VS Code window, the pi adapter) feeds a broker stream.
import type { Chunk, CompleteRequest, StreamStartRequest, StreamView } from "../protocol/index.js";
import type { BrokerApi } from "./api.js";
import { BrokerError } from "./errors.js";

export interface StreamWriterOptions {
  /** Returns the current API (after a broker restart it is another object). */
  api: () => Promise<BrokerApi>;
  pluginPid: number;
  /** Bytes buffered before write() asks the producer to pause; default 4 MiB. */
  highWaterBytes?: number;
  /** Called when sending failed for good (the broker is gone or refused the stream); output is then dropped. */
  onError?: (err: Error) => void;
}

/** Body bytes per HTTP batch, well under the broker's 1 MiB body limit. */
const MAX_BATCH_BYTES = 768 * 1024;

export class StreamWriter {
  private seq = 0;
  private queue: Chunk[] = [];
  private queuedBytes = 0;
  private flushing: Promise<void> | undefined;
  private drainListeners: (() => void)[] = [];
  private failed: Error | undefined;
  private readonly highWater: number;

  private constructor(
    readonly stream: StreamView,
    private readonly opts: StreamWriterOptions,
  ) {
    this.highWater = opts.highWaterBytes ?? 4 * 1024 * 1024;
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

  /** Queues output; false means "pause until onDrain", so that memory stays bounded. */
  write(channel: number, data: string): boolean {
    if (!data || this.failed) return true;
    this.queue.push({ channel, seq: ++this.seq, data });
    this.queuedBytes += data.length;
    this.kick();
    return this.queuedBytes < this.highWater;
  }

  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  /** Sends what is queued, then ends the stream with the command's outcome. */
  async complete(end: Omit<CompleteRequest, "last_seq">): Promise<StreamView | undefined> {
    await this.flush();
    return this.finish((api) => api.completeStream(this.streamId, { ...end, last_seq: this.seq }, this.opts.pluginPid));
  }

  /** Sends what is queued, then ends the stream as aborted by the producer. */
  async abort(reason: string): Promise<StreamView | undefined> {
    await this.flush();
    return this.finish((api) => api.abortStream(this.streamId, reason, this.opts.pluginPid));
  }

  async flush(): Promise<void> {
    while (this.flushing || (this.queue.length && !this.failed)) {
      this.kick();
      await this.flushing;
    }
  }

  private kick(): void {
    if (this.flushing || !this.queue.length || this.failed) return;
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
    if (this.queuedBytes >= this.highWater) return;
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
