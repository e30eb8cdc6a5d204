// Reading a journal's folder back at open: the last complete snapshot, then every later record of the
// log segments in order; a torn last line (a crash mid-write) is cut off, corrupt lines are skipped
// and counted, and segments the snapshot already covers are deleted.
import { mkdir, readdir, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { openNoFollow, readFileNoFollow } from "../platform/files.js";
import { type JournalLog, readSnapshot } from "./journal-files.js";
import { DIR_MODE, SNAPSHOT, SNAPSHOT_TMP, parseLine, segmentName, segmentNumber } from "./journal-format.js";

export interface Recovered<S, R> {
  snapshot: S | undefined; // state from the last complete snapshot, if any
  records: R[]; // records appended after that snapshot, in order
  tornTail: boolean; // true if an incomplete last record was found and cut off
  skipped: number; // corrupt records in the middle that were skipped (logged as warn)
}

/** What the reopened journal continues from. */
export interface RecoveredFolder<S, R> {
  recovered: Recovered<S, R>;
  /** The seq of the next record. */
  nextSeq: number;
  /** The number of the segment new appends go to: never one with bytes not written in this run. */
  nextSegment: number;
  /** Segments kept (not covered by the snapshot), by number, with their sizes. */
  liveSegments: Map<number, number>;
  snapshotSize: number;
}

export async function recoverFolder<S, R>(dir: string, fsync: boolean, log: JournalLog): Promise<RecoveredFolder<S, R>> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  // A leftover tmp is a snapshot whose rename never happened: the old snapshot and all
  // segments it would have replaced are still there, so it carries nothing we need.
  await rm(join(dir, SNAPSHOT_TMP), { force: true });

  const snap = await readSnapshot(join(dir, SNAPSHOT), log);
  const snapSeq = snap?.seq ?? 0;

  const segs = (await readdir(dir))
    .map(segmentNumber)
    .filter((n): n is number => n !== undefined)
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
  // New appends go to a fresh segment: never append after bytes we did not write in this run.
  return { recovered, nextSeq: maxSeq + 1, nextSegment: (segs.at(-1) ?? 0) + 1, liveSegments: live, snapshotSize: snap?.size ?? 0 };
}
