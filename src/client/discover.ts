// Find the broker named by a discovery record, or start the bundled one (guarded by the spawn lock so
// that many clients starting at once end up on one broker).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { DiscoveryRecord, HealthResponse } from "../protocol/index.js";
import { ensurePrivateDir, openNoFollowSync } from "../platform/files.js";
import { brokerPaths, stateHome } from "../platform/paths.js";
import { probeHealth, readDiscovery, readDiscoverySync, tryLock } from "../platform/discovery.js";
import { pidAlive } from "../platform/process.js";
import { readLockPid } from "../platform/state-lock.js";
import { DiscoveryError } from "./errors.js";

export interface DiscoverOptions {
  /** Switchboard state folder; default $SWITCHBOARD_HOME or the per-user data folder. */
  home?: string;
  /** Use this discovery record instead (for example a MASONS broker's); never spawns. */
  discoveryFile?: string;
  /** Start the bundled broker when none answers. */
  spawn: boolean;
  /** Path of dist/broker.js; default: broker.js beside this bundle. */
  brokerEntry?: string;
  /** Runtime for the broker; default process.execPath (with ELECTRON_RUN_AS_NODE=1 inside Electron). */
  nodeBinary?: string;
  /** Overall time limit; default 5000 ms. */
  timeoutMs?: number;
  /** Extra environment for a spawned broker. */
  env?: NodeJS.ProcessEnv;
}

export interface Discovered {
  record: DiscoveryRecord;
  health: HealthResponse;
  discoveryFile: string;
  /** True if this call started the broker. */
  spawned: boolean;
  /** Where the broker logs, if it is ours. */
  logFile?: string;
}

export async function discover(opts: DiscoverOptions): Promise<Discovered> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  if (opts.discoveryFile) return probeRecord(resolve(opts.discoveryFile), timeoutMs);

  const home = opts.home ?? stateHome();
  const paths = brokerPaths(home);
  const existing = await tryRecord(paths.discoveryFile, Math.min(1000, timeoutMs));
  if (existing) return { ...existing, logFile: paths.logFile };
  // A broker process that is alive but slow (stopped, stalled, out of descriptors) still owns the
  // state folder: never start a second one beside it. Wait for it, then say what is wrong.
  const busy = await waitForLiveBroker(paths, Date.now() + timeoutMs);
  if (busy) return busy;
  if (!opts.spawn) {
    const read = await readDiscovery(paths.discoveryFile).catch(() => undefined);
    throw read?.kind === "ok"
      ? new DiscoveryError(
          "unhealthy",
          `The broker at ${read.record.ipcUrl} (pid ${read.record.pid}) did not answer /health; its log is at ${paths.logFile}. Restart it with \`switchboard broker\`.`,
        )
      : new DiscoveryError("not_running", `No broker is running for ${home}. Start one with \`switchboard broker\`.`);
  }

  await ensurePrivateDir(home);
  await ensurePrivateDir(paths.brokerDir);
  await ensurePrivateDir(paths.logDir);
  const deadline = Date.now() + timeoutMs;
  const nonce = randomBytes(12).toString("base64url");
  let spawnedPid: number | undefined;
  let exitInfo: string | undefined;
  while (Date.now() < deadline) {
    const found = await tryRecord(paths.discoveryFile, 500);
    if (found) return { ...found, spawned: found.record.pid === spawnedPid, logFile: paths.logFile };
    if (spawnedPid === undefined && liveBrokerPid(paths) !== undefined) {
      // Another broker came up meanwhile (started by hand, or by another client) but is not answering yet.
      const other = await waitForLiveBroker(paths, deadline);
      if (other) return other;
      continue;
    }
    if (spawnedPid === undefined) {
      // Whoever holds the lock starts the broker; everyone else waits for its record.
      const lock = await tryLock(paths.lockFile, { adoptNonce: nonce });
      if (lock) {
        const again = await tryRecord(paths.discoveryFile, 500);
        if (again) {
          await lock.release();
          return { ...again, logFile: paths.logFile };
        }
        const child = startBroker(home, nonce, paths.logDir, opts);
        spawnedPid = child.pid;
        child.once("exit", (code, signal) => {
          exitInfo = `exited with ${signal ?? `code ${code}`}`;
          void lock.release();
        });
        child.once("error", (err) => {
          exitInfo = `could not start: ${err.message}`;
          void lock.release();
        });
        child.unref();
      }
    }
    if (exitInfo && spawnedPid !== undefined) {
      const again = await tryRecord(paths.discoveryFile, 500);
      if (again) return { ...again, spawned: false, logFile: paths.logFile };
      throw new DiscoveryError("spawn_failed", `The broker ${exitInfo} before it became healthy; see ${join(paths.logDir, "spawn.log")} and ${paths.logFile}.`);
    }
    await sleep(25);
  }
  throw new DiscoveryError(
    "timeout",
    `No broker answered /health within ${timeoutMs / 1000} s of starting one; its log is at ${paths.logFile} (start-up errors in ${join(paths.logDir, "spawn.log")}).`,
  );
}

