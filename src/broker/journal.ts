// Durable append-only journal: whatever append() resolved survives kill -9 and restart.
//
// On disk (all inside opts.dir, dir 0700, files 0600):
//   log-<N>.ndjson      one line per record: {"s":seq,"r":record}\n, N increasing
//   snapshot.json       {"version":1,"seq":upTo,"state":...}: state after every record <= upTo
//   snapshot.json.tmp   in-progress snapshot; deleted at open (rename is the commit point)
// (the format: journal-format.ts; snapshot files: journal-files.ts; reading it all back: journal-recovery.ts)
//
// Writes go through a single ordered queue of batches (group commit): every append made while a
// write+fdatasync is in flight goes out in the next single write. Batches are written strictly in
// order, so a resolved append implies every earlier append is durable too.
//
// Storage faults (disk full, read-only, I/O errors). The caller applies a record to its in-memory
// state when it appends it, so a record must never be dropped once enqueued: memory and disk would
// then disagree, and a later snapshot or a later record could make a change durable that was never
// written in order. So:
//   - A failed write (ENOSPC, EROFS, EDQUOT, ... from open or write) rejects the promises of every
//     record queued at that moment (their requests are answered with an error, not acknowledged),
//     but keeps their bytes queued, in order. The journal is then "failing" (`failure`): it retries
//     the remaining bytes every RETRY_MS (and on every new append) from exactly where the failed
//     write stopped, and becomes healthy again once they are on disk. A rejected append is thus like
//     a request cut off by a crash: it may still take effect later, or (after a crash) not at all.
//   - A failed fdatasync is different: after it, the kernel may have dropped the dirty pages and a
//     second fdatasync can report success for data that is gone. The journal then refuses every
//     further write (`failure` stays set) until the broker restarts and recovers from what is on disk.

