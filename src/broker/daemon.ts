// Starting and stopping one broker: single instance via the spawn lock, journal recovery, discovery record.
import { randomBytes } from "node:crypto";
import type { DiscoveryRecord } from "../protocol/index.js";
import { ensurePrivateDir } from "../platform/files.js";
import { brokerPaths, type BrokerPaths } from "../platform/paths.js";
import { probeHealth, readDiscovery, removeDiscoveryIfOurs, tryLock, writeDiscovery } from "../platform/discovery.js";
import { acquireStateLock, type StateLock } from "../platform/state-lock.js";
import { Broker, DEFAULT_CONFIG, type BrokerConfig } from "./broker.js";
import { Journal, type JournalOptions } from "./journal.js";
import type { Clock } from "./clock.js";
import { fileLogger } from "./log.js";
import { BrokerServer } from "./server.js";
import type { AdmissionLimits } from "./admission.js";
import { ApprovalDesk } from "./approvals.js";
import { PolicyDesk } from "./policy-desk.js";
import { PolicyChanges } from "./policy-changes.js";
import { AuditLog } from "./audit.js";
import { StreamHub, DEFAULT_STREAM_LIMITS, type StreamLimits } from "./streams.js";
import { join } from "node:path";
import { Store, type JournalRecord, type StoreSnapshot } from "./store.js";
import { DEFAULT_LIMITS, type Limits } from "./limits.js";

export interface DaemonOptions {
  home: string;
  port?: number;
  config?: Partial<BrokerConfig>;
  /** Minutes without endpoints and observers after which the broker exits; 0 or undefined = never. */
  idleExitMinutes?: number;
  /** Nonce of a spawn lock taken for us by the client that started this process. */
  spawnNonce?: string;
  logToStderr?: boolean;
  /** Journal size that triggers compaction. */
  compactAfterBytes?: number;
  streamLimits?: Partial<StreamLimits>;
  /** Bounds (see limits.ts); defaults for the rest. */
  limits?: Partial<Limits>;
  /** Timers of approvals and reconnect grace; tests inject a clock they move by hand. */
  clock?: Clock;
  /** Test hooks of the journal (a slow disk). */
  journal?: Pick<JournalOptions, "beforeSync">;
  /** Limits on connections that have not shown the token yet. */
  admission?: Partial<AdmissionLimits>;
  /** Listen on the Unix socket in the state folder too (default true; not on Windows). */
  unixSocket?: boolean;
  /** Test hook of stream output files (a slow disk): runs before each fdatasync. */
  streamFiles?: { beforeSync?: () => Promise<void> };
}

/** After a failed compaction (a full disk, say), wait this long before trying again. */
const COMPACT_RETRY_MS = 5000;

export type StartResult = { kind: "started"; daemon: RunningDaemon } | { kind: "already_running"; record: DiscoveryRecord };

export interface RunningDaemon {
  record: DiscoveryRecord;
  paths: BrokerPaths;
  stop(reason: string): Promise<void>;
  stopped: Promise<void>;
}

const LOCK_WAIT_MS = 10_000;

