// The discovery record (same shape as MASONS) and the spawn lock that makes concurrent starts yield one broker.
import { open, unlink, readFile } from "node:fs/promises";
import { DiscoveryRecord, HealthResponse, SpawnLock, parseWith } from "../protocol/index.js";
import { openNoFollow, readJsonFile, readJsonFileSync, writeFileAtomic } from "./files.js";
import { pidAlive } from "./process.js";
import { httpRequest } from "./http.js";
import { localSocket, type BrokerAddress } from "./transport.js";

export type DiscoveryRead = { kind: "missing" } | { kind: "invalid"; message: string } | { kind: "ok"; record: DiscoveryRecord };

export async function readDiscovery(file: string): Promise<DiscoveryRead> {
  return checkDiscovery(await readJsonFile(file));
}

/** readDiscovery without the thread pool: the record is a few hundred bytes. */
export function readDiscoverySync(file: string): DiscoveryRead {
  return checkDiscovery(readJsonFileSync(file));
}

function checkDiscovery(raw: unknown): DiscoveryRead {
  if (raw === undefined) return { kind: "missing" };
  const parsed = parseWith(DiscoveryRecord, raw, "discovery");
  return parsed.ok ? { kind: "ok", record: parsed.value } : { kind: "invalid", message: parsed.message };
}

export function writeDiscovery(file: string, record: DiscoveryRecord): Promise<void> {
  return writeFileAtomic(file, JSON.stringify(record, null, 2) + "\n", 0o600);
}

/** Deletes the discovery file only if it still names this process (a newer broker may have replaced it). */
export async function removeDiscoveryIfOurs(file: string, pid: number, token: string): Promise<boolean> {
  const current = await readDiscovery(file).catch(() => ({ kind: "missing" }) as const);
  if (current.kind !== "ok" || current.record.pid !== pid || current.record.bearerToken !== token) return false;
  await unlink(file).catch(() => {});
  return true;
}

/**
 * GET /health with a short timeout; the parsed answer, or undefined if nothing healthy answered. Given
 * a discovery record, over its Unix socket when it has one (a flood on the TCP port cannot stop it).
 */
export async function probeHealth(target: string | BrokerAddress, timeoutMs = 1000): Promise<HealthResponse | undefined> {
  const address = typeof target === "string" ? { ipcUrl: target } : target;
  try {
    const res = await httpRequest(`${address.ipcUrl}/health`, { timeoutMs, socketPath: localSocket(address) });
    if (res.status !== 200) return undefined;
    const parsed = parseWith(HealthResponse, JSON.parse(res.text));
    return parsed.ok && parsed.value.ok ? parsed.value : undefined;
  } catch {
    return undefined;
  }
}

// ---- spawn lock ------------------------------------------------------------------------------

export interface LockHandle {
  release(): Promise<void>;
}

/**
 * Takes the spawn lock (created exclusively). A lock whose holder is dead, or that is unreadable and
 * older than `staleMs`, is broken. A lock carrying `adoptNonce` was taken for us by the client that
 * spawned this process, so we adopt it. Returns undefined if another live holder keeps it.
 */
async function writeNoFollow(path: string, text: string): Promise<void> {
  const fh = await openNoFollow(path, "w");
  try {
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
}

export async function tryLock(lockFile: string, opts: { adoptNonce?: string; staleMs?: number } = {}): Promise<LockHandle | undefined> {
  const content: SpawnLock = { pid: process.pid, createdAt: new Date().toISOString(), nonce: opts.adoptNonce };
  const handle: LockHandle = { release: () => releaseLock(lockFile, process.pid, opts.adoptNonce) };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(lockFile, "wx", 0o600);
      await fh.writeFile(JSON.stringify(content));
      await fh.close();
      return handle;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const held = await readLock(lockFile);
    if (held.kind === "ok" && opts.adoptNonce && held.lock.nonce === opts.adoptNonce) {
      // Adopted: record our pid so the lock is not judged stale if the client that took it exits.
      if (held.lock.pid !== process.pid) await writeNoFollow(lockFile, JSON.stringify(content)).catch(() => {});
      return handle;
    }
    const stale = held.kind === "missing" || (held.kind === "ok" && !pidAlive(held.lock.pid)) || (held.kind === "invalid" && Date.now() - held.mtimeMs > (opts.staleMs ?? 5000));
    if (!stale) return undefined;
    await unlink(lockFile).catch(() => {});
  }
  return undefined;
}

async function readLock(lockFile: string): Promise<{ kind: "missing" } | { kind: "invalid"; mtimeMs: number } | { kind: "ok"; lock: SpawnLock }> {
  let fh: import("node:fs/promises").FileHandle | undefined;
  try {
    fh = await open(lockFile, "r");
  } catch {
    return { kind: "missing" };
  }
  try {
    const [text, stat] = [await fh.readFile("utf8"), await fh.stat()];
    try {
      const parsed = parseWith(SpawnLock, JSON.parse(text));
      return parsed.ok ? { kind: "ok", lock: parsed.value } : { kind: "invalid", mtimeMs: stat.mtimeMs };
    } catch {
      return { kind: "invalid", mtimeMs: stat.mtimeMs };
    }
  } finally {
    await fh.close();
  }
}

async function releaseLock(lockFile: string, pid: number, nonce?: string): Promise<void> {
  try {
    const parsed = parseWith(SpawnLock, JSON.parse(await readFile(lockFile, "utf8")));
    const lock = parsed.ok ? parsed.value : undefined;
    if (!lock) return;
    if (lock.pid === pid || (nonce && lock.nonce === nonce)) await unlink(lockFile);
  } catch {
    // Already gone or replaced: nothing of ours to release.
  }
}