import { readdir, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { openNoFollow } from "../platform/files.js";
import { type JournalLog, syncDir, writeSnapshot } from "./journal-files.js";
import { FILE_MODE, encodeLine, segmentName, segmentNumber, snapshotHead } from "./journal-format.js";
import { stringifySliced } from "./slices.js";
import { type Recovered, recoverFolder } from "./journal-recovery.js";

export type { Recovered } from "./journal-recovery.js";

export interface JournalOptions {
  dir: string; // created with mode 0o700 if missing; files inside get mode 0o600
  fsync?: boolean; // default true: fdatasync before an append's promise resolves
  log?: JournalLog;
  /** Test hook: runs before each batch's fdatasync (a slow disk). */
  beforeSync?: () => Promise<void>;
}

export interface JournalStats {
  batches: number; // write+sync rounds done
  records: number; // records written
  bytes: number; // bytes written to segments
}

type Log = JournalLog;

interface Segment {
  n: number;
  fh: FileHandle | undefined; // opened lazily by the writer, so idle restarts create no files
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Batch {
  seg: Segment; // a batch never spans segments
  data: string;
  bytes: Buffer | undefined; // `data` encoded, once the writer took the batch
  written: number; // bytes of `bytes` already in the file: a failed write resumes here
  count: number;
  sealed: boolean; // true once the writer took it; later appends start a new batch
  waiters: Waiter[];
}

/** Longest a lazily appended record waits for a batch to ride along with. */
const LAZY_MS = 200;
/** While failing, how often the journal tries to write the bytes it still holds. */
const RETRY_MS = 250;

const defaultLog: Log = (level, msg, fields) => {
  // Warnings and errors must not vanish when the caller passes no logger.
  if (level !== "info") console.error(`[journal] ${level}: ${msg}`, fields ?? "");
};

export class Journal<S, R> {
  private readonly dir: string;
  private readonly fsync: boolean;
  private readonly log: Log;
  private readonly beforeSync: (() => Promise<void>) | undefined;
  private nextSeq: number;
  private current: Segment;
  private readonly batches: Batch[] = []; // batches[0] may be in flight
  private scheduled = false;
  private lazyTimer: NodeJS.Timeout | undefined;
  private writing = false;
  private failing: unknown = undefined; // last write error while bytes are still waiting; retried
  private retryTimer: NodeJS.Timeout | undefined;
  private broken: unknown = undefined; // a failed fdatasync: the journal refuses everything after it
  private closed = false;
  private closing: Promise<void> | undefined;
  private compactions: Promise<void> = Promise.resolve(); // tail of the compaction chain; never rejects
  private readonly segBytes = new Map<number, number>(); // live segment -> bytes (written or queued)
  private readonly counters: JournalStats = { batches: 0, records: 0, bytes: 0 };
  /** Size of the last snapshot written or read: a compaction rewrites about this much. */
  private snapshotSize = 0;

  private constructor(opts: JournalOptions, nextSeq: number, segN: number) {
    this.dir = opts.dir;
    this.fsync = opts.fsync ?? true;
    this.log = opts.log ?? defaultLog;
    this.beforeSync = opts.beforeSync;
    this.nextSeq = nextSeq;
    this.current = { n: segN, fh: undefined };
  }

  static async open<S, R>(opts: JournalOptions): Promise<{ journal: Journal<S, R>; recovered: Recovered<S, R> }> {
    const folder = await recoverFolder<S, R>(opts.dir, opts.fsync ?? true, opts.log ?? defaultLog);
    const journal = new Journal<S, R>(opts, folder.nextSeq, folder.nextSegment);
    journal.snapshotSize = folder.snapshotSize;
    for (const [n, size] of folder.liveSegments) journal.segBytes.set(n, size);
    return { journal, recovered: folder.recovered };
  }

  /** Enqueues synchronously (seq order = call order); resolves once the record is durable. */
  append(record: R): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const err = this.enqueue(record, { resolve, reject });
      if (err) reject(err);
      else this.kick();
    });
  }

  /**
   * Enqueues a record that nobody waits for, because losing it in a crash is harmless (an ack: the
   * push is sent again and deduplicated). It rides along with the next batch, or goes out within
   * LAZY_MS, instead of costing a write and an fdatasync of its own.
   */
  appendLazy(record: R): void {
    const err = this.enqueue(record, undefined);
    if (err) return void this.log("warn", "journal: lazy append refused", { error: String(err) });
    if (this.writing || this.scheduled || this.lazyTimer) return;
    this.lazyTimer = setTimeout(() => {
      this.lazyTimer = undefined;
      this.kick();
    }, LAZY_MS);
  }

  private enqueue(record: R, waiter: Waiter | undefined): unknown {
    if (this.closed) return new Error(`journal ${this.dir}: append after close`);
    if (this.broken !== undefined) return this.broken;
    // While failing, records are still queued (never dropped) and the append tries the write again.
    const line = encodeLine(this.nextSeq, record);
    if (typeof line !== "string") return line.error; // no seq consumed
    this.nextSeq++;
    const seg = this.current;
    this.segBytes.set(seg.n, (this.segBytes.get(seg.n) ?? 0) + Buffer.byteLength(line));
    let batch = this.batches.at(-1);
    if (batch === undefined || batch.sealed || batch.seg !== seg) {
      batch = { seg, data: "", bytes: undefined, written: 0, count: 0, sealed: false, waiters: [] };
      this.batches.push(batch);
    }
    batch.data += line;
    batch.count++;
    if (waiter) batch.waiters.push(waiter);
    return undefined;
  }

  /** Resolves when everything appended so far is durable; rejects if a write fails on the way. */
  flush(): Promise<void> {
    return this.barrier();
  }

  /**
   * The storage error while the journal cannot write: records are being kept and retried (a failed
   * write), or refused until a restart (a failed fdatasync). Undefined when healthy.
   */
  get failure(): unknown {
    return this.broken ?? this.failing;
  }

  /** Bytes in log segments since the last completed snapshot, counted at enqueue time. */
  get pendingBytes(): number {
    let total = 0;
    for (const b of this.segBytes.values()) total += b;
    return total;
  }

  /** Bytes of the last snapshot. Compacting only once the log has grown by as much keeps the cost of
   * compaction amortised O(1) per appended byte, however large the state is. */
  get snapshotBytes(): number {
    return this.snapshotSize;
  }

  get stats(): JournalStats {
    return { ...this.counters };
  }

  /**
   * Persists `state` (which must reflect exactly every record appended so far) and drops the
   * segments it covers. The state is serialized and the segment switched synchronously, so appends
   * made after this call are never covered by this snapshot. Concurrent calls are serialized: each
   * takes its snapshot at call time and writes it after the previous compaction finished.
   */
  compact(state: S, opts: { sliced?: boolean } = {}): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`journal ${this.dir}: compact after close`));
    // Not while writes fail: the snapshot would need the bytes that cannot be written yet.
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const head = snapshotHead(this.nextSeq - 1);
    let body: AsyncIterable<string> | string;
    if (opts.sliced) {
      // Serialized a slice at a time while the broker goes on: `state` must be a fresh object whose
      // parts are never changed afterwards (the store's toSnapshot: arrays of records it replaces, never edits).
      body = (async function* () {
        yield head;
        yield* stringifySliced(state as object);
        yield "}";
      })();
    } else {
      let json: string | undefined;
      try {
        json = JSON.stringify(state);
      } catch (err) {
        return Promise.reject(err);
      }
      if (json === undefined) return Promise.reject(new TypeError("journal: state is not a JSON value"));
      body = `${head}${json}}`;
    }
    const old = this.current;
    const oldDone = this.barrier(); // everything <= upTo is in segments <= old.n
    oldDone.catch(() => {}); // awaited below; avoid an unhandled rejection while queued
    this.current = { n: old.n + 1, fh: undefined };

    const run = async (): Promise<void> => {
      try {
        await oldDone;
      } finally {
        // Nothing is ever queued for `old` again, so its handle can go even if the write failed.
        const fh = old.fh;
        old.fh = undefined;
        await fh?.close();
      }
      await this.writeSnapshot(body);
      const removed = await this.deleteSegmentsBelow(old.n + 1);
      this.log("info", "journal: compacted", { dir: this.dir, segmentsRemoved: removed });
    };
    const p = this.compactions.then(run);
    p.catch((err: unknown) => this.log("error", "journal: compaction failed", { dir: this.dir, error: String(err) }));
    // The caller of each compaction gets its own error via `p`; the chain itself must keep going.
    this.compactions = p.then(
      () => {},
      () => {},
    );
    return p;
  }

  /** Waits for compactions and pending appends, then closes files. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.lazyTimer);
    try {
      await this.compactions;
      await this.barrier();
    } finally {
      const fh = this.current.fh;
      this.current.fh = undefined;
      await fh?.close();
    }
  }

  private barrier(): Promise<void> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    const last = this.batches.at(-1);
    if (last === undefined) return Promise.resolve();
    // Batches complete in order, so the last one finishing means all of them did. Kick, since the
    // last batch may hold only lazy records that were waiting for a ride.
    const done = new Promise<void>((resolve, reject) => last.waiters.push({ resolve, reject }));
    this.kick();
    return done;
  }

  private kick(): void {
    clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    // setImmediate rather than writing now: everything appended in this turn joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.broken !== undefined) return;
    this.writing = true;
    try {
      while (this.batches.length > 0) {
        const batch = this.batches[0]!;
        batch.sealed = true;
        try {
          await this.writeBatch(batch);
        } catch (err) {
          this.fail(err, batch);
          return;
        }
        this.batches.shift();
        for (const w of batch.waiters) w.resolve();
      }
      if (this.failing !== undefined) {
        this.log("warn", "journal: writes succeed again; every kept record is on disk", { dir: this.dir });
        this.failing = undefined;
      }
    } finally {
      this.writing = false;
    }
  }

  private async writeBatch(batch: Batch): Promise<void> {
    const seg = batch.seg;
    if (seg.fh === undefined) {
      seg.fh = await openNoFollow(join(this.dir, segmentName(seg.n)), "a", FILE_MODE);
      // The new directory entry must be durable too, or a synced file could vanish on power loss.
      if (this.fsync) await syncDir(this.dir);
    }
    if (batch.bytes === undefined) {
      batch.bytes = Buffer.from(batch.data, "utf8");
      batch.data = "";
    }
    const buf = batch.bytes;
    // One write call normally; loop in case the OS accepts a short write. `written` survives a
    // failure, so a retry appends exactly the missing bytes and the line comes out whole.
    while (batch.written < buf.length) {
      const { bytesWritten } = await seg.fh.write(buf, batch.written, buf.length - batch.written);
      batch.written += bytesWritten;
    }
    if (this.fsync) {
      await this.beforeSync?.();
      try {
        await seg.fh.datasync();
      } catch (err) {
        throw Object.assign(new Error(`journal ${this.dir}: fdatasync failed: ${String(err)}`, { cause: err }), { syncFailed: true, code: (err as NodeJS.ErrnoException).code });
      }
    }
    this.counters.batches++;
    this.counters.records += batch.count;
    this.counters.bytes += buf.length;
  }

  // See "Storage faults" at the top. Either way, whoever waits for a queued record is told now.
  private fail(err: unknown, batch: Batch): void {
    for (const b of this.batches) for (const w of b.waiters.splice(0)) w.reject(err);
    if ((err as { syncFailed?: boolean }).syncFailed) {
      this.broken = err;
      this.log("error", "journal: fdatasync failed; refusing further writes until the broker restarts", { dir: this.dir, error: String(err) });
      return;
    }
    if (this.failing === undefined) this.log("error", "journal: write failed; keeping the records and retrying", { dir: this.dir, error: String(err) });
    this.failing = err;
    // The handle may be the cause (closed, on a file system gone read-only): open the file again.
    const fh = batch.seg.fh;
    batch.seg.fh = undefined;
    fh?.close().catch(() => {});
    clearTimeout(this.retryTimer);
    if (this.closed) return; // shutting down: what is still queued was never acknowledged
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  private async writeSnapshot(body: string | AsyncIterable<string>): Promise<void> {
    this.snapshotSize = await writeSnapshot(this.dir, body, this.fsync);
    if (this.fsync) await syncDir(this.dir); // make the rename durable before deleting segments
  }

  private async deleteSegmentsBelow(n: number): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.dir)) {
      const seg = segmentNumber(name);
      if (seg === undefined || seg >= n) continue;
      await unlink(join(this.dir, name));
      this.segBytes.delete(seg);
      removed++;
    }
    // Not fsyncing the directory: a resurrected segment only holds records <= snapshot seq,
    // which recovery ignores and deletes.
    return removed;
  }
}
