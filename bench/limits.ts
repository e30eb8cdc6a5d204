// Bounds and backlogs benchmark (issue 15, items 3 and 4): the real broker (dist/broker.js) in a child
// process, probed on GET /health every 5 ms by a separate prober process, beside the same prober
// against the minimal Node HTTP server (the floor) in the same run.
//
//   npm run build && node --import tsx bench/limits.ts [--quick]
//
//  1. cancel: one session holds 1,000 pending approvals with 64 KiB commands (the default size limit);
//     its process exits and they are all cancelled at once. /health p99 while that runs (target < 100 ms).
//  2. restart: the broker is killed (-9) with 1,000 such approvals pending and their session gone, and
//     started again on a fixed port: time to the first /health answer, then /health p99 while the restart
//     cancels them (target < 100 ms).
//  3. at each limit (defaults): broker RSS and /health p99 while filling up to it: pending approvals in
//     total (2,000 of 64 KiB), endpoints of one pid, running streams in total, open WebSockets; the
//     listing and an observer's first snapshot at the approval limit (bytes, ms); a 50 MB stream
//     replayed whole through pages (RSS during it).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { BrokerApi } from "../src/client/api.js";
import { DEFAULT_LIMITS } from "../src/broker/limits.js";
import { benchLife } from "./lib/life.js";
import { machineInfo } from "./lib/machine.js";
import { rssMb, spawnTracked } from "./lib/procs.js";
import { metric, targetSummary, type Metric } from "./lib/report.js";
import { BROKER_ENTRY, ROOT, startBrokerIn, startMinimalServer, type RunningServer } from "./lib/servers.js";
import { round, sleep, summarize, type Summary } from "./lib/stats.js";

const QUICK = process.argv.includes("--quick");
const N_CANCEL = 1000;
const CMD_BYTES = DEFAULT_LIMITS.approvalCommandBytes;
const REPLAY_MB = QUICK ? 20 : 50;
const life = benchLife("bench:limits");
const { log } = life;

/** The prober: its own process, so the bench's own work never shows up in its figures. */
const PROBER_JS = `
const http = require("node:http");
const port = Number(process.argv[1]);
// With the token, as the user's own clients: the connection is kept alive (an unauthenticated one is closed after each answer).
const headers = { authorization: "Bearer " + process.argv[2] };
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const samples = [];
let refused = 0, stop = false;
process.stdin.on("data", () => { stop = true; });
function one() {
  if (stop) { process.stdout.write(JSON.stringify({ samples, refused })); process.exit(0); }
  const t0 = process.hrtime.bigint();
  const req = http.get({ host: "127.0.0.1", port, path: "/health", agent, headers, timeout: 30000 }, (res) => {
    res.resume();
    res.on("end", () => { samples.push([Date.now(), Number(process.hrtime.bigint() - t0) / 1e6]); setTimeout(one, 5); });
  });
  req.on("error", () => { refused++; setTimeout(one, 5); });
}
one();
`;

interface Probe {
  stop(): Promise<{ samples: [number, number][]; refused: number }>;
}

function probe(port: number, token = "none"): Probe {
  const child: ChildProcess = spawn(process.execPath, ["-e", PROBER_JS, String(port), token], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  const done = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    async stop() {
      child.stdin!.write("x");
      await done;
      return JSON.parse(out);
    },
  };
}

const p99 = (samples: [number, number][], from = 0, to = Infinity): Summary => summarize(samples.filter(([t]) => t >= from && t <= to).map(([, ms]) => ms));

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function openWs(srv: RunningServer, path: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}${path}`, { headers: { authorization: `Bearer ${srv.token}`, ...headers }, maxPayload: 256 * 1024 * 1024 });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    ws.once("unexpected-response", (_q, res) => reject(new Error(`upgrade ${path}: HTTP ${res.statusCode}`)));
  });
}

const apiOf = (srv: RunningServer) => new BrokerApi({ ipcUrl: `http://127.0.0.1:${srv.port}`, bearerToken: srv.token }, { timeoutMs: 60_000 });

/** Runs `n` calls with `width` in flight. */
async function pool(n: number, width: number, call: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await call(next++);
    }),
  );
}

/** A stand-in owner process (the broker only checks that an owner pid lives). */
function owner() {
  return spawnTracked("sleep", ["100000"], { stdio: "ignore" });
}

