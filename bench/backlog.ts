// Backlog benchmark: do the cheap requests stay cheap while pending approvals pile up? The real broker
// (dist/broker.js) in a child process is filled to N pending approvals (N = 0, 500, 2,000, 5,000; the
// total limit is raised for the run with SWITCHBOARD_MAX_PENDING_APPROVALS), and at each N the requests
// an extension and its agents make often are timed one at a time over a keep-alive connection, in
// rounds that interleave them so the machine's noise falls on all alike. The floor is the same routes
// at N = 0 in the same run (and, for /health, the minimal node:http server); each figure's ratio to
// its N = 0 figure is the growth. A prober in its own process also times /health every 5 ms while
// each fill runs (the stall an agent or a window sees while others ask for approvals), while 3
// snapshots and 3 listings are sent, and while a rule is saved and previewed (both re-judge every
// pending request).
//
//   npm run build && node --import tsx bench/backlog.ts [--quick] [--bytes=65536] [--profile] [--broker=dist/OTHER.js]
//
// --bytes: the size of each approval's command (default 65,536: the default limit, as bench/limits.ts).
// --profile: the broker runs under `node --cpu-prof`; its hot spots are added to the output.
// --broker: another build of the broker in dist/ (e.g. `cp dist/broker.js dist/broker-before.js` before a change).
//
// Routes timed (the ones whose answer does not grow with the backlog should stay flat):
//   health            GET /health
//   initialize        POST /v1/initialize
//   heartbeat         POST /v1/endpoint/:id/heartbeat
//   endpoints         GET /v1/endpoints
//   approval_get      GET /v1/approvals/:id (a pending one, whole)
//   history           GET /v1/approvals/history?limit=100
//   request           POST /v1/approvals (a new one, on a session with room), then
//   decide            POST /v1/approvals/:id/decision on it (so the backlog stays at N)
//   withdraw          POST /v1/approvals + DELETE /v1/approvals/:id (the withdrawal is timed)
//   send              POST /v1/send to another session, which acknowledges the push
//   feed_resume       WebSocket /v1/events?since=SEQ&epoch=E (a window reattaching): time to open
//   feed_snapshot     WebSocket /v1/events (a new window): time to its first frame, the snapshot,
//                     which lists every pending approval (it grows with N by contract)
//   list_pending      GET /v1/approvals?state=pending (every pending one as a preview: grows by contract)
//
// Figures, 2026-12-06, commit 50cb86f, 2 shared cores, load 2.9-3.6, 64 KiB commands; p50/p99 ms at
// N = 0 -> 500 -> 2,000 -> 5,000 (`node --import tsx bench/backlog.ts`; minimal node:http server p99 2.0 ms):
//   health        0.22/2.9  0.14/9.8  0.15/4.0  0.12/7.7      history      5.3/12  5.7/21  5.3/11  5.3/18
//   approval_get  0.79/6.9  0.69/4.9  0.64/5.0  0.64/9.9      decide       4.1/13  3.8/18  3.1/14  3.4/23
//   send          1.4/9.8   0.93/6.2  0.71/8.4  0.90/21       feed_resume  0.65/5.9 0.62/12 0.45/6.1 0.50/12
//   feed_snapshot 1.7/9.2   28/61     96/130    276/426       list_pending 1.2/3.7 25/61   91/113  267/369
//   /health max while 3 snapshots + 3 listings: 12, 17, 13, 20; while a rule is saved: 6.6, 10, 9.7, 11
//   (the save taking 1.6 s at 5,000); p99 while 16 requests at a time fill: 60, 34, 30.
// Before (the build before, still parsing with tree-sitter; `--quick --broker=dist/broker-before.js`, load
// 1.4-1.5), N = 0 -> 500 -> 2,000: feed_snapshot 3.4 -> 407 -> 1,581 ms, list_pending 3.0 -> 417 -> 1,661,
//   history 33 -> 68 -> 66; /health max 409 and 1,753 while snapshots and listings of 500 and 2,000 were
//   sent, 2,383 while a rule was saved with 500 pending; at 5,000 no snapshot could be made (and the
//   listing answered 500).
//   More in docs/performance.md, "Pending-approval backlog".
import { type Agent, request } from "node:http";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import { join, resolve } from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import WebSocket from "ws";
import { BrokerApi } from "../src/client/api.js";
import { DEFAULT_LIMITS } from "../src/broker/limits.js";
import { benchLife } from "./lib/life.js";
import { keepAliveAgent } from "./lib/http.js";
import { rssMb, spawnTracked, type Tracked } from "./lib/procs.js";
import { metric, type Metric } from "./lib/report.js";
import { growth, growthNote } from "./lib/growth.js";
import { newestProfile, summarizeProfile, type ProfileSummary } from "./lib/cpuprofile.js";
import { startBrokerIn, startMinimalServer, type RunningServer } from "./lib/servers.js";
import { ratio, round, shuffled, sleep, summarize, type Summary } from "./lib/stats.js";
import { openWs } from "./lib/ws.js";

