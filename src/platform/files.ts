// Small file helpers shared by the broker and its clients.
import { mkdir, open, readFile, rename, unlink, chmod, lstat, type FileHandle } from "node:fs/promises";
import { constants, openSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";

/** mkdir -p with mode 0700 on the leaf (and tighten an existing leaf). With `noLink`, a leaf that is a symbolic link is refused. */
export async function ensurePrivateDir(dir: string, opts: { noLink?: boolean } = {}): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (opts.noLink && (await lstat(dir)).isSymbolicLink()) throw linkRefused(dir);
  await chmod(dir, 0o700);
}

// ---- files the broker writes: never through a symbolic link ----------------------------------------
// A link planted in the state folder would make the broker append its log, audit records or journal to
// (or truncate) whatever the link names. O_NOFOLLOW makes open fail with ELOOP instead; the error says
// which file and what to do. (Windows has no O_NOFOLLOW; the state folder's ACL is the guard there.)

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const FLAGS = {
  r: constants.O_RDONLY,
  "r+": constants.O_RDWR,
  a: constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND,
  "a+": constants.O_RDWR | constants.O_CREAT | constants.O_APPEND,
  w: constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC,
  wx: constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
} as const;

export type NoFollowFlags = keyof typeof FLAGS;

/** The error for a state file that is a symbolic link (code ELOOP, so callers can tell it apart). */
export function linkRefused(path: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(
    `${path} is a symbolic link; the broker does not write through links in its state folder. Remove the link (rm '${path}') and start it again.`,
  );
  err.code = "ELOOP";
  err.path = path;
  return err;
}

function explainLoop(path: string, err: unknown): unknown {
  return (err as NodeJS.ErrnoException)?.code === "ELOOP" ? linkRefused(path) : err;
}

/** fs.promises.open without following a symbolic link at `path`. */
export async function openNoFollow(path: string, flags: NoFollowFlags, mode = 0o600): Promise<FileHandle> {
  try {
    return await open(path, FLAGS[flags] | NOFOLLOW, mode);
  } catch (err) {
    throw explainLoop(path, err);
  }
}

/** fs.openSync without following a symbolic link at `path`. */
export function openNoFollowSync(path: string, flags: NoFollowFlags, mode = 0o600): number {
  try {
    return openSync(path, FLAGS[flags] | NOFOLLOW, mode);
  } catch (err) {
    throw explainLoop(path, err);
  }
}

/** The whole file, read without following a link at `path`. */
export async function readFileNoFollow(path: string): Promise<Buffer> {
  const fh = await openNoFollow(path, "r");
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** Writes a file atomically: temporary file in the same folder, fsync, rename, fsync the folder. */
export async function writeFileAtomic(path: string, data: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fh = await open(tmp, "wx", mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fsyncDir(dirname(path));
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await fh.close();
  }
}

/** Reads and parses JSON; undefined when the file does not exist. Throws on other errors. */
export async function readJsonFile(path: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return parseJsonText(text);
}

/**
 * The same, read synchronously: for a tiny file on the way to something the caller waits for, where
 * a turn through the thread pool (which other work may keep busy) costs more than the read.
 */
export function readJsonFileSync(path: string): unknown | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return parseJsonText(text);
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { __unparseable: text.slice(0, 200) };
  }
}
