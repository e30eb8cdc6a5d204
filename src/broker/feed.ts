// The observer feed (/v1/events): a snapshot, then every change in order with a sequence number.
// A ring of recent changes lets a reconnecting observer resume with ?since=SEQ&epoch=EPOCH; anything
// older, or from another broker run (another epoch), gets a fresh snapshot instead.
import { randomUUID } from "node:crypto";
import type WebSocket from "ws";
import type { FeedChange, FeedChangeBody, FeedSnapshot } from "../protocol/index.js";
import { chunked, inSlices, stringifySliced } from "./slices.js";

/** A snapshot goes out in fragments of about this many characters. */
const SNAPSHOT_CHUNK_CHARS = 256 * 1024;

/** An observer whose socket buffers more than this is too slow; it is closed and resumes with ?since. */
const SLOW_OBSERVER_BYTES = 16 * 1024 * 1024;

/** While an observer catches up, the broker waits for its socket beyond this (it is not slow: it has much to read). */
const CATCH_UP_BUFFER_BYTES = 4 * 1024 * 1024;

/** A change as kept in the ring; its text is made once, when first sent. */
interface RingEntry {
  frame: FeedChange;
  text: string | undefined;
}

const textOf = (entry: RingEntry): string => (entry.text ??= JSON.stringify(entry.frame));

export class Feed {
  readonly epoch = randomUUID();
  /**
   * Sequence numbers start at the clock (in microseconds) so that they keep increasing across broker
   * runs: a `since` from an earlier run is older than anything in this run's ring and gets a snapshot,
   * even from a client that does not send the epoch.
   */
  private seq = Date.now() * 1000;
  /** The last `ringSize` changes, oldest at `ringStart` (a circular buffer: O(1) per change). */
  private readonly ring: RingEntry[] = [];
  private ringStart = 0;
  private readonly observers = new Set<WebSocket>();
  /** Observers whose snapshot or missed changes are still being sent, with the changes published meanwhile (sent after them, in order). */
  private readonly waiting = new Map<WebSocket, string[]>();

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
    const entry: RingEntry = { frame: { type: "change", epoch: this.epoch, seq: ++this.seq, change }, text: undefined };
    if (this.ring.length < this.ringSize) this.ring.push(entry);
    else {
      this.ring[this.ringStart] = entry;
      this.ringStart = (this.ringStart + 1) % this.ringSize;
    }
    if (this.observers.size === 0) return;
    const text = textOf(entry);
    for (const ws of this.observers) this.sendTo(ws, text);
  }

  attach(ws: WebSocket, since: number | undefined, epoch: string | undefined): void {
    this.observers.add(ws);
    ws.on("close", () => this.observers.delete(ws));
    const oldest = this.ring[this.ringStart]?.frame.seq ?? this.seq + 1;
    const resumable = since !== undefined && (epoch === undefined || epoch === this.epoch) && since <= this.seq && since >= oldest - 1;
    if (resumable) {
      // Sequence numbers in the ring are consecutive: the missed ones are its last `seq - since`.
      const missed: RingEntry[] = [];
      for (let i = this.ring.length - (this.seq - since); i < this.ring.length; i++) missed.push(this.ring[(this.ringStart + i) % this.ring.length]!);
      this.waiting.set(ws, []);
      void this.catchUp(ws, missed);
    } else {
      // Taken now (its parts are never changed afterwards: the store replaces what changes), sent a slice at a time.
      const snap: FeedSnapshot = { type: "snapshot", epoch: this.epoch, seq: this.seq, ...this.snapshot() };
      this.waiting.set(ws, []);
      void this.sendSnapshot(ws, snap);
    }
  }

  /**
   * A snapshot lists every pending approval, so it grows with the backlog: it is serialized a slice at a
   * time and sent as fragments of one WebSocket message as it comes, and nobody else waits for all of it.
   */
  private async sendSnapshot(ws: WebSocket, snap: FeedSnapshot): Promise<void> {
    // Each fragment once the one before is written: the observer's pace, not a snapshot's worth of buffer.
    const send = (text: string, fin: boolean) => new Promise<void>((resolve) => ws.send(text, { fin }, () => resolve()));
    try {
      let last: string | undefined;
      for await (const chunk of chunked(stringifySliced(snap), SNAPSHOT_CHUNK_CHARS)) {
        if (ws.readyState !== ws.OPEN) return;
        if (last !== undefined) await send(last, false);
        last = chunk;
      }
      if (ws.readyState !== ws.OPEN || last === undefined) return;
      await send(last, true);
    } finally {
      this.caughtUp(ws);
    }
  }

  /** The changes a resuming observer missed (up to the whole ring), a slice at a time, at the observer's pace. */
  private async catchUp(ws: WebSocket, missed: RingEntry[]): Promise<void> {
    try {
      for await (const entry of inSlices(missed)) {
        if (ws.readyState !== ws.OPEN) return;
        const text = textOf(entry);
        if (ws.bufferedAmount < CATCH_UP_BUFFER_BYTES) ws.send(text);
        else await new Promise((resolve) => ws.send(text, resolve));
      }
    } finally {
      this.caughtUp(ws);
    }
  }

  /** Sends what was published while the observer caught up, and from now on every change as it comes. */
  private caughtUp(ws: WebSocket): void {
    const queued = this.waiting.get(ws) ?? [];
    this.waiting.delete(ws);
    for (const text of queued) this.sendTo(ws, text);
  }

  closeAll(code: number, reason: string): void {
    for (const ws of this.observers) ws.close(code, reason);
  }

  private sendTo(ws: WebSocket, text: string): void {
    if (ws.readyState !== ws.OPEN) return;
    const queued = this.waiting.get(ws);
    if (queued) return void queued.push(text); // after its snapshot
    if (ws.bufferedAmount > SLOW_OBSERVER_BYTES) {
      ws.close(1013, "observer too slow; reconnect with ?since=SEQ");
      this.observers.delete(ws);
      return;
    }
    ws.send(text);
  }
}