const QUICK = process.argv.includes("--quick");
const PROFILE = process.argv.includes("--profile");
/** --broker=dist/OTHER.js: time another build (say, one saved before a change) with the same bench. */
const ENTRY = process.argv.find((a) => a.startsWith("--broker="))?.slice(9);
const BYTES = Number(process.argv.find((a) => a.startsWith("--bytes="))?.slice(8) ?? DEFAULT_LIMITS.approvalCommandBytes);
const SIZES = QUICK ? [0, 500, 2000] : [0, 500, 2000, 5000];
const ROUNDS = QUICK ? 8 : 20;
const PER_ROUND = QUICK ? 5 : 10;
const PER_SESSION = DEFAULT_LIMITS.approvalsPerSession;
const life = benchLife("bench:backlog");
const { log } = life;

/** The /health prober: its own process, so the bench's own work never shows in its figures. A probe that fails counts as an error. */
const PROBER_JS = `
const http = require("node:http");
const port = Number(process.argv[1]);
const headers = process.argv[2] ? { authorization: "Bearer " + process.argv[2] } : {};
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const samples = [];
let errors = 0, stop = false;
process.stdin.on("data", () => { stop = true; });
function one() {
  if (stop) { process.stdout.write(JSON.stringify({ samples, errors }) + "\\n"); process.exit(0); }
  const t0 = process.hrtime.bigint();
  const req = http.get({ host: "127.0.0.1", port, path: "/health", agent, headers, timeout: 60000 }, (res) => {
    res.resume();
    res.on("end", () => {
      if (samples.length === 0) process.stdout.write("ready\\n");
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
      setTimeout(one, 5);
    });
  });
  req.on("error", () => { errors++; setTimeout(one, 5); });
}
one();
`;

interface Probe {
  /** Resolves once the prober has had its first answer. */
  ready: Promise<void>;
  stop(): Promise<Summary & { errors: number }>;
}

function probe(port: number, token = ""): Probe {
  const child: ChildProcess = spawn(process.execPath, ["-e", PROBER_JS, String(port), token], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout!.on("data", (d) => {
    out += d;
    if (out.startsWith("ready\n")) onReady();
  });
  const done = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    ready,
    async stop() {
      child.stdin!.write("x");
      await done;
      const { samples, errors } = JSON.parse(out.replace(/^ready\n/, "")) as { samples: number[]; errors: number };
      return { ...summarize(samples), errors };
    },
  };
}

/** One request over `agent`; its time in ms and its body. Anything but a 2xx is an error of the bench. */
function timed(agent: Agent, srv: { port: number; token: string }, method: string, path: string, body?: unknown): Promise<{ ms: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { authorization: `Bearer ${srv.token}` };
    if (data !== undefined) Object.assign(headers, { "content-type": "application/json", "content-length": Buffer.byteLength(data) });
    const t0 = process.hrtime.bigint();
    const req = request({ agent, host: "127.0.0.1", port: srv.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        const text = Buffer.concat(chunks).toString("utf8");
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve({ ms, text });
        else reject(new Error(`${method} ${path}: HTTP ${status} ${text.slice(0, 300)}`));
      });
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end(data);
  });
}

/** Runs `n` calls with `width` in flight. */
async function pool(n: number, width: number, call: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await call(next++);
    }),
  );
}

/** A session: a stand-in owner process (the broker checks that it lives), its /v1/stream socket (acknowledging pushes) and its endpoint. */
interface Session {
  owner: Tracked;
  ws: WebSocket;
  id: string;
}

