// A stream's output file, written: records queued as they arrive and written in rounds, one buffer each;
// a round is synced (fdatasync) only when an acknowledgement waits for it (group commit). A failed
// write or sync stops the file: later output lives only in memory, and acknowledgements are refused.
import type { FileHandle } from "node:fs/promises";
import type { Logger } from "./log.js";
import { RECORD_HEADER, recordHeader, type Piece } from "./stream-file.js";
import type { ChannelState, Live } from "./stream-live.js";

/** The sparse seq -> file offset index gets an entry every this many bytes, so a replay from a seq seeks. */
const INDEX_EVERY = 4 * 1024 * 1024;

export class StreamWrites {
  constructor(
    /** Bytes of output kept on disk per stream. */
    private readonly fileCapBytes: number,
    private readonly log: Logger,
    /** Test hook: runs before each fdatasync of an output file (a slow disk). */
    private readonly beforeSync?: () => Promise<void>,
  ) {}

  /** Queues one piece's record for the file, or marks its channel truncated once the file is at its cap. */
  queue(live: Live, st: ChannelState, p: Piece): void {
    const size = RECORD_HEADER + p.data.length;
    if (live.fileBytes + size > this.fileCapBytes) {
      st.truncated = true;
      return;
    }
    const last = live.index[live.index.length - 1];
    if (live.fileBytes - (last ? last[1] : 0) >= INDEX_EVERY) live.index.push([p.seq, live.fileBytes]);
    live.fileBytes += size;
    live.pendingBytes += size;
    live.unwritten.push(recordHeader(p.seq, p.channel, p.data.length), p.data);
  }

  /**
   * Writes queued records in rounds (one buffer per round) until none are left. A round is synced
   * (fdatasync) when someone waits for an acknowledgement: every chunk that arrived during the
   * previous round shares one sync (group commit), and frames nobody acknowledges cost no sync.
   */
  private async writeRounds(live: Live): Promise<void> {
    for (;;) {
      const waiting = live.syncHead < live.syncWaiters.length;
      if (!live.unwritten.length && !(waiting && live.syncedBytes < live.writtenBytes)) break;
      const round = live.unwritten.length ? Buffer.concat(live.unwritten) : undefined;
      live.unwritten = [];
      const upTo = live.writtenBytes + (round?.length ?? 0);
      // Moved from pending to written in one step: an acknowledgement's target (written + pending)
      // must never count a round twice.
      const written = () => {
        if (round) live.pendingBytes -= round.length;
        live.writtenBytes = upTo;
      };
      try {
        if (live.writeError === undefined) {
          if (round) await writeAll(live.file!, round);
          written();
          if (live.syncHead < live.syncWaiters.length) {
            await this.beforeSync?.();
            await live.file!.datasync();
            live.syncedBytes = upTo;
          }
        }
      } catch (err) {
        // The output stays in memory (tail) and reaches live followers; the replay and every later
        // acknowledgement of this stream lose it, and are told so.
        live.writeError = err;
        this.log.error("stream file write failed; later output of this stream is not kept on disk", { stream_id: live.meta.stream_id, err: String(err) });
      }
      if (live.writtenBytes !== upTo) written(); // not written (an error): not pending either
      this.settleWaiters(live);
    }
    live.writing = undefined;
  }

  private settleWaiters(live: Live): void {
    while (live.syncHead < live.syncWaiters.length) {
      const w = live.syncWaiters[live.syncHead]!;
      if (live.writeError !== undefined) w.reject(live.writeError);
      else if (w.upTo <= live.syncedBytes) w.resolve();
      else break;
      live.syncHead++;
    }
    if (live.syncHead === live.syncWaiters.length) {
      live.syncWaiters = [];
      live.syncHead = 0;
    }
  }

  /** Resolves once everything queued for the file so far is written and synced. */
  durable(live: Live): Promise<void> {
    if (live.writeError !== undefined) return Promise.reject(live.writeError);
    const upTo = live.writtenBytes + live.pendingBytes;
    if (upTo <= live.syncedBytes) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => live.syncWaiters.push({ upTo, resolve, reject }));
    if (!live.writing) live.writing = this.writeRounds(live);
    return p;
  }

  /** Resolves once everything queued so far is in the file (not necessarily synced: a reader sees it). */
  flushed(live: Live): Promise<void> {
    return live.writing ?? Promise.resolve();
  }

  /** Starts a write round if records wait and none runs. */
  kick(live: Live): void {
    if (live.unwritten.length && !live.writing) live.writing = this.writeRounds(live);
  }
}

/** Where in the file a read from `fromSeq` may start (the sparse index; 0 without one). */
export function offsetFor(live: Live | undefined, fromSeq: number): number {
  let offset = 0;
  for (const [seq, at] of live?.index ?? []) {
    if (seq > fromSeq) break;
    offset = at;
  }
  return offset;
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  for (let at = 0; at < buf.length; ) at += (await fh.write(buf, at)).bytesWritten;
}