export async function startDaemon(opts: DaemonOptions): Promise<StartResult> {
  const paths = brokerPaths(opts.home);
  await ensurePrivateDir(paths.home);
  // Folders inside the state folder must be folders, not links to somewhere else (files are opened O_NOFOLLOW).
  for (const dir of [paths.brokerDir, paths.logDir, paths.journalDir, join(paths.brokerDir, "audit"), join(paths.brokerDir, "streams")])
    await ensurePrivateDir(dir, { noLink: true });

  const running = await healthyRecord(paths.discoveryFile);
  if (running) return { kind: "already_running", record: running };

  // Only one process may start a broker for this home: whoever holds the lock. The others wait for
  // the winner's discovery record and then step aside.
  const deadline = Date.now() + LOCK_WAIT_MS;
  let lock = await tryLock(paths.lockFile, { adoptNonce: opts.spawnNonce });
  while (!lock) {
    const winner = await healthyRecord(paths.discoveryFile);
    if (winner) return { kind: "already_running", record: winner };
    if (Date.now() > deadline)
      throw new Error(`Another process holds ${paths.lockFile} and no broker became healthy within ${LOCK_WAIT_MS / 1000} s; delete the lock file if no broker is starting.`);
    await sleep(50);
    lock = await tryLock(paths.lockFile, { adoptNonce: opts.spawnNonce });
  }
  try {
    const again = await healthyRecord(paths.discoveryFile);
    if (again) return { kind: "already_running", record: again };
    // The spawn lock only orders starts; this kernel lock is what makes a second writer impossible
    // (a broker that is alive but not answering still holds it). See platform/state-lock.ts.
    const state = await acquireStateLock(paths.stateLockFile);
    if (state.kind === "held") throw new StateFolderBusy(paths.home, state.pid);
    try {
      return { kind: "started", daemon: await boot(opts, paths, state.lock) };
    } catch (err) {
      await state.lock.release();
      throw err;
    }
  } finally {
    await lock.release();
  }
}

/** Another live broker holds the state folder's lock (it may be stopped or stalled). */
export class StateFolderBusy extends Error {
  constructor(
    readonly home: string,
    readonly pid: number | undefined,
  ) {
    const who = pid === undefined ? "Another broker" : `Another broker (pid ${pid})`;
    super(
      `${who} holds the state folder ${home} but does not answer /health (it may be stopped or overloaded); refusing to start a second one. Wait for it, or stop it${pid === undefined ? "" : ` (kill ${pid})`} and start again.`,
    );
  }
}

async function healthyRecord(file: string): Promise<DiscoveryRecord | undefined> {
  const read = await readDiscovery(file).catch(() => undefined);
  if (read?.kind !== "ok") return undefined;
  return (await probeHealth(read.record, 1000)) ? read.record : undefined;
}

