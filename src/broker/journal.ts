// Durable append-only journal: whatever append() resolved survives kill -9 and restart.
//
// On disk (all inside opts.dir, dir 0700, files 0600):
//   log-<N>.ndjson      one line per record: {"s":seq,"r":record}\n, N increasing
//   snapshot.json       {"version":1,"seq":upTo,"state":...}: state after every record <= upTo
//   snapshot.json.tmp   in-progress snapshot; deleted at open (rename is the commit point)
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

import { mkdir, open, readdir, readFile, rename, rm, unlink, type FileHandle } from "node:fs/promises";
import { openNoFollow, readFileNoFollow } from "../platform/files.js";
import { join } from "node:path";

export interface JournalOptions {
  dir: string; // created with mode 0o700 if missing; files inside get mode 0o600
  fsync?: boolean; // default true: fdatasync before an append's promise resolves
  log?: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
  /** Test hook: runs before each batch's fdatasync (a slow disk). */
  beforeSync?: () => Promise<void>;
}

export interface Recovered<S, R> {
  snapshot: S | undefined; // state from the last complete snapshot, if any
  records: R[]; // records appended after that snapshot, in order
  tornTail: boolean; // true if an incomplete last record was found and cut off
  skipped: number; // corrupt records in the middle that were skipped (logged as warn)
}

export interface JournalStats {
  batches: number; // write+sync rounds done
  records: number; // records written
  bytes: number; // bytes written to segments
}

type Log = NonNullable<JournalOptions["log"]>;

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

const SNAPSHOT = "snapshot.json";
const SNAPSHOT_TMP = "snapshot.json.tmp";
const SEGMENT_RE = /^log-(\d+)\.ndjson$/;
const FILE_MODE = 0o600;
/** Longest a lazily appended record waits for a batch to ride along with. */
const LAZY_MS = 200;
/** While failing, how often the journal tries to write the bytes it still holds. */
const RETRY_MS = 250;
const DIR_MODE = 0o700;

const segmentName = (n: number): string => `log-${String(n).padStart(10, "0")}.ndjson`;

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
    const { dir } = opts;
    const log = opts.log ?? defaultLog;
    const fsync = opts.fsync ?? true;
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    // A leftover tmp is a snapshot whose rename never happened: the old snapshot and all
    // segments it would have replaced are still there, so it carries nothing we need.
    await rm(join(dir, SNAPSHOT_TMP), { force: true });

    const snap = await readSnapshot(join(dir, SNAPSHOT), log);
    const snapSeq = snap?.seq ?? 0;

    const segs = (await readdir(dir))
      .map((name) => SEGMENT_RE.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);

    const entries: Array<{ s: number; r: unknown }> = [];
    const live = new Map<number, number>();
    let maxSeq = snapSeq;
    let tornTail = false;
    let skipped = 0;

    for (const [i, n] of segs.entries()) {
      const file = join(dir, segmentName(n));
      const buf = await readFileNoFollow(file);
      const isLast = i === segs.length - 1;
      const lines: Array<{ start: number; text: string }> = [];
      let pos = 0;
      for (let nl = buf.indexOf(0x0a, pos); nl !== -1; nl = buf.indexOf(0x0a, pos)) {
        lines.push({ start: pos, text: buf.toString("utf8", pos, nl) });
        pos = nl + 1;
      }
      let size = buf.length;
      let segBad = 0;
      let segMax = 0;

      // Torn tail: the last write of the last segment was interrupted. It was never acknowledged
      // (its sync never finished), so cutting it loses nothing and lets later appends stay clean.
      let cut: number | undefined;
      if (isLast && pos < buf.length) cut = pos;
      else if (isLast && lines.length > 0 && parseLine(lines.at(-1)!.text) === undefined) cut = lines.pop()!.start;
      if (cut !== undefined) {
        log("warn", "journal: cutting torn tail", { file, offset: cut, bytes: buf.length - cut });
        const fh = await openNoFollow(file, "r+");
        try {
          await fh.truncate(cut);
          if (fsync) await fh.sync();
        } finally {
          await fh.close();
        }
        size = cut;
        tornTail = true;
      } else if (pos < buf.length) {
        // Unterminated line at the end of an older segment: only possible after external damage.
        segBad++;
        log("warn", "journal: skipping unterminated line", { file, offset: pos });
      }

      for (const [lineNo, { text }] of lines.entries()) {
        const e = parseLine(text);
        if (e === undefined) {
          segBad++;
          log("warn", "journal: skipping corrupt line", { file, line: lineNo + 1 });
          continue;
        }
        segMax = Math.max(segMax, e.s);
        // Records <= snapshot seq are already in the snapshot (crash between snapshot rename and
        // segment deletion): applying them again would double-apply.
        if (e.s > snapSeq) entries.push(e);
      }
      skipped += segBad;
      maxSeq = Math.max(maxSeq, segMax);

      if (segBad === 0 && segMax <= snapSeq) {
        // Fully covered by the snapshot (or empty): finish the deletion a crash interrupted.
        // Losing this unlink to a crash is harmless, so no directory fsync.
        try {
          await unlink(file);
          continue;
        } catch (err) {
          log("warn", "journal: cannot delete obsolete segment", { file, error: String(err) });
        }
      }
      live.set(n, size);
    }

    // Lines are written in seq order; sorting (stable) only guards against hand-edited files.
    entries.sort((a, b) => a.s - b.s);
    // New appends go to a fresh segment: never append after bytes we did not write in this run.
    const journal = new Journal<S, R>(opts, maxSeq + 1, (segs.at(-1) ?? 0) + 1);
    journal.snapshotSize = snap?.size ?? 0;
    for (const [n, size] of live) journal.segBytes.set(n, size);
    const recovered: Recovered<S, R> = {
      snapshot: snap?.state as S | undefined,
      records: entries.map((e) => e.r as R),
      tornTail,
      skipped,
    };
    log("info", "journal: recovered", {
      dir,
      snapshotSeq: snap?.seq,
      records: recovered.records.length,
      tornTail,
      skipped,
      nextSeq: maxSeq + 1,
    });
    return { journal, recovered };
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
    let json: string | undefined;
    try {
      json = JSON.stringify(record);
    } catch (err) {
      return err; // e.g. BigInt or a cycle; no seq consumed
    }
    if (json === undefined) return new TypeError("journal: record is not a JSON value");
    const line = `{"s":${this.nextSeq++},"r":${json}}\n`; // same bytes as JSON.stringify({s, r})
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
    const head = `{"version":1,"seq":${this.nextSeq - 1},"state":`;
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
    const tmp = join(this.dir, SNAPSHOT_TMP);
    let size = 0;
    try {
      const fh = await openNoFollow(tmp, "w", FILE_MODE);
      try {
        if (typeof body === "string") {
          await fh.writeFile(body, "utf8");
          size = Buffer.byteLength(body);
        } else {
          // Parts gathered into writes of about a megabyte.
          let parts: string[] = [];
          let pending = 0;
          const flush = async () => {
            const buf = Buffer.from(parts.join(""), "utf8");
            parts = [];
            pending = 0;
            for (let at = 0; at < buf.length; ) at += (await fh.write(buf, at)).bytesWritten;
            size += buf.length;
          };
          for await (const part of body) {
            parts.push(part);
            pending += part.length;
            if (pending >= 1 << 20) await flush();
          }
          await flush();
        }
        if (this.fsync) await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      // Disk full, say: the old snapshot and the segments are untouched; give the space back.
      await rm(tmp, { force: true }).catch(() => {});
      throw err;
    }
    await rename(tmp, join(this.dir, SNAPSHOT)); // the commit point
    this.snapshotSize = size;
    if (this.fsync) await syncDir(this.dir); // make the rename durable before deleting segments
  }

  private async deleteSegmentsBelow(n: number): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.dir)) {
      const m = SEGMENT_RE.exec(name);
      if (m === null || Number(m[1]) >= n) continue;
      await unlink(join(this.dir, name));
      this.segBytes.delete(Number(m[1]));
      removed++;
    }
    // Not fsyncing the directory: a resurrected segment only holds records <= snapshot seq,
    // which recovery ignores and deletes.
    return removed;
  }
}