async function fillApprovals(api: BrokerApi, endpointId: string, n: number, tag: string): Promise<void> {
  const command = (i: number) => `echo ${tag} ${i} ` + "x".repeat(CMD_BYTES - 40);
  await pool(n, 16, (i) => api.requestApproval({ endpoint_id: endpointId, action: "sh", summary: `${tag} ${i}`, command: command(i) }));
}

async function main(): Promise<void> {
  const t0 = Date.now();
  life.tmp = await mkdtemp(join(os.tmpdir(), "bench-limits-"));
  const metrics: Record<string, Metric> = {};
  const details: Record<string, unknown> = {};

  // Floor: the same prober against the smallest HTTP server.
  const floorSrv = await startMinimalServer(life.tmp);
  const fp = probe(floorSrv.port);
  await sleep(QUICK ? 1500 : 3000);
  const floor = p99((await fp.stop()).samples);
  await floorSrv.child.stop(500);
  log(`floor /health p99 ${floor.p99} ms`);

  // 1 + 2: cancellation of 1,000 at once, and a restart with them.
  const port = await freePort();
  const home = await mkdtemp(join(life.tmp, "home-"));
  let srv = await startBrokerIn(home, { env: { SWITCHBOARD_PORT: String(port) } });
  let api = apiOf(srv);
  const idle = probe(port, srv.token);
  await sleep(1000);
  const idleP = p99((await idle.stop()).samples);
  const rssIdle = rssMb(srv.child.pid)?.rss ?? null;

  const o1 = owner();
  let stream = await openWs(srv, "/v1/stream", { "x-plugin-pid": String(o1.pid) });
  let ep = (await api.register({ plugin_pid: o1.pid, kind: "bench", session_name: "big" })).endpoint_id;
  log(`filling ${N_CANCEL} approvals of ${CMD_BYTES} bytes`);
  await fillApprovals(api, ep, N_CANCEL, "cancel");
  const rssFull = rssMb(srv.child.pid)?.rss ?? null;
  const feed = await openWs(srv, "/v1/events");
  let cancelled = 0;
  let lastCancelAt = 0;
  feed.on("message", (d) => {
    const f = JSON.parse(d.toString());
    if (f.type === "change" && f.change.kind === "approval_upserted" && f.change.approval.state === "cancelled") {
      cancelled++;
      lastCancelAt = Date.now();
    }
  });
  const cp = probe(port, srv.token);
  await sleep(500);
  const exitAt = Date.now();
  await o1.stop(0); // the session's process exits …
  stream.close(); // … and its socket closes: the broker closes the endpoint and cancels its approvals
  const deadline = Date.now() + 120_000;
  while (cancelled < N_CANCEL && Date.now() < deadline) await sleep(20);
  await sleep(500);
  const cancelSamples = (await cp.stop()).samples;
  const cancelP = p99(cancelSamples, exitAt, lastCancelAt + 100);
  feed.close();
  details.cancel = { approvals: cancelled, command_bytes: CMD_BYTES, cancel_ms: lastCancelAt - exitAt, health: cancelP, rss_mb_before: rssFull };
  metrics.cancel_1000_health_p99_ms = metric(cancelP.p99, "ms", 100, "<", {
    floor: floor.p99,
    floor_name: "minimal HTTP server /health p99",
    note: `${cancelled} approvals of ${CMD_BYTES} B cancelled in ${lastCancelAt - exitAt} ms`,
  });
  log(`cancel: ${cancelled} in ${lastCancelAt - exitAt} ms, /health p99 ${cancelP.p99} ms`);

  // Restart with 1,000 pending whose session is gone.
  const o2 = owner();
  stream = await openWs(srv, "/v1/stream", { "x-plugin-pid": String(o2.pid) });
  ep = (await api.register({ plugin_pid: o2.pid, kind: "bench", session_name: "big2" })).endpoint_id;
  await fillApprovals(api, ep, N_CANCEL, "restart");
  stream.close();
  srv.child.proc.kill("SIGKILL");
  await new Promise((r) => srv.child.proc.once("exit", r));
  await o2.stop(0);
  const restartAt = Date.now();
  srv = await startBrokerIn(home, { env: { SWITCHBOARD_PORT: String(port) }, timeoutMs: 60_000 });
  const rp = probe(port, srv.token);
  const firstAnswer = Date.now();
  api = apiOf(srv);
  const until = Date.now() + 120_000;
  while ((await api.approvals("pending")).length > 0 && Date.now() < until) await sleep(200);
  const doneAt = Date.now();
  await sleep(300);
  const restartSamples = await rp.stop();
  const restartP = p99(restartSamples.samples, firstAnswer, doneAt + 1000);
  details.restart = {
    approvals: N_CANCEL,
    first_health_ms: firstAnswer - restartAt,
    cancelled_after_ms: doneAt - restartAt,
    health: restartP,
    refused_probes: restartSamples.refused,
  };
  metrics.restart_1000_health_p99_ms = metric(restartP.p99, "ms", 100, "<", {
    floor: floor.p99,
    floor_name: "minimal HTTP server /health p99",
    note: `first answer ${firstAnswer - restartAt} ms after start; all cancelled after ${doneAt - restartAt} ms`,
  });
  log(`restart: first answer after ${firstAnswer - restartAt} ms, /health p99 ${restartP.p99} ms`);

  // 3: each limit at its default.
  const at: Record<string, unknown> = {};
  const atLimit = async (name: string, fill: () => Promise<void>, refuse: () => Promise<unknown>) => {
    const pr = probe(port, srv.token);
    const s0 = Date.now();
    await fill();
    const fillMs = Date.now() - s0;
    const refused = await refuse().then(
      () => "accepted!",
      (e: { code?: string }) => e.code ?? String(e),
    );
    const health = p99((await pr.stop()).samples);
    const rss = rssMb(srv.child.pid);
    at[name] = { fill_ms: fillMs, refused_with: refused, rss_mb: rss?.rss ?? null, health_p99_ms: health.p99, health_max_ms: health.max };
    metrics[`at_limit_${name}_health_p99_ms`] = metric(health.p99, "ms", 100, "<", {
      floor: floor.p99,
      floor_name: "minimal HTTP server /health p99",
      note: `RSS ${rss?.rss} MB at the limit; past it: ${refused}`,
    });
    log(`${name}: RSS ${rss?.rss} MB, /health p99 ${health.p99} ms, refused with ${refused}`);
  };

  const owners = [owner(), owner(), owner(), owner()];
  const sockets: WebSocket[] = [];
  for (const o of owners) sockets.push(await openWs(srv, "/v1/stream", { "x-plugin-pid": String(o.pid) }));
  const eps: string[] = [];
  for (const o of owners) eps.push((await api.register({ plugin_pid: o.pid, kind: "bench" })).endpoint_id);

  await atLimit(
    "pending_approvals",
    async () => {
      await fillApprovals(api, eps[0]!, DEFAULT_LIMITS.approvalsPerSession, "a");
      await fillApprovals(api, eps[1]!, DEFAULT_LIMITS.approvalsTotal - DEFAULT_LIMITS.approvalsPerSession, "b");
    },
    () => api.requestApproval({ endpoint_id: eps[2]!, action: "sh", summary: "one more" }),
  );
  const l0 = Date.now();
  const listing = await fetch(`http://127.0.0.1:${port}/v1/approvals?state=pending`, { headers: { authorization: `Bearer ${srv.token}` } }).then((r) => r.text());
  const listMs = Date.now() - l0;
  const s0 = Date.now();
  const snapWs = await openWs(srv, "/v1/events");
  const snapshot = await new Promise<string>((r) => snapWs.once("message", (d) => r(d.toString())));
  const snapMs = Date.now() - s0;
  snapWs.close();
  at.listing = { approvals: DEFAULT_LIMITS.approvalsTotal, bytes: listing.length, ms: listMs };
  at.first_snapshot = { bytes: snapshot.length, ms: snapMs };
  metrics.listing_at_limit_mb = metric(round(listing.length / 1e6, 2), "MB", null, null, {
    note: `GET /v1/approvals with ${DEFAULT_LIMITS.approvalsTotal} pending of ${CMD_BYTES} B, in ${listMs} ms (previews of 4 KiB)`,
  });
  for (const o of owners.slice(0, 2)) await o.stop(0);
  sockets[0]!.close();
  sockets[1]!.close();
  while ((await api.approvals("pending")).length > 0) await sleep(200);

  const extra = owner();
  const _extraWs = await openWs(srv, "/v1/stream", { "x-plugin-pid": String(extra.pid) });
  await atLimit(
    "endpoints_per_pid",
    () => pool(DEFAULT_LIMITS.endpointsPerPid, 8, () => api.register({ plugin_pid: extra.pid, kind: "bench" })),
    () => api.register({ plugin_pid: extra.pid, kind: "bench" }),
  );
  // Producers: as many processes as the total needs at the per-producer limit.
  const producers = [owners[2]!, owners[3]!];
  const prodEps = [eps[2]!, eps[3]!];
  while (prodEps.length * DEFAULT_LIMITS.streamsPerProducer < DEFAULT_LIMITS.streamsTotal) {
    const o = owner();
    producers.push(o);
    sockets.push(await openWs(srv, "/v1/stream", { "x-plugin-pid": String(o.pid) }));
    prodEps.push((await api.register({ plugin_pid: o.pid, kind: "bench" })).endpoint_id);
  }
  const extraProducer = owner();
  sockets.push(await openWs(srv, "/v1/stream", { "x-plugin-pid": String(extraProducer.pid) }));
  const extraEp = (await api.register({ plugin_pid: extraProducer.pid, kind: "bench" })).endpoint_id;
  const running: [string, number][] = [];
  await atLimit(
    "running_streams",
    () =>
      pool(DEFAULT_LIMITS.streamsTotal, 8, async (i) => {
        const k = i % prodEps.length;
        running.push([(await api.startStream({ endpoint_id: prodEps[k]!, action: "sh", command: `s${i}` })).stream_id, producers[k]!.pid]);
      }),
    () => api.startStream({ endpoint_id: extraEp, action: "sh", command: "one more" }),
  );
  for (const [id, pid] of running) await api.completeStream(id, { exit_code: 0 }, pid);
  const observers: WebSocket[] = [];
  await atLimit(
    "open_websockets",
    async () => {
      for (;;) {
        try {
          observers.push(await openWs(srv, "/v1/events"));
        } catch {
          return;
        }
      }
    },
    () => openWs(srv, "/v1/events"),
  );
  for (const w of observers) w.close();

  // A 50 MB stream, replayed whole through pages.
  const big = await api.startStream({ endpoint_id: eps[3]!, action: "sh", command: "big" });
  const block = "r".repeat(512 * 1024 - 1) + "\n"; // two per MB: a body holds at most 1 MiB
  for (let i = 0; i < REPLAY_MB * 2; i++) await api.appendChunks(big.stream_id, [{ channel: 1, data: block }], owners[3]!.pid);
  const rssBefore = rssMb(srv.child.pid)?.rss ?? null;
  let rssPeak = rssBefore ?? 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMb(srv.child.pid)?.rss ?? 0)), 20);
  const rr = probe(port, srv.token);
  const r0 = Date.now();
  let pages = 0;
  let bytes = 0;
  let from: number | null = 1;
  while (from !== null) {
    const page = await api.replayStream(big.stream_id, { fromSeq: from, onePage: true });
    pages++;
    for (const c of page.chunks) bytes += c.data.length;
    from = page.next_from_seq ?? null;
  }
  const replayMs = Date.now() - r0;
  clearInterval(sampler);
  const replayHealth = p99((await rr.stop()).samples);
  at.replay = { mb: REPLAY_MB, pages, bytes, ms: replayMs, rss_mb_before: rssBefore, rss_mb_peak: rssPeak, health: replayHealth };
  metrics.replay_health_p99_ms = metric(replayHealth.p99, "ms", 100, "<", {
    floor: floor.p99,
    floor_name: "minimal HTTP server /health p99",
    note: `${REPLAY_MB} MB in ${pages} pages, RSS ${rssBefore} → peak ${rssPeak} MB`,
  });

  await srv.child.stop(2000);
  await life.release();
  const result = {
    bench: "limits",
    machine: machineInfo(ROOT, BROKER_ENTRY),
    quick: QUICK,
    duration_s: Math.round((Date.now() - t0) / 1000),
    limits: DEFAULT_LIMITS,
    floor: { health: floor },
    idle: { health: idleP, rss_mb: rssIdle },
    ...details,
    at_limits: at,
    metrics,
    summary: targetSummary(metrics),
  };
  await life.publish("limits", result);
}

life.run(main);
