// The journal's file operations besides appending: reading and atomically replacing the snapshot
// (write a tmp file, fsync, rename: the rename is the commit point) and making directory entries durable.
import { open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { openNoFollow } from "../platform/files.js";
import { FILE_MODE, SNAPSHOT, SNAPSHOT_TMP, parseSnapshot } from "./journal-format.js";

export type JournalLog = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

export async function readSnapshot(file: string, log: JournalLog): Promise<{ seq: number; state: unknown; size: number } | undefined> {
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
  const snap = parseSnapshot(text);
  if ("unusable" in snap) return refuse(snap.unusable, snap.cause);
  return { seq: snap.seq, state: snap.state, size: text.length };
}

/**
 * Writes `body` as dir's snapshot, atomically; returns its size in bytes. On failure the old snapshot
 * stays. The caller then syncs the directory (see syncDir) to make the rename durable.
 */
export async function writeSnapshot(dir: string, body: string | AsyncIterable<string>, fsync: boolean): Promise<number> {
  const tmp = join(dir, SNAPSHOT_TMP);
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
      if (fsync) await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    // Disk full, say: the old snapshot and the segments are untouched; give the space back.
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
  await rename(tmp, join(dir, SNAPSHOT)); // the commit point
  return size;
}

/** Makes the directory entries (a new file, a rename) durable. */
export async function syncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return; // directories cannot be opened for fsync on Windows
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
