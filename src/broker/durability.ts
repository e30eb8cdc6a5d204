// Durable before acknowledged, for the broker's records: each is committed (applied to the store at
// once and appended to the journal), and an answer waits for its promise. The journal commits in
// order, so the newest record's promise (`latest`) resolving means every earlier record is durable too.
import type { Logger } from "./log.js";
import type { JournalRecord } from "./store.js";

/**
 * Persists a record (applied to the store at once) and resolves when it is durable. A `lazy` record
 * (an ack) may be lost in a crash without harm; it rides along with the next write.
 */
export type Commit = (rec: JournalRecord, lazy?: boolean) => Promise<void>;

export class Durability {
  private newest: Promise<void> = Promise.resolve();

  constructor(
    private readonly commit: Commit,
    private readonly log: Logger,
    /** Resolves when everything committed so far is durable (the journal's flush). */
    private readonly flush?: () => Promise<void>,
  ) {}

  /** Journals a record (the store applies it at once); resolves when it and everything before it is durable. */
  persist(rec: JournalRecord): Promise<void> {
    const p = this.commit(rec);
    p.catch((err) => this.log.error("journal append failed", { err: String(err) }));
    this.newest = p;
    return p;
  }

  /** A record whose loss in a crash is harmless (an ack): nobody waits for it. */
  persistLazy(rec: JournalRecord): void {
    void this.commit(rec, true);
  }

  /** The promise of the newest record persisted so far. */
  get latest(): Promise<void> {
    return this.newest;
  }

  /** Resolves once everything committed so far is durable. With `flush` it asks the journal, so that
   * a write that failed earlier and succeeded on a retry does not keep answering with its old error. */
  whenDurable(): Promise<void> {
    return this.flush ? this.flush() : this.newest;
  }
}