async function boot(opts: DaemonOptions, paths: BrokerPaths, stateLock: StateLock): Promise<RunningDaemon> {
  const log = fileLogger(paths.logFile, opts.logToStderr);
  const { journal, recovered } = await Journal.open<StoreSnapshot, JournalRecord>({
    dir: paths.journalDir,
    log: (level, msg, fields) => log[level](msg, fields),
    ...opts.journal,
  });
  const store = Store.fromSnapshot(recovered.snapshot);
  for (const rec of recovered.records) store.apply(rec);
  log.info("journal recovered", { records: recovered.records.length, tornTail: recovered.tornTail, skipped: recovered.skipped });

  const compactAfter = opts.compactAfterBytes ?? 8 * 1024 * 1024;
  let compacting = false;
  let compactNotBefore = 0; // monotonic ms
  const commit = (rec: JournalRecord, lazy = false) => {
    store.apply(rec);
    if (lazy) {
      journal.appendLazy(rec);
      return Promise.resolve();
    }
    const p = journal.append(rec);
    // Not while writes fail, and not at every commit after a compaction failed: each attempt
    // serializes the whole store, which only makes sense once the disk takes writes again.
    // The threshold grows with the snapshot: rewriting a large state after every few records would make
    // the total work grow with the square of the backlog.
    if (!compacting && journal.pendingBytes > Math.max(compactAfter, journal.snapshotBytes) && journal.failure === undefined && performance.now() >= compactNotBefore) {
      compacting = true;
      journal
        .compact(store.toSnapshot(), { sliced: true })
        .catch((err) => {
          compactNotBefore = performance.now() + COMPACT_RETRY_MS;
          log.error("compaction failed; the journal keeps growing until it succeeds", { err: String(err) });
        })
        .finally(() => (compacting = false));
    }
    return p;
  };

  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const broker = new Broker(store, commit, { ...DEFAULT_CONFIG, ...opts.config }, log, { clock: opts.clock, flush: () => journal.flush(), limits });
  await ensurePrivateDir(join(paths.brokerDir, "audit"));
  const audit = await AuditLog.open(join(paths.brokerDir, "audit", "audit.ndjson"));
  // Loudly, but not fatally: refusing to start would stop every approval over a damaged history.
  if (audit.chainWarning) log.error(audit.chainWarning, { chainBreak: audit.chainBreak });
  const approvals = new ApprovalDesk(store, broker, audit, log, opts.clock, limits);
  // The approval policy judges every request before anyone sees it (docs/protocol.md section 11).
  const policy = new PolicyDesk(store, broker, log, join(paths.home, "policy"));
  approvals.policy = policy;
  // Observers hear when the rules in force change, also by a hand edit of a rules file.
  const policyChanges = new PolicyChanges(policy, broker.feed, store, log);
  policy.onChange = (c) => policyChanges.announce(c);
  broker.onEndpointOpened(() => policyChanges.endpointOpened());
  broker.onEndpointClosed((id) => policyChanges.endpointClosed(id));
  const streams = new StreamHub(store, broker, approvals, paths.brokerDir, { ...DEFAULT_STREAM_LIMITS, ...opts.streamLimits }, log, limits, opts.streamFiles?.beforeSync);
  broker.snapshotExtras = () => ({ approvals: approvals.pendingPreviews(), streams: streams.list() });
  broker.onChunkFrame = (id, channel, seq, data, pid) => streams.appendFrame(id, channel, seq, data, pid);
  broker.restore();
  await approvals.restore();
  await streams.restore();
  policyChanges.start();

  const token = randomBytes(32).toString("base64url");
  const server = new BrokerServer({
    token,
    broker,
    approvals,
    streams,
    audit,
    log,
    limits,
    policy,
    policyChanges,
    storageFailure: () => journal.failure ?? audit.failure,
    admission: opts.admission,
  });
  const port = await server.listen(opts.port ?? 0);
  const socket = opts.unixSocket !== false && (await server.listenSocket(paths.socketFile));
  const record: DiscoveryRecord = {
    version: 1,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    ipcUrl: `http://127.0.0.1:${port}`,
    bearerToken: token,
    ...(socket ? { ipcSocket: paths.socketFile } : {}),
  };
  await writeDiscovery(paths.discoveryFile, record);
  log.info("broker listening", { ipcUrl: record.ipcUrl, home: paths.home, endpoints: broker.openEndpointCount, inbox: store.inbox.size });

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | undefined;
  const stop = (reason: string) =>
    (stopping ??= (async () => {
      log.info("broker stopping", { reason });
      clearInterval(idleTimer);
      broker.stop();
      approvals.stop();
      policyChanges.stop();
      // A full or read-only state folder must not keep the broker from stopping: what cannot be
      // written now was never acknowledged, and the journal on disk is still a consistent prefix.
      const step = (what: string, run: () => Promise<unknown>) => run().catch((err) => log.error(`${what} failed while stopping`, { err: String(err) }));
      await step("closing streams", () => streams.stop());
      await server.close();
      await step("journal flush", () => journal.flush());
      await step("final compaction", () => journal.compact(store.toSnapshot()));
      await step("journal close", () => journal.close());
      await step("audit close", () => audit.close());
      await step("removing the discovery record", () => removeDiscoveryIfOurs(paths.discoveryFile, process.pid, token));
      log.info("broker stopped", { reason });
      await log.close();
      await stateLock.release(); // last: nothing of ours is written after this
      resolveStopped();
    })());

  // Optional idle exit: nobody registered and nobody watching for N minutes.
  const idleMs = (opts.idleExitMinutes ?? 0) * 60_000;
  let idleSince = performance.now(); // monotonic: a wall-clock step must not end the broker early
  const idleTimer = setInterval(
    () => {
      if (broker.openEndpointCount > 0 || broker.feed.observerCount > 0 || broker.streamCount > 0) idleSince = performance.now();
      else if (performance.now() - idleSince >= idleMs) void stop("idle");
    },
    Math.min(30_000, Math.max(1000, idleMs / 4)),
  );
  idleTimer.unref();
  if (!idleMs) clearInterval(idleTimer);

  return { record, paths, stop, stopped };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
