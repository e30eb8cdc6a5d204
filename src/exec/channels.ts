// The output of one command: channels 1 (stdout) and 2 (stderr), each decoded on UTF-8 boundaries by
// its own StringDecoder, handed to `onOutput` in order per channel, paused while the consumer asks
// for it (both pipes stop; nothing is dropped). Output is never accumulated beyond what a paused
// consumer holds back. The run (run.ts) decides when the output is complete or abandoned.
import type { ChildProcess } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import type { Channel, ExecOptions } from "./types.js";

/** What the channels tell the run they belong to. */
export interface ChannelHooks {
  /** Output was delivered or a pipe ended: the run may be able to end now. */
  progress(): void;
  /** The consumer paused the output. */
  paused(): void;
  /** `onOutput` threw: the command must be stopped (nothing more is delivered). */
  callbackFailed(): void;
}

export class OutputChannels {
  /** raw bytes read per channel */
  readonly bytes = { 1: 0, 2: 0 };
  /** false once undelivered output was discarded */
  complete = true;
  /** what `onOutput` threw, if it did */
  callbackError: { value: unknown } | null = null;
  private readonly decoders = { 1: new StringDecoder("utf8"), 2: new StringDecoder("utf8") };
  private readonly eof = { 1: false, 2: false };
  private readonly queue: Array<[Channel, string]> = [];
  private isPaused = false;
  private pumping = false;
  private closed = false;

  constructor(
    private readonly child: ChildProcess,
    private onOutput: ExecOptions["onOutput"],
    private readonly hooks: ChannelHooks,
  ) {
    for (const channel of [1, 2] as const) {
      const stream = channel === 1 ? child.stdout : child.stderr;
      if (!stream) {
        this.eof[channel] = true;
        continue;
      }
      stream.on("data", (chunk: Buffer) => this.onData(channel, chunk));
      stream.on("end", () => this.onEnd(channel));
      stream.on("error", () => this.onEnd(channel));
      stream.on("close", () => this.onEnd(channel));
    }
  }

  get paused(): boolean {
    return this.isPaused;
  }

  /** Both pipes ended and everything read was handed to the consumer. */
  delivered(): boolean {
    return this.eof[1] && this.eof[2] && this.queue.length === 0;
  }

  resume(): void {
    if (!this.isPaused || this.closed) return;
    this.isPaused = false;
    this.pump();
    if (this.isPaused || this.closed) return;
    this.child.stdout?.resume();
    this.child.stderr?.resume();
  }

  /** Drops what was not delivered and closes the pipes (partial characters in the decoders are lost). */
  abandon(): void {
    this.complete = false;
    this.queue.length = 0;
    this.eof[1] = this.eof[2] = true;
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
  }

  /** The run is over: later pipe events change nothing. */
  close(): void {
    this.closed = true;
  }

  private onData(channel: Channel, chunk: Buffer): void {
    this.bytes[channel] += chunk.length;
    const text = this.decoders[channel].write(chunk);
    if (text) this.queue.push([channel, text]);
    this.pump();
  }

  private onEnd(channel: Channel): void {
    if (this.eof[channel] || this.closed) return;
    this.eof[channel] = true;
    const tail = this.decoders[channel].end();
    if (tail) this.queue.push([channel, tail]);
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.isPaused && this.queue.length > 0) {
        const [channel, text] = this.queue.shift()!;
        if (this.deliver(channel, text) === false) this.pause();
      }
    } finally {
      this.pumping = false;
    }
    this.hooks.progress();
  }

  private deliver(channel: Channel, text: string): boolean | undefined {
    if (!this.onOutput) return;
    try {
      return this.onOutput(channel, text);
    } catch (err) {
      this.callbackError = { value: err };
      this.onOutput = undefined; // keep draining the pipes, deliver nothing more
      this.hooks.callbackFailed();
      return;
    }
  }

  private pause(): void {
    if (this.isPaused) return;
    this.isPaused = true;
    this.child.stdout?.pause();
    this.child.stderr?.pause();
    this.hooks.paused();
  }
}
