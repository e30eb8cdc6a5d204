// Append-only audit log of approval outcomes (broker/audit/audit.ndjson), chained by SHA-256.
// Each append is fsynced before the decision it records is acknowledged.
import { open, readFile, truncate, type FileHandle } from "node:fs/promises";
import type { AuditRecord } from "../protocol/index.js";
import { GENESIS, parseAuditLines, recordHash } from "../platform/audit-chain.js";

export type AuditFields = Omit<AuditRecord, "seq" | "prev" | "hash">;

export class AuditLog {
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly fh: FileHandle,
    private seq: number,
    private head: string,
  ) {}

  static async open(file: string): Promise<AuditLog> {
    let text = "";
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    // A torn last line (crash mid-append) was never acknowledged: cut it off.
    const end = text.lastIndexOf("\n") + 1;
    if (end < text.length) await truncate(file, Buffer.byteLength(text.slice(0, end)));
    const lines = text.slice(0, end).split("\n").filter(Boolean);
    let seq = 0;
    let head = GENESIS;
    const last = lines.at(-1);
    if (last) {
      const rec = JSON.parse(last) as AuditRecord;
      seq = rec.seq;
      head = rec.hash;
    }
    const fh = await open(file, "a", 0o600);
    return new AuditLog(file, fh, seq, head);
  }

  get headHash(): string {
    return this.head;
  }

  /** Appends one record; resolves once it is on disk. Appends are serialized so the chain stays linear. */
  append(fields: AuditFields): Promise<AuditRecord> {
    const body = { ...fields, seq: ++this.seq, prev: this.head };
    const record = { ...body, hash: recordHash(this.head, body) } as AuditRecord;
    this.head = record.hash;
    const write = this.tail.then(async () => {
      await this.fh.write(JSON.stringify(record) + "\n");
      await this.fh.datasync();
      return record;
    });
    this.tail = write.catch(() => {});
    return write;
  }

  /** The log exactly as it is on disk, so that tampering with the file shows up in verification. */
  async readRaw(): Promise<unknown[]> {
    await this.tail;
    return parseAuditLines(await readFile(this.file, "utf8"));
  }

  async close(): Promise<void> {
    await this.tail;
    await this.fh.close();
  }
}
