// Where a Claude Code session's companion keeps what outlives a hook call, under the Switchboard state
// folder: `claude/<session_id>/companion.json` (how hooks reach the companion: pid, port, token),
// `claude/<session_id>/queue/` (routed messages not yet delivered to Claude, one file each) and
// `companion.log`. Folders are 0700, files 0600: the token lets a local process answer for the session.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

export interface CompanionRecord {
  version: 1;
  pid: number;
  port: number;
  token: string;
  claudePid: number;
  sessionId: string;
  startedAt: string;
}

/** Claude's session ids are UUIDs; anything else must not become a path. */
export function validSessionId(id: unknown): id is string {
  return typeof id === "string" && /^[A-Za-z0-9_-]{1,128}$/.test(id);
}

export function sessionDir(home: string, sessionId: string): string {
  return join(home, "claude", sessionId);
}

export function companionFile(home: string, sessionId: string): string {
  return join(sessionDir(home, sessionId), "companion.json");
}

/** The companion's address and token as a curl config, for the shell fast path (claude-hook.sh). */
export function curlConfigFile(home: string, sessionId: string): string {
  return join(sessionDir(home, sessionId), "companion.curl");
}

/** The companion's port and token as "PORT TOKEN", for the shell fast path under bash (/dev/tcp). */
export function addrFile(home: string, sessionId: string): string {
  return join(sessionDir(home, sessionId), "companion.addr");
}

export function queueDir(home: string, sessionId: string): string {
  return join(sessionDir(home, sessionId), "queue");
}

export function ensureSessionDir(home: string, sessionId: string): string {
  const dir = sessionDir(home, sessionId);
  mkdirSync(join(dir, "queue"), { recursive: true, mode: 0o700 });
  return dir;
}

/** Writes a small file durably: temporary file, fsync, rename, fsync of the folder. */
export function writeDurable(path: string, text: string, dir: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  try {
    const d = openSync(dir, "r");
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    // some filesystems refuse fsync on a folder; the rename is still atomic
  }
}

export function readCompanion(home: string, sessionId: string): CompanionRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(companionFile(home, sessionId), "utf8")) as CompanionRecord;
    if (r && r.version === 1 && Number.isInteger(r.pid) && Number.isInteger(r.port) && typeof r.token === "string") return r;
  } catch {
    // missing or torn: no companion
  }
  return undefined;
}

export function removeCompanion(home: string, sessionId: string, pid: number): void {
  const r = readCompanion(home, sessionId);
  if (r && r.pid !== pid) return; // a newer companion took over
  for (const f of [companionFile(home, sessionId), curlConfigFile(home, sessionId), addrFile(home, sessionId)])
    try {
      unlinkSync(f);
    } catch {
      // already gone
    }
}

export function removeSessionDirIfEmpty(home: string, sessionId: string): void {
  try {
    if (readdirSync(queueDir(home, sessionId)).length > 0) return;
    rmSync(sessionDir(home, sessionId), { recursive: true, force: true });
  } catch {
    // keep it
  }
}