async function readSnapshot(file: string, log: Log): Promise<{ seq: number; state: unknown; size: number } | undefined> {
  const refuse = (why: string, cause?: unknown): never => {
    // Never start without it: the segments it replaced are gone, so ignoring it would lose data.
    log("error", "journal: snapshot unusable", { file, why });
    throw new Error(`journal: snapshot ${file} is unusable (${why}); refusing to open. Move it away to start over.`, {
      cause,
    });
  };
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return refuse(`cannot read: ${String(err)}`, err);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return refuse("invalid JSON", err);
  }
  if (typeof parsed !== "object" || parsed === null) return refuse("not an object");
  const o = parsed as Record<string, unknown>;
  if (o.version !== 1) return refuse(`unsupported version ${JSON.stringify(o.version)}`);
  if (typeof o.seq !== "number" || !Number.isSafeInteger(o.seq) || o.seq < 0) return refuse("bad seq");
  if (!("state" in o)) return refuse("missing state");
  return { seq: o.seq, state: o.state, size: text.length };
}

/** How long one slice of a sliced snapshot may serialize before letting the event loop run. */
const SLICE_MS = 5;

/** JSON of `state` (an object whose values are arrays or plain values), element by element, yielding the event loop every SLICE_MS. */
async function* stringifySliced(state: object): AsyncGenerator<string> {
  let until = performance.now() + SLICE_MS;
  const pause = async () => {
    if (performance.now() < until) return;
    await new Promise((r) => setImmediate(r));
    until = performance.now() + SLICE_MS;
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

function parseLine(text: string): { s: number; r: unknown } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined; // caller counts and logs it
  }
  if (typeof v !== "object" || v === null || !("r" in v) || !("s" in v)) return undefined;
  const { s, r } = v as { s: unknown; r: unknown };
  return typeof s === "number" && Number.isSafeInteger(s) && s > 0 ? { s, r } : undefined;
}

async function syncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return; // directories cannot be opened for fsync on Windows
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