/**
 * The pid of a broker process that is alive and owns this state folder: the one in the discovery
 * record, or else the one in the state lock file (a broker still recovering its journal has no record
 * yet). Either may name a dead process after a crash; then there is no live broker.
 */
function liveBrokerPid(paths: ReturnType<typeof brokerPaths>): number | undefined {
  let recorded: number | undefined;
  try {
    const read = readDiscoverySync(paths.discoveryFile);
    if (read.kind === "ok") recorded = read.record.pid;
  } catch {
    // unreadable: look at the lock file
  }
  if (recorded !== undefined && pidAlive(recorded)) return recorded;
  const locked = readLockPid(paths.stateLockFile);
  return locked !== undefined && pidAlive(locked) ? locked : undefined;
}

/**
 * While a live broker process owns the folder, waits (until `deadline`) for it to answer. Undefined
 * when no broker process is alive (a client may start one); throws `unresponsive` when one is alive
 * and never answered.
 */
async function waitForLiveBroker(paths: ReturnType<typeof brokerPaths>, deadline: number): Promise<Discovered | undefined> {
  let pid = liveBrokerPid(paths);
  if (pid === undefined) return undefined;
  while (Date.now() < deadline) {
    const found = await tryRecord(paths.discoveryFile, Math.max(100, Math.min(1000, deadline - Date.now())));
    if (found) return { ...found, logFile: paths.logFile };
    const now = liveBrokerPid(paths);
    if (now === undefined) return undefined; // it died: whoever comes next may start one
    pid = now;
    await sleep(100);
  }
  throw new DiscoveryError(
    "unresponsive",
    `The broker (pid ${pid}) is not answering; it is running but did not answer /health (it may be stopped, overloaded or out of file descriptors). ` +
      `Wait and try again, or stop it (kill ${pid}) and run the command again; its log is at ${paths.logFile}.`,
  );
}

/**
 * The discovery record `discover` would look at first, without probing it: a client that is about
 * to call /v1/initialize anyway can let that call prove the broker healthy and save a round trip.
 */
export function readRecorded(opts: DiscoverOptions): Omit<Discovered, "health" | "spawned"> | undefined {
  const home = opts.home ?? stateHome();
  const discoveryFile = opts.discoveryFile ? resolve(opts.discoveryFile) : brokerPaths(home).discoveryFile;
  let read: ReturnType<typeof readDiscoverySync>;
  try {
    read = readDiscoverySync(discoveryFile);
  } catch {
    return undefined;
  }
  if (read?.kind !== "ok") return undefined;
  return { record: read.record, discoveryFile, ...(opts.discoveryFile ? {} : { logFile: brokerPaths(home).logFile }) };
}

async function probeRecord(file: string, timeoutMs: number): Promise<Discovered> {
  const read = await readDiscovery(file).catch((err: Error) => ({ kind: "invalid" as const, message: err.message }));
  if (read.kind === "missing") throw new DiscoveryError("not_running", `No discovery record at ${file}; is the broker running?`);
  if (read.kind === "invalid") throw new DiscoveryError("invalid_record", `The discovery record at ${file} is not valid: ${read.message}`);
  const health = await probeHealth(read.record, timeoutMs);
  if (!health) throw new DiscoveryError("unhealthy", `The broker at ${read.record.ipcUrl} (pid ${read.record.pid}) did not answer /health within ${timeoutMs / 1000} s.`);
  return { record: read.record, health, discoveryFile: file, spawned: false };
}

async function tryRecord(file: string, timeoutMs: number): Promise<Omit<Discovered, "logFile"> | undefined> {
  const read = await readDiscovery(file).catch(() => undefined);
  if (read?.kind !== "ok") return undefined;
  const health = await probeHealth(read.record, timeoutMs);
  return health ? { record: read.record, health, discoveryFile: file, spawned: false } : undefined;
}

function startBroker(home: string, nonce: string, logDir: string, opts: DiscoverOptions) {
  const entry = opts.brokerEntry ?? defaultBrokerEntry();
  const inElectron = !!process.versions.electron;
  const nodeBinary = opts.nodeBinary ?? process.execPath;
  const errFd = openNoFollowSync(join(logDir, "spawn.log"), "a");
  try {
    return spawn(nodeBinary, [entry], {
      detached: true,
      stdio: ["ignore", "ignore", errFd],
      cwd: home,
      env: {
        ...process.env,
        ...opts.env,
        SWITCHBOARD_HOME: home,
        SWITCHBOARD_SPAWN_NONCE: nonce,
        ...(inElectron && !opts.nodeBinary ? { ELECTRON_RUN_AS_NODE: "1" } : {}),
      },
    });
  } finally {
    closeSync(errFd);
  }
}

/** broker.js sits beside the bundle that contains this code (dist/cli.js, dist/extension.js, …). */
export function defaultBrokerEntry(): string {
  const here = typeof __filename === "string" ? __filename : fileURLToPath(import.meta.url);
  return join(dirname(here), "broker.js");
}

declare const __filename: string | undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
