// A stream's output file: binary records [seq u48 BE][channel u8][length u32 BE][bytes], appended in
// seq order. Raw bytes, so the broker never escapes output on the way in nor parses it on the way out.
// A record cut short by a crash ends the file: everything before it is read back.
import { open } from "node:fs/promises";

export const RECORD_HEADER = 11;
const READ_BLOCK = 1024 * 1024;

export interface Piece {
  channel: number;
  seq: number;
  data: Buffer;
}

export function recordHeader(seq: number, channel: number, length: number): Buffer {
  const h = Buffer.allocUnsafe(RECORD_HEADER);
  h.writeUIntBE(seq, 0, 6);
  h[6] = channel;
  h.writeUInt32BE(length, 7);
  return h;
}

/** What `each` returns to stop reading (a page of a replay is full). */
export const STOP = Symbol("stop");

/**
 * Calls `each` for every record with seq >= fromSeq (and of `channel`, if given), starting at byte
 * `offset` (a record boundary, from the sparse index). A missing file reads as empty. When `each`
 * returns a promise, reading waits for it (a consumer's backpressure).
 */
export async function readRecords(path: string, fromSeq: number, channel: number | undefined, each: (p: Piece) => void | typeof STOP | Promise<void>, offset = 0): Promise<void> {
  let fh: import("node:fs/promises").FileHandle | undefined;
  try {
    fh = await open(path, "r");
  } catch {
    return;
  }
  try {
    let carry = Buffer.alloc(0);
    let pos = offset;
    for (;;) {
      const block = Buffer.allocUnsafe(READ_BLOCK);
      const { bytesRead } = await fh.read(block, 0, READ_BLOCK, pos);
      if (bytesRead === 0) return; // end, or a torn last record
      pos += bytesRead;
      let buf = carry.length ? Buffer.concat([carry, block.subarray(0, bytesRead)]) : block.subarray(0, bytesRead);
      let at = 0;
      while (buf.length - at >= RECORD_HEADER) {
        const len = buf.readUInt32BE(at + 7);
        if (buf.length - at - RECORD_HEADER < len) break;
        const seq = buf.readUIntBE(at, 6);
        const ch = buf[at + 6]!;
        // A view into this read's own block, which is never reused.
        if (seq >= fromSeq && (channel === undefined || ch === channel)) {
          const wait = each({ channel: ch, seq, data: buf.subarray(at + RECORD_HEADER, at + RECORD_HEADER + len) });
          if (wait === STOP) return;
          if (wait) await wait;
        }
        at += RECORD_HEADER + len;
      }
      carry = buf.subarray(at);
      buf = Buffer.alloc(0);
    }
  } finally {
    await fh.close().catch(() => {});
  }
}
