// One writer per state folder: the broker holds an exclusive kernel lock on `broker/broker.lock` for
// its whole life, and a second broker on the same folder refuses to start.
//
// Why a kernel lock and not a lock file with a pid in it: a pid file can only be judged by a guess.
// After kill -9 it stays behind and must be declared stale from the pid (which may have been reused);
// a holder stopped with SIGSTOP, or stalled, looks exactly like a dead one to any timeout. A kernel
// lock has neither problem: the kernel drops it when the holder's last descriptor closes (any exit,
// kill -9 included) and keeps it for as long as the holder exists, stopped or not.
//
// How without a native addon (Node has no flock): flock(2) locks belong to the open file description,
// not to the process. The broker opens the file and hands that very descriptor to a short-lived helper
// as its fd 3; the helper takes the lock on the shared description (`flock -xn 3` from util-linux, or
// perl's flock where util-linux is missing, as on macOS) and exits, and the lock stays with the
// broker's descriptor until the broker's process ends. Node opens files close-on-exec, so the
// descriptor is not inherited by the broker's own children. On Windows, where neither exists, the
// same guarantee comes from a named pipe whose name is derived from the folder: the kernel lets one
// process listen on a pipe name, and frees it when that process ends.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { constants, openSync, readFileSync, realpathSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { createServer, type Server } from "node:net";

export interface StateLock {
  /** Releases the lock (the process ending releases it too). */
  release(): Promise<void>;
}

export type LockResult = { kind: "locked"; lock: StateLock } | { kind: "held"; pid: number | undefined };

/** Exit code the helpers use for "someone else holds it" (EX_TEMPFAIL), apart from their own failures. */
const HELD = 75;

/** The helpers tried in order; each takes an exclusive, non-blocking flock on its fd 3. */
export const LOCK_HELPERS: Record<string, [string, string[]]> = {
  flock: ["flock", ["--exclusive", "--nonblock", "--conflict-exit-code", String(HELD), "3"]],
  perl: ["perl", ["-MFcntl=:flock", "-e", `open(my $f, "+<&=", 3) or exit 2; flock($f, LOCK_EX | LOCK_NB) or exit ${HELD}; exit 0`]],
};

/**
 * Takes the state-folder lock, writing `{"pid":N}` into the file for whoever finds it held.
 * `helpers` (names in LOCK_HELPERS) is for tests that check each helper.
 */
export async function acquireStateLock(file: string, helpers: string[] = ["flock", "perl"]): Promise<LockResult> {
  if (process.platform === "win32") return pipeLock(file);
  // O_NOFOLLOW: a symlink planted in the state folder must not make us open (and write) its target.
  const fh = await open(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  let outcome: "locked" | "held" | undefined;
  const failures: string[] = [];
  for (const name of helpers) {
    const [cmd, args] = LOCK_HELPERS[name]!;
    const code = await runHelper(cmd, args, fh.fd);
    if (code === 0) outcome = "locked";
    else if (code === HELD) outcome = "held";
    else {
      failures.push(`${cmd}: ${code}`);
      continue;
    }
    break;
  }
  if (outcome === undefined) {
    await fh.close();
    throw new Error(`cannot lock the state folder (${file}): neither flock(1) nor perl could take the lock (${failures.join("; ")}). Install util-linux or perl.`);
  }
  if (outcome === "held") {
    await fh.close(); // our descriptor never held the lock, so closing it releases nothing
    return { kind: "held", pid: await holderPid(file) };
  }
  const text = Buffer.from(JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }) + "\n");
  await fh.truncate(0);
  await fh.write(text, 0, text.length, 0);
  return { kind: "locked", lock: { release: () => fh.close() } };
}

/** Resolves with the helper's exit code; a helper that cannot be run gives a string. */
function runHelper(cmd: string, args: string[], fd: number): Promise<number | string> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "ignore", fd] });
    child.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    child.once("exit", (code, signal) => resolve(code ?? `signal ${signal}`));
  });
}

/** The pid the holder wrote; it writes right after locking, so look a few times before giving up. */
async function holderPid(file: string): Promise<number | undefined> {
  for (let i = 0; i < 20; i++) {
    const pid = readLockPid(file);
    if (pid !== undefined) return pid;
    await new Promise((r) => setTimeout(r, 25));
  }
  return undefined;
}

/** The pid recorded in a state lock file (whether or not its holder still lives); for clients too. */
export function readLockPid(file: string): number | undefined {
  try {
    const fd = openSync(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    const text = readFileSync(fd, "utf8");
    const pid = (JSON.parse(text) as { pid?: unknown }).pid;
    return typeof pid === "number" && Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function pipeLock(file: string): Promise<LockResult> {
  let real = file;
  try {
    real = realpathSync.native(file.replace(/[\\/][^\\/]+$/, ""));
  } catch {
    // the folder exists by now; if not, the plain path still names it consistently
  }
  const name = `\\\\.\\pipe\\agent-switchboard-${createHash("sha256").update(real.toLowerCase()).digest("hex").slice(0, 32)}`;
  const server: Server = createServer((s) => s.end(JSON.stringify({ pid: process.pid })));
  const listening = await new Promise<boolean>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => (err.code === "EADDRINUSE" ? resolve(false) : reject(err)));
    server.listen(name, () => resolve(true));
  });
  if (!listening) return { kind: "held", pid: undefined };
  server.unref();
  let fh: FileHandle | undefined;
  try {
    fh = await open(file, "w", 0o600);
    await fh.writeFile(JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }) + "\n");
  } finally {
    await fh?.close();
  }
  return { kind: "locked", lock: { release: () => new Promise((r) => server.close(() => r())) } };
}
