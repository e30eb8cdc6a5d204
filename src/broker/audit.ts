// Append-only audit log of approval outcomes (broker/audit/audit.ndjson), chained by SHA-256.
// Each append is fsynced before the decision it records is acknowledged.
//
// Storage faults follow the journal (see journal.ts): a record is chained (seq, prev, hash) when it
// is appended, so it can never be dropped without breaking the chain for every later record. A
// failed write rejects that append but keeps the bytes, and the next append (or a retry every
// RETRY_MS) writes them first, resuming exactly where the failed write stopped. A failed fdatasync
// refuses every later append until the broker restarts.
import type { FileHandle } from "node:fs/promises";
import type { AuditRecord } from "../protocol/index.js";
import { GENESIS, parseAuditLines, recordHash } from "../platform/audit-chain.js";
import { openNoFollow } from "../platform/files.js";

export type AuditFields = Omit<AuditRecord, "seq" | "prev" | "hash">;

const RETRY_MS = 250;
/** How much of the log's end `recent` covers: far more than the decisions of any crash window. */
const RECENT_BYTES = 4 * 1024 * 1024;
/** The most a page of `GET /v1/audit` reads: far more than one record (approval fields are bounded), so a page always holds one. */
const PAGE_BYTES = 4 * 1024 * 1024;

/** One page of the log as it is on disk; `next` is the byte offset of the record after it, or null at the end. */
export interface AuditPage {
  records: unknown[];
  next: number | null;
}

/** Where the chain in the checked end of the log stops holding (a line that is not a record, a changed or missing record). */
export interface ChainBreak {
  /** 1-based line of audit.ndjson. */
  line: number;
  /** The seq the line claims, if it has one. */
  seq: unknown;
  problem: string;
}

/** The outcomes recorded at the end of the log, for checking the journal against it after a crash. */
export interface RecentOutcomes {
  /** `at` of the first record covered; undefined when the whole log is covered. */
  from: string | undefined;
  outcomes: Map<string, AuditRecord>;
}

