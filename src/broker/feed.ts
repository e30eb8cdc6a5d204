// The observer feed (/v1/events): a snapshot, then every change in order with a sequence number.
// A ring of recent changes lets a reconnecting observer resume with ?since=SEQ&epoch=EPOCH; anything
// older, or from another broker run (another epoch), gets a fresh snapshot instead.
import { randomUUID } from "node:crypto";
import type WebSocket from "ws";
import type { FeedChange, FeedChangeBody, FeedSnapshot } from "../protocol/index.js";

/** An observer whose socket buffers more than this is too slow; it is closed and resumes with ?since. */
const SLOW_OBSERVER_BYTES = 16 * 1024 * 1024;

export class Feed {
  readonly epoch = randomUUID();
  /**
   * Sequence numbers start at the clock (in microseconds) so that they keep increasing across broker
   * runs: a `since` from an earlier run is older than anything in this run's ring and gets a snapshot,
   * even from a client that does not send the epoch.
   */
  private seq = Date.now() * 1000;
  /** The last `ringSize` changes, oldest at `ringStart` (a circular buffer: O(1) per change). */
  private readonly ring: FeedChange[] = [];
  private ringStart = 0;
  private readonly observers = new Set<WebSocket>();

  constructor(
    private readonly snapshot: () => Omit<FeedSnapshot, "type" | "epoch" | "seq">,
    private readonly ringSize = 10_000,
  ) {}

  get observerCount(): number {
    return this.observers.size;
  }

  get currentSeq(): number {
    return this.seq;
  }

  publish(change: FeedChangeBody): void {
    const frame: FeedChange = { type: "change", epoch: this.epoch, seq: ++this.seq, change };
    if (this.ring.length < this.ringSize) this.ring.push(frame);
    else {
      this.ring[this.ringStart] = frame;
      this.ringStart = (this.ringStart + 1) % this.ringSize;
    }
    if (this.observers.size === 0) return;
    const text = JSON.stringify(frame);
    for (const ws of this.observers) this.sendTo(ws, text);
  }

  attach(ws: WebSocket, since: number | undefined, epoch: string | undefined): void {
    this.observers.add(ws);
    ws.on("close", () => this.observers.delete(ws));
    const oldest = this.ring[this.ringStart]?.seq ?? this.seq + 1;
    const resumable = since !== undefined && (epoch === undefined || epoch === this.epoch) && since <= this.seq && since >= oldest - 1;
    if (resumable) {
      for (let i = 0; i < this.ring.length; i++) {
        const frame = this.ring[(this.ringStart + i) % this.ring.length]!;
        if (frame.seq > since) this.sendTo(ws, JSON.stringify(frame));
      }
    } else {
      const snap: FeedSnapshot = { type: "snapshot", epoch: this.epoch, seq: this.seq, ...this.snapshot() };
      this.sendTo(ws, JSON.stringify(snap));
    }
  }

  closeAll(code: number, reason: string): void {
    for (const ws of this.observers) ws.close(code, reason);
  }

  private sendTo(ws: WebSocket, text: string): void {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > SLOW_OBSERVER_BYTES) {
      ws.close(1013, "observer too slow; reconnect with ?since=SEQ");
      this.observers.delete(ws);
      return;
    }
    ws.send(text);
  }
}