async function openSession(srv: RunningServer, api: BrokerApi, name: string): Promise<Session> {
  const owner = spawnTracked("sleep", ["100000"], { stdio: "ignore" });
  const ws = await openWs(`ws://127.0.0.1:${srv.port}/v1/stream`, {
    authorization: `Bearer ${srv.token}`,
    "x-plugin-pid": String(owner.pid),
    "x-masons-ipc-capabilities": "push_receipt_ack_v1",
  });
  ws.on("message", (d) => {
    const f = JSON.parse(d.toString()) as { push_id?: string };
    if (f.push_id) ws.send(`{"event":"push_ack","push_id":${JSON.stringify(f.push_id)}}`);
  });
  const { endpoint_id } = await api.register({ plugin_pid: owner.pid, kind: "bench", session_name: name });
  return { owner, ws, id: endpoint_id };
}

const command = (tag: string, i: number) => {
  const head = `echo ${tag} ${i} `;
  return head + "x".repeat(Math.max(0, BYTES - head.length));
};

async function main(): Promise<void> {
  const t0 = Date.now();
  const { tmp, machine, watchdog } = await life.begin("bench-backlog-", 60 * 60_000);

  // The floor: the same one-at-a-time GETs against the smallest HTTP server.
  const minimal = await startMinimalServer(tmp);
  const floorAgent = keepAliveAgent(1);
  const floorSamples: number[] = [];
  for (let i = 0; i < 200; i++) await timed(floorAgent, { port: minimal.port, token: "" }, "GET", "/health");
  for (let i = 0; i < ROUNDS * PER_ROUND; i++) floorSamples.push((await timed(floorAgent, { port: minimal.port, token: "" }, "GET", "/health")).ms);
  floorAgent.destroy();
  await minimal.child.stop(500);
  const floor = summarize(floorSamples);
  log(`floor (minimal node:http) GET p50 ${floor.p50} p99 ${floor.p99} ms`);

  const max = SIZES.at(-1)!;
  const home = await mkdtemp(join(tmp, "home-"));
  const profDir = join(tmp, "prof");
  const srv = await startBrokerIn(home, {
    env: { SWITCHBOARD_MAX_PENDING_APPROVALS: String(max + 100) },
    nodeArgs: PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [],
    ...(ENTRY ? { entry: resolve(ENTRY) } : {}),
    timeoutMs: 20_000,
  });
  const api = new BrokerApi({ ipcUrl: `http://127.0.0.1:${srv.port}`, bearerToken: srv.token }, { timeoutMs: 120_000 });
  const agent = keepAliveAgent(1);
  const call = (method: string, path: string, body?: unknown) => timed(agent, srv, method, path, body);

  // Sessions that hold the backlog (at most PER_SESSION each), one that asks and is decided, one that sends and one that receives.
  const holders: Session[] = [];
  for (let i = 0; i < Math.ceil(max / PER_SESSION); i++) holders.push(await openSession(srv, api, `holder-${i}`));
  const churn = await openSession(srv, api, "churn");
  const sender = await openSession(srv, api, "sender");
  const receiver = await openSession(srv, api, "receiver");
  // A window's observer: it follows the feed the whole run (its seq and epoch are what a reattach sends).
  const observer = await openWs(`ws://127.0.0.1:${srv.port}/v1/events`, { authorization: `Bearer ${srv.token}` });
  let feedSeq = 0;
  let feedEpoch = "";
  observer.on("message", (d) => {
    const f = JSON.parse(d.toString()) as { seq: number; epoch: string };
    feedSeq = f.seq;
    feedEpoch = f.epoch;
  });

  const pendingIds: string[] = [];
  let filled = 0;
  let seq = 0;
  const idem = () => `bench-${++seq}`;
  type Route = { name: string; run: () => Promise<number> };
  const routes: Route[] = [
    { name: "health", run: async () => (await call("GET", "/health")).ms },
    {
      name: "initialize",
      run: async () => (await call("POST", "/v1/initialize", { client_protocol_version: "1.1", client_kind: "bench", client_version: "0" })).ms,
    },
    { name: "heartbeat", run: async () => (await call("POST", `/v1/endpoint/${sender.id}/heartbeat`, {})).ms },
    { name: "endpoints", run: async () => (await call("GET", "/v1/endpoints")).ms },
    {
      name: "approval_get",
      run: async () => {
        // Nothing is pending at N = 0: then the last decided one (the same lookup and answer size).
        const id = pendingIds.length ? pendingIds[Math.floor(Math.random() * pendingIds.length)]! : lastDecided;
        return (await call("GET", `/v1/approvals/${id}`)).ms;
      },
    },
    { name: "history", run: async () => (await call("GET", "/v1/approvals/history?limit=100")).ms },
    {
      name: "request",
      run: async () => {
        const r = await call("POST", "/v1/approvals", { endpoint_id: churn.id, action: "sh", summary: "churn", command: command("churn", seq), idempotency_key: idem() });
        churnIds.push((JSON.parse(r.text) as { approval_id: string }).approval_id);
        return r.ms;
      },
    },
    {
      name: "decide",
      run: async () => {
        let id = churnIds.shift();
        if (!id) id = (await api.requestApproval({ endpoint_id: churn.id, action: "sh", summary: "churn", command: command("churn", seq), idempotency_key: idem() })).approval_id;
        lastDecided = id;
        return (await call("POST", `/v1/approvals/${id}/decision`, { decision: "approve", decided_by: "bench" })).ms;
      },
    },
    {
      name: "withdraw",
      run: async () => {
        const { approval_id } = await api.requestApproval({
          endpoint_id: churn.id,
          action: "sh",
          summary: "withdrawn",
          command: command("withdraw", seq),
          idempotency_key: idem(),
        });
        return (await call("DELETE", `/v1/approvals/${approval_id}`)).ms;
      },
    },
    { name: "send", run: async () => (await call("POST", "/v1/send", { endpoint_id: sender.id, to: receiver.id, content: "hello" })).ms },
    {
      name: "feed_resume",
      run: async () => {
        const s = performance.now();
        const ws = await openWs(`ws://127.0.0.1:${srv.port}/v1/events?since=${feedSeq}&epoch=${feedEpoch}`, { authorization: `Bearer ${srv.token}` });
        const ms = performance.now() - s;
        ws.terminate();
        return ms;
      },
    },
    {
      name: "feed_snapshot",
      run: async () => {
        const s = performance.now();
        const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/v1/events`, { headers: { authorization: `Bearer ${srv.token}` }, maxPayload: 1 << 30 });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("no snapshot within 60 s")), 60_000);
          ws.once("message", () => (clearTimeout(timer), resolve()));
          ws.once("error", (err) => (clearTimeout(timer), reject(err)));
          ws.once("close", (code) => (clearTimeout(timer), reject(new Error(`closed (${code}) before its snapshot`))));
        });
        const ms = performance.now() - s;
        ws.terminate();
        return ms;
      },
    },
    { name: "list_pending", run: async () => (await call("GET", "/v1/approvals?state=pending")).ms },
  ];
  const churnIds: string[] = [];
  let lastDecided = (await api.requestApproval({ endpoint_id: churn.id, action: "sh", summary: "first", command: command("first", 0) })).approval_id;
  await api.decide(lastDecided, { decision: "reject", decided_by: "bench" });
  // Routes whose answer grows with the backlog by contract: run fewer times.
  const heavy = new Set(["feed_snapshot", "list_pending"]);

  const at: Record<
    number,
    {
      samples: Record<string, number[]>;
      failures: Record<string, string[]>;
      fill: Summary | null;
      fill_ms: number;
      rule_ms: number;
      rule_health: Summary;
      preview_ms: number;
      preview_health: Summary;
      heavy_ms: number;
      heavy_health: Summary;
      loadavg: number[];
      rss_mb: number | null;
    }
  > = {};
  for (const n of SIZES) {
    // Fill to n, with the prober on /health meanwhile.
    const pr = probe(srv.port, srv.token);
    await pr.ready;
    const f0 = Date.now();
    const need = n - filled;
    await pool(need, 16, async () => {
      const i = filled++;
      const holder = holders[Math.floor(i / PER_SESSION)]!;
      const a = await api.requestApproval({ endpoint_id: holder.id, action: "sh", summary: `backlog ${i}`, command: command("backlog", i) });
      pendingIds.push(a.approval_id);
    });
    const fillMs = Date.now() - f0;
    const fillProbe = need > 0 ? await pr.stop() : (await pr.stop(), null);
    if (fillProbe)
      log(
        `N=${n}: filled ${need} in ${fillMs} ms; /health meanwhile p50 ${fillProbe.p50} p99 ${fillProbe.p99} max ${fillProbe.max} ms (${fillProbe.count} probes, ${fillProbe.errors} failed)`,
      );
    await sleep(1000);

    const samples: Record<string, number[]> = Object.fromEntries(routes.map((r) => [r.name, []]));
    // A route that fails (an older broker at a large backlog) is counted, not timed; it stops being tried after 3 failures.
    const failures: Record<string, string[]> = Object.fromEntries(routes.map((r) => [r.name, []]));
    const attempt = async (r: Route, keep: boolean) => {
      if (failures[r.name]!.length >= 3) return;
      try {
        const ms = await r.run();
        if (keep) samples[r.name]!.push(ms);
      } catch (err) {
        failures[r.name]!.push(String((err as Error).message ?? err).slice(0, 200));
        log(`N=${n}: ${r.name} failed: ${failures[r.name]!.at(-1)}`);
      }
    };
    for (let i = 0; i < 3; i++) for (const r of routes) await attempt(r, false); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const r of shuffled(routes)) {
        const times = heavy.has(r.name) ? 1 : PER_ROUND;
        for (let i = 0; i < times; i++) await attempt(r, true);
      }
    }
    // The routes whose answers grow with the backlog (a new window's snapshot, the full listing): they
    // take time in proportion, but nobody else may wait for them.
    const hp = probe(srv.port, srv.token);
    await hp.ready;
    const h0 = performance.now();
    for (let i = 0; i < 3; i++) for (const name of heavy) await attempt(routes.find((r) => r.name === name)!, false);
    const heavyMs = round(performance.now() - h0);
    await sleep(100);
    const heavyProbe = await hp.stop();
    log(
      `N=${n}: 3 snapshots and 3 listings in ${heavyMs} ms; /health meanwhile p99 ${heavyProbe.p99} max ${heavyProbe.max} ms (${heavyProbe.count} probes, ${heavyProbe.errors} failed)`,
    );

    // A rule is saved (a session rule that matches nothing): the broker judges every pending request
    // again. Its answer lists what it decided, so it may take time in proportion; /health must not.
    const rp = probe(srv.port, srv.token);
    await rp.ready;
    const r0 = performance.now();
    await call("POST", "/v1/policy/rules", { scope: "session", endpoint_id: churn.id, rule: { id: `bench-${n}`, decision: "allow", command: "bench-matches-nothing" } });
    const ruleMs = round(performance.now() - r0);
    await sleep(200);
    const ruleProbe = await rp.stop();
    await call("DELETE", `/v1/policy/rules/bench-${n}?scope=session&endpoint_id=${churn.id}`);
    // "Allow similar…": a proposed rule is previewed over the recent decided and every pending request.
    const pp = probe(srv.port, srv.token);
    await pp.ready;
    const p0 = performance.now();
    await call("POST", "/v1/policy/preview", { rule: { id: "preview", decision: "allow", command: "bench-matches-nothing" } });
    const previewMs = round(performance.now() - p0);
    await sleep(200);
    const previewProbe = await pp.stop();
    log(
      `N=${n}: a rule previewed in ${previewMs} ms; /health meanwhile p99 ${previewProbe.p99} max ${previewProbe.max} ms (${previewProbe.count} probes, ${previewProbe.errors} failed)`,
    );
    log(
      `N=${n}: a rule saved in ${ruleMs} ms; /health meanwhile p50 ${ruleProbe.p50} p99 ${ruleProbe.p99} max ${ruleProbe.max} ms (${ruleProbe.count} probes, ${ruleProbe.errors} failed)`,
    );
    at[n] = {
      samples,
      failures: Object.fromEntries(Object.entries(failures).filter(([, f]) => f.length)),
      fill: fillProbe,
      fill_ms: fillMs,
      rule_ms: ruleMs,
      rule_health: ruleProbe,
      preview_ms: previewMs,
      preview_health: previewProbe,
      heavy_ms: heavyMs,
      heavy_health: heavyProbe,
      loadavg: os.loadavg().map((x) => round(x, 2)),
      rss_mb: rssMb(srv.child.pid)?.rss ?? null,
    };
    log(
      `N=${n}: ` +
        routes.map((r) => `${r.name} ${summarize(samples[r.name]!).p50}/${summarize(samples[r.name]!).p99}`).join(", ") +
        ` ms (p50/p99); load ${at[n]!.loadavg.join(" ")}`,
    );
  }

  const pending = (await api.approvals("pending")).length;
  const listBytes = (await call("GET", "/v1/approvals?state=pending")).text.length;
  agent.destroy();
  observer.terminate();
  for (const s of [...holders, churn, sender, receiver]) s.ws.terminate();
  await srv.child.stop(PROFILE ? 30_000 : 5000);
  let profile: ProfileSummary | { error: string } | undefined;
  if (PROFILE) {
    const file = await newestProfile(profDir);
    profile = file ? summarizeProfile(file, 30) : { error: `no .cpuprofile in ${profDir}` };
  }
  clearTimeout(watchdog);

  // The figures: each route's p50 and p99 at each N, its ratio to N = 0, and how it grows.
  const metrics: Record<string, Metric> = {};
  const table: Record<string, Record<string, { p50: number; p99: number; p50_ratio: number | null; p99_ratio: number | null }>> = {};
  for (const r of routes) {
    const base = summarize(at[0]!.samples[r.name]!);
    table[r.name] = {};
    for (const n of SIZES) {
      const s = summarize(at[n]!.samples[r.name]!);
      table[r.name]![n] = { p50: s.p50, p99: s.p99, p50_ratio: ratio(s.p50, base.p50), p99_ratio: ratio(s.p99, base.p99) };
    }
    const top = table[r.name]![max]!;
    const g = growth(
      SIZES.filter((n) => n > 0).map((n) => [n, table[r.name]![n]!.p50]),
      base.p50,
    );
    metrics[`${r.name}_p99_at_${max}_ms`] = metric(top.p99, "ms", null, null, { floor: base.p99, floor_name: "the same route with no backlog (N = 0), same run" });
    metrics[`${r.name}_p50_at_${max}_ms`] = metric(top.p50, "ms", null, null, {
      floor: base.p50,
      floor_name: "the same route with no backlog (N = 0), same run",
      note: growthNote(g, "ms", "pending approvals", "its N = 0 figure"),
    });
  }
  metrics.health_floor_p99_ms = metric(floor.p99, "ms", null, null, { note: "GET on the minimal node:http server (one at a time, keep-alive), same run" });
  for (const n of SIZES.filter((x) => x > 0))
    metrics[`health_while_filling_to_${n}_p99_ms`] = metric(at[n]!.fill?.p99 ?? null, "ms", null, null, {
      floor: floor.p99,
      floor_name: "minimal node:http server",
      note: `prober every 5 ms while ${n - (SIZES[SIZES.indexOf(n) - 1] ?? 0)} approvals of ${BYTES} B were asked for (16 at a time) in ${at[n]!.fill_ms} ms`,
    });

  for (const n of SIZES)
    metrics[`health_while_rule_saved_at_${n}_max_ms`] = metric(at[n]!.rule_health.max, "ms", null, null, {
      floor: floor.p99,
      floor_name: "minimal node:http server p99",
      note: `the longest /health while a rule was saved with ${n} pending (the save re-judges them all; it took ${at[n]!.rule_ms} ms)`,
    });
  for (const n of SIZES)
    metrics[`health_while_snapshots_and_listings_at_${n}_max_ms`] = metric(at[n]!.heavy_health.max, "ms", null, null, {
      floor: floor.p99,
      floor_name: "minimal node:http server p99",
      note: `the longest /health while 3 observer snapshots and 3 listings of ${n} pending were sent (${at[n]!.heavy_ms} ms)`,
    });
  for (const n of SIZES)
    metrics[`health_while_rule_previewed_at_${n}_max_ms`] = metric(at[n]!.preview_health.max, "ms", null, null, {
      floor: floor.p99,
      floor_name: "minimal node:http server p99",
      note: `the longest /health while a proposed rule was previewed over ${n} pending (it took ${at[n]!.preview_ms} ms)`,
    });

  await life.release();
  await life.publish("backlog", {
    bench: "backlog",
    machine,
    broker_entry: ENTRY ?? "dist/broker.js",
    quick: QUICK,
    command_bytes: BYTES,
    sizes: SIZES,
    samples_per_route: ROUNDS * PER_ROUND,
    duration_s: Math.round((Date.now() - t0) / 1000),
    floor: { minimal_http: floor },
    pending_at_end: pending,
    list_pending_bytes_at_end: listBytes,
    at: Object.fromEntries(
      SIZES.map((n) => [
        n,
        {
          failures: at[n]!.failures,
          fill_ms: at[n]!.fill_ms,
          health_while_filling: at[n]!.fill,
          heavy_ms: at[n]!.heavy_ms,
          health_while_snapshots_and_listings: at[n]!.heavy_health,
          rule_ms: at[n]!.rule_ms,
          health_while_rule_saved: at[n]!.rule_health,
          preview_ms: at[n]!.preview_ms,
          health_while_previewed: at[n]!.preview_health,
          loadavg: at[n]!.loadavg,
          rss_mb: at[n]!.rss_mb,
        },
      ]),
    ),
    table,
    metrics,
    ...(profile ? { profile } : {}),
  } as never);
}

life.run(main);