export class AuditLog {
  private tail: Promise<unknown> = Promise.resolve();
  /**
   * Lines appended but not yet taken by a write round, in order. A list, joined once per round: each
   * byte is copied once however many appends wait (concatenating on every append was quadratic).
   */
  private queued: Buffer[] = [];
  /** What a failed write left unwritten (the part before its stop is in the file); written first. */
  private carry: Buffer = Buffer.alloc(0);
  /** Appends made, and appends known to be on disk: a round with nothing new neither writes nor syncs. */
  private appended = 0;
  private synced = 0;
  private failing: unknown = undefined;
  private broken: unknown = undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly file: string,
    private readonly fh: FileHandle,
    private seq: number,
    private head: string,
    readonly recent: RecentOutcomes,
    /** The first break in the checked end of the log, found at start; undefined when it holds. */
    readonly chainBreak: ChainBreak | undefined,
  ) {}

  /**
   * Opens the log (never through a symbolic link) and checks the chain over its end. A damaged log
   * does not stop the broker: the break is reported (`chainBreak`), and new records chain on from the
   * last good one, so `switchboard audit verify` still names the damaged line.
   */
  static async open(file: string): Promise<AuditLog> {
    const fh = await openNoFollow(file, "a+");
    try {
      const text = (await fh.readFile()).toString("utf8");
      // A torn last line (crash mid-append) was never acknowledged: cut it off.
      const end = text.lastIndexOf("\n") + 1;
      if (end < text.length) await fh.truncate(Buffer.byteLength(text.slice(0, end)));
      const whole = text.slice(0, end);
      // Only the end is parsed: a crash can only have split the most recent decisions from the journal.
      const cut = whole.length > RECENT_BYTES ? whole.indexOf("\n", whole.length - RECENT_BYTES) + 1 : 0;
      const recent: RecentOutcomes = { from: undefined, outcomes: new Map() };
      let line = cut > 0 ? countLines(whole, cut) : 0;
      let seq = 0;
      let head = GENESIS;
      // From the start of the file the first record follows the genesis digest; from a cut, the first record seen sets the link.
      let linked = cut === 0;
      let chainBreak: ChainBreak | undefined;
      for (const text of whole.slice(cut).split("\n")) {
        line++;
        if (!text) continue;
        const rec = parseRecord(text);
        const problem =
          rec === undefined
            ? "is not an audit record (not JSON, or without seq, prev and hash)"
            : linked && rec.seq !== seq + 1
              ? `has seq ${JSON.stringify(rec.seq)}, expected ${seq + 1} (a record was removed or reordered)`
              : linked && rec.prev !== head
                ? "does not point at the digest of the record before it (a record before it was changed or removed)"
                : rec.hash !== recordHash(rec.prev, rec as unknown as Record<string, unknown>)
                  ? "does not match its own digest (its content was changed)"
                  : undefined;
        if (problem) chainBreak ??= { line, seq: rec?.seq, problem };
        if (!rec) continue;
        if (cut > 0) recent.from ??= rec.at;
        recent.outcomes.set(rec.approval_id, rec);
        seq = rec.seq;
        head = rec.hash;
        linked = true;
      }
      return new AuditLog(file, fh, seq, head, recent, chainBreak);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** A sentence for the log, `switchboard status` and the sidebar when the chain is broken. */
  get chainWarning(): string | undefined {
    const b = this.chainBreak;
    return (
      b &&
      `The approval audit log is broken at line ${b.line} of ${this.file}${b.seq !== undefined ? ` (seq ${JSON.stringify(b.seq)})` : ""}: it ${b.problem}. New outcomes are still recorded; run \`switchboard audit verify\` and keep a copy of the file.`
    );
  }

  get headHash(): string {
    return this.head;
  }

  /** The storage error while appends cannot be written; undefined when healthy. */
  get failure(): unknown {
    return this.broken ?? this.failing;
  }

  /** Appends one record; resolves once it is on disk. Appends are serialized so the chain stays linear. */
  append(fields: AuditFields): Promise<AuditRecord> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    const body = { ...fields, seq: ++this.seq, prev: this.head };
    const record = { ...body, hash: recordHash(this.head, body) } as AuditRecord;
    this.head = record.hash;
    this.queued.push(Buffer.from(JSON.stringify(record) + "\n"));
    this.appended++;
    return this.writeUnwritten().then(() => record);
  }

  /** One serialized round: write whatever is still unwritten (earlier failures first), then sync. */
  private writeUnwritten(): Promise<void> {
    const round = this.tail.then(async () => {
      if (this.broken !== undefined) throw this.broken;
      // Group commit: an earlier round already wrote and synced this append along with its own.
      if (this.synced >= this.appended && this.carry.length === 0) return;
      const upTo = this.appended;
      let buf = this.queued.length === 0 ? this.carry : Buffer.concat(this.carry.length ? [this.carry, ...this.queued] : this.queued);
      this.queued = [];
      this.carry = Buffer.alloc(0);
      try {
        while (buf.length > 0) {
          const { bytesWritten } = await this.fh.write(buf, 0, buf.length);
          buf = buf.subarray(bytesWritten);
        }
      } catch (err) {
        this.carry = buf;
        this.failing ??= err;
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => void this.writeUnwritten().catch(() => {}), RETRY_MS);
        this.retryTimer.unref();
        throw err;
      }
      try {
        await this.fh.datasync();
      } catch (err) {
        this.broken = err;
        throw err;
      }
      this.synced = upTo;
      this.failing = undefined;
    });
    this.tail = round.catch(() => {});
    return round;
  }

  /**
   * The log exactly as it is on disk (so that tampering with the file shows up in verification), a page at
   * a time: at most `limit` records from byte offset `from` (0, or a `next` of an earlier page). A page costs
   * one bounded read however long the log has grown. Undefined when `from` is not the start of a line.
   */
  async readPage(from: number, limit: number): Promise<AuditPage | undefined> {
    await this.tail;
    const size = (await this.fh.stat()).size;
    if (from > size) return undefined;
    const start = from === 0 ? 0 : from - 1; // the byte before `from` must end a line
    const window = Buffer.alloc(Math.min(PAGE_BYTES, size - start));
    const { bytesRead } = await this.fh.read(window, 0, window.length, start);
    const bytes = window.subarray(0, bytesRead);
    if (from > 0 && bytes[0] !== 0x0a) return undefined;
    const lines: string[] = [];
    let at = from - start;
    while (lines.length < limit) {
      const end = bytes.indexOf(0x0a, at);
      if (end < 0) break;
      lines.push(bytes.toString("utf8", at, end));
      at = end + 1;
    }
    // Only a damaged file has a line longer than a page (every field of a record is bounded): it ends the listing.
    if (lines.length === 0 && bytes.length - (from - start) >= PAGE_BYTES - 1)
      return { records: [{ unparseable: bytes.toString("utf8", from - start, from - start + 200) }], next: null };
    const next = start + at;
    return { records: parseAuditLines(lines.join("\n")), next: next >= size ? null : next };
  }

  async close(): Promise<void> {
    clearTimeout(this.retryTimer);
    await this.tail;
    await this.fh.close();
  }
}

function parseRecord(text: string): AuditRecord | undefined {
  try {
    const rec = JSON.parse(text) as AuditRecord | null;
    return rec && typeof rec === "object" && typeof rec.seq === "number" && typeof rec.hash === "string" && typeof rec.prev === "string" ? rec : undefined;
  } catch {
    return undefined;
  }
}

/** Lines before `end` (which follows a line feed). */
function countLines(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < end; i = text.indexOf("\n", i + 1)) n++;
  return n;
}
