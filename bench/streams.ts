// Approvals and output streams benchmark: the real broker (dist/broker.js) in a child process on
// 127.0.0.1, measured side by side with floors in the same run.
//
//   npm run build && node --import tsx bench/streams.ts [--quick] [--profile] [--only=approvals,throughput,latency]
//
// Prints one JSON object to stdout (progress goes to stderr) and writes it to .bench-out/streams.json.
//  1. approval round trip: POST /v1/approvals by an endpoint whose owner holds a /v1/stream (push acks on)
//     -> an observer's /v1/events socket sees approval_upserted -> it POSTs the decision at once ->
//     the requester's /v1/stream gets approval_resolved. Sequential trials on keep-alive HTTP, beside the
//     relay floor (lib/relay-floor.ts: the same routes and frames, no validation, journal or fsync).
//  2. stream throughput: `yes LINE | head -c N` run by src/exec's execCommand, its output fed to a broker
//     stream by StreamWriter exactly as `switchboard run` does (binary frames on the producer's /v1/stream
//     socket; as a variant, the HTTP fallback), one live observer in its own process following with
//     binary chunk frames and counting bytes until `end`. Floors: the writer into /dev/null, the
//     writer | cat, execCommand alone, and the same client code against the relay floor.
//  3. chunk latency at 1 MB/s: 1 KiB lines stamped with the monotonic clock, one per ms, written through
//     the broker (StreamWriter over HTTP, StreamWriter with frames, and a child process run by execCommand
//     feeding StreamWriter with frames, as switchboard run) to the live observer process, which times every line.
//  4. broker RSS (VmRSS every 100 ms) and CPU per MB during (2).
// --profile runs the broker under `node --cpu-prof` and adds its hot spots (numbers then carry profiler overhead).
import { benchLife } from "./lib/life.js";
import { statSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import type { Agent } from "node:http";
import os from "node:os";
import { join } from "node:path";
import type WebSocket from "ws";
import { BrokerApi } from "../src/client/api.js";
import { StreamWriter } from "../src/client/stream-writer.js";
import { execCommand, type ExecResult } from "../src/exec/index.js";
import { brokerPaths } from "../src/platform/paths.js";
import { newestProfile, summarizeProfile, type ProfileSummary } from "./lib/cpuprofile.js";
import { keepAliveAgent, postJson, type HttpTarget } from "./lib/http.js";
import { pace } from "./lib/load.js";
import { ObserverProcess } from "./lib/observer-proc.js";
import { metric, targetSummary, type Metric } from "./lib/report.js";
import { frameSender, openWs } from "./lib/ws.js";
import { cpuSeconds, rssMb, spawnTracked } from "./lib/procs.js";
import { startRelayFloor, type RelayFloor } from "./lib/relay-floor.js";
import { cpuWindow, startSampler, type CpuWindow, type SamplerResult } from "./lib/sampler.js";
import { ROOT, startBroker, type RunningServer } from "./lib/servers.js";
import { ratio, round, sleep, summarize, type Summary } from "./lib/stats.js";
import type { ObserverResult } from "./lib/stream-observer.js";

const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const PROFILE = argv.includes("--profile");
const ONLY = new Set((argv.find((a) => a.startsWith("--only="))?.slice(7) ?? "approvals,throughput,latency").split(","));

const P = QUICK
  ? { trials: 100, warmupTrials: 20, block: 50, streamBytes: 50_000_000, warmupBytes: 5_000_000, throughputReps: 1, latencyMs: 3000, watchdogMs: 90_000 }
  : { trials: 500, warmupTrials: 50, block: 100, streamBytes: 200_000_000, warmupBytes: 20_000_000, throughputReps: 1, latencyMs: 10_000, watchdogMs: 180_000 };
/** 1 MB/s: one 1 KiB line per ms. */
const LATENCY_RATE = 1000;
const LINE_BYTES = 1024;
const MB = 1e6; // throughput and "per MB" figures use 10^6 bytes
const LINE = "switchboard bench output: the quick brown fox jumps over the lazy dog 0123456789";
const writerCommand = (bytes: number) => `yes '${LINE}' | head -c ${bytes}`;
const OUT_DIR = join(ROOT, ".bench-out");
const FAKE_PID_BASE = 2_110_000_000; // above any Linux pid_max: never a live process, and < 2^31
const APPROVAL_TIMEOUT_MS = 5000;

const life = benchLife("bench:streams");
const { log, fail } = life;

for (const a of argv)
  if (a !== "--quick" && a !== "--profile" && !a.startsWith("--only=")) fail(`unknown argument ${a}; use --quick, --profile, --only=approvals,throughput,latency`);
for (const o of ONLY) if (!["approvals", "throughput", "latency"].includes(o)) fail(`--only: unknown part ${o}`);

// ---- report shape ---------------------------------------------------------------------------------------

// ---- targets: the broker and the relay floor, driven by the same client code ------------------------------

interface Frame {
  event?: string;
  type?: string;
  push_id?: string;
  approval?: { approval_id: string; idempotency_key: string | null; state: string };
  change?: { kind: string; approval?: { approval_id: string; idempotency_key: string | null; state: string } };
}

interface Target {
  name: "broker" | "floor";
  port: number;
  token: string;
  pid: number;
  http: HttpTarget;
  api: BrokerApi;
  /** requester of approvals (owns endpoint `requesterEp`) */
  requesterWs: WebSocket;
  requesterEp: string;
  /** stream producer (owns endpoint `producerEp`; its socket carries the stream_chunk frames) */
  producerWs: WebSocket;
  producerPid: number;
  producerEp: string;
  observerWs: WebSocket;
  onRequesterFrame: (f: Frame, ns: bigint) => void;
  onObserverFrame: (f: Frame, ns: bigint) => void;
  /** frames the bench did not expect (errors, stream_cancelled) */
  oddFrames: string[];
  close(): void;
}

async function connectTarget(name: Target["name"], port: number, token: string, pid: number, pidBase: number): Promise<Target> {
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const wsBase = `ws://127.0.0.1:${port}`;
  const http: HttpTarget = { port, token };
  const sockets: WebSocket[] = [];
  const close = () => {
    for (const ws of sockets) ws.terminate();
  };
  try {
    const streamHeaders = (p: number) => ({ ...auth, "x-plugin-pid": String(p), "x-masons-ipc-capabilities": "push_receipt_ack_v1" });
    const requesterWs = await openWs(`${wsBase}/v1/stream`, streamHeaders(pidBase));
    sockets.push(requesterWs);
    const producerWs = await openWs(`${wsBase}/v1/stream`, streamHeaders(pidBase + 1));
    sockets.push(producerWs);
    const observerWs = await openWs(`${wsBase}/v1/events`, auth);
    sockets.push(observerWs);
    const agent = keepAliveAgent(1);
    const register = async (p: number, session: string) => {
      const r = await postJson(agent, http, "/v1/endpoint/register", JSON.stringify({ plugin_pid: p, kind: "bench", session_name: session }));
      if (r.status !== 200) throw new Error(`${name}: register failed: HTTP ${r.status} ${r.body}`);
      return (JSON.parse(r.body) as { endpoint_id: string }).endpoint_id;
    };
    const requesterEp = await register(pidBase, "bench-requester");
    const producerEp = await register(pidBase + 1, "bench-producer");
    agent.destroy();
    const t: Target = {
      name,
      port,
      token,
      pid,
      http,
      api: new BrokerApi({ ipcUrl: `http://127.0.0.1:${port}`, bearerToken: token || "floor" }),
      requesterWs,
      requesterEp,
      producerWs,
      producerPid: pidBase + 1,
      producerEp,
      observerWs,
      onRequesterFrame: () => {},
      onObserverFrame: () => {},
      oddFrames: [],
      close,
    };
    requesterWs.on("message", (data: WebSocket.RawData) => {
      const ns = process.hrtime.bigint();
      const f = JSON.parse(data.toString()) as Frame;
      if (f.push_id) requesterWs.send(`{"event":"push_ack","push_id":${JSON.stringify(f.push_id)}}`);
      if (f.event === "approval_resolved") t.onRequesterFrame(f, ns);
      else if (t.oddFrames.length < 20) t.oddFrames.push(`requester: ${data.toString().slice(0, 200)}`);
    });
    producerWs.on("message", (data: WebSocket.RawData) => {
      const f = JSON.parse(data.toString()) as Frame;
      if (f.push_id) producerWs.send(`{"event":"push_ack","push_id":${JSON.stringify(f.push_id)}}`);
      if (t.oddFrames.length < 20) t.oddFrames.push(`producer: ${data.toString().slice(0, 200)}`);
    });
    observerWs.on("message", (data: WebSocket.RawData) => {
      const ns = process.hrtime.bigint();
      t.onObserverFrame(JSON.parse(data.toString()) as Frame, ns);
    });
    for (const ws of sockets) ws.on("error", () => {});
    return t;
  } catch (err) {
    close();
    throw err;
  }
}

// ---- 1. approval round trip ----------------------------------------------------------------------------------

interface ApprovalLegs {
  round_trip: number[];
  request_to_seen: number[];
  seen_to_told: number[];
  request_answered: number[];
  decision_answered: number[];
  failures: string[];
}

const emptyLegs = (): ApprovalLegs => ({ round_trip: [], request_to_seen: [], seen_to_told: [], request_answered: [], decision_answered: [], failures: [] });

/** One request -> seen -> decided -> told cycle; resolves when all four events happened (or on failure). */
function approvalTrial(t: Target, reqAgent: Agent, obsAgent: Agent, key: string, into: ApprovalLegs | undefined): Promise<void> {
  return new Promise((resolve) => {
    const ms = (a: bigint, b: bigint) => Number(b - a) / 1e6;
    let t0 = 0n;
    let seen: bigint | undefined;
    let told: bigint | undefined;
    let reqAns: bigint | undefined;
    let decAns: bigint | undefined;
    let settled = false;
    const finish = (failure?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      t.onObserverFrame = () => {};
      t.onRequesterFrame = () => {};
      if (into) {
        if (failure) into.failures.push(failure);
        else {
          into.round_trip.push(ms(t0, told!));
          into.request_to_seen.push(ms(t0, seen!));
          into.seen_to_told.push(ms(seen!, told!));
          into.request_answered.push(ms(t0, reqAns!));
          into.decision_answered.push(ms(seen!, decAns!));
        }
      }
      resolve();
    };
    const check = () => {
      if (seen !== undefined && told !== undefined && reqAns !== undefined && decAns !== undefined) finish();
    };
    const timer = setTimeout(
      () =>
        finish(
          `${key}: incomplete after ${APPROVAL_TIMEOUT_MS} ms (seen ${seen !== undefined}, told ${told !== undefined}, answers ${reqAns !== undefined}/${decAns !== undefined})`,
        ),
      APPROVAL_TIMEOUT_MS,
    );
    t.onObserverFrame = (f, ns) => {
      const a = f.type === "change" && f.change?.kind === "approval_upserted" ? f.change.approval : undefined;
      if (!a || a.idempotency_key !== key || a.state !== "pending" || seen !== undefined) return;
      seen = ns;
      postJson(obsAgent, t.http, `/v1/approvals/${encodeURIComponent(a.approval_id)}/decision`, JSON.stringify({ decision: "approve", decided_by: "bench-observer" })).then(
        (r) => {
          if (r.status !== 200) return finish(`${key}: decision HTTP ${r.status} ${r.body.slice(0, 200)}`);
          decAns = process.hrtime.bigint();
          check();
        },
        (err) => finish(`${key}: decision failed: ${String(err)}`),
      );
    };
    t.onRequesterFrame = (f, ns) => {
      if (f.approval?.idempotency_key !== key) return;
      if (f.approval.state !== "approved") return finish(`${key}: resolved as ${f.approval.state}`);
      told = ns;
      check();
    };
    const body = JSON.stringify({ endpoint_id: t.requesterEp, action: "sh", summary: `bench approval ${key}`, command: "npm test", cwd: "/tmp", idempotency_key: key });
    t0 = process.hrtime.bigint();
    postJson(reqAgent, t.http, "/v1/approvals", body).then(
      (r) => {
        if (r.status !== 200) return finish(`${key}: request HTTP ${r.status} ${r.body.slice(0, 200)}`);
        reqAns = process.hrtime.bigint();
        check();
      },
      (err) => finish(`${key}: request failed: ${String(err)}`),
    );
  });
}

async function runApprovals(targets: Target[]): Promise<Record<string, ApprovalLegs>> {
  const out: Record<string, ApprovalLegs> = {};
  const agents = new Map<Target, [Agent, Agent]>();
  for (const t of targets) {
    out[t.name] = emptyLegs();
    agents.set(t, [keepAliveAgent(1), keepAliveAgent(1)]);
  }
  const run = Date.now().toString(36);
  try {
    for (const t of targets) {
      const [ra, oa] = agents.get(t)!;
      for (let i = 0; i < P.warmupTrials; i++) await approvalTrial(t, ra, oa, `w-${run}-${i}`, undefined);
    }
    // Interleaved blocks, so that background noise hits both alike.
    for (let done = 0; done < P.trials; done += P.block) {
      for (const t of targets) {
        const [ra, oa] = agents.get(t)!;
        for (let i = done; i < Math.min(P.trials, done + P.block); i++) await approvalTrial(t, ra, oa, `m-${run}-${i}`, out[t.name]);
      }
    }
  } finally {
    for (const [a, b] of agents.values()) {
      a.destroy();
      b.destroy();
    }
  }
  return out;
}

const summarizeLegs = (l: ApprovalLegs) => ({
  trials: l.round_trip.length,
  failures: l.failures.length,
  failure_examples: l.failures.slice(0, 3),
  round_trip_ms: summarize(l.round_trip),
  request_to_seen_ms: summarize(l.request_to_seen),
  seen_to_told_ms: summarize(l.seen_to_told),
  request_answered_ms: summarize(l.request_answered),
  decision_answered_ms: summarize(l.decision_answered),
});

// ---- 2. throughput -----------------------------------------------------------------------------------------

interface PlainRun {
  name: string;
  bytes: number;
  ms: number;
  mb_per_s: number;
  exit: unknown;
}

/** `sh -c CMD` from spawn to exit. */
async function timeShell(name: string, cmd: string, bytes: number): Promise<PlainRun> {
  const t0 = process.hrtime.bigint();
  const child = spawnTracked("sh", ["-c", cmd], { stdio: ["ignore", "ignore", "pipe"] });
  const exit = await Promise.race([child.exited, sleep(60_000).then(() => ({ code: null, signal: "timeout" as const }))]);
  if (exit.signal === "timeout") await child.stop(500);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { name, bytes, ms: round(ms, 1), mb_per_s: round(bytes / MB / (ms / 1000), 1), exit };
}

/** execCommand alone: output decoded and counted, no broker. */
async function timeExecOnly(bytes: number): Promise<PlainRun & { received: number }> {
  let received = 0;
  const t0 = process.hrtime.bigint();
  const h = execCommand({ command: writerCommand(bytes), onOutput: (_c, text) => void (received += Buffer.byteLength(text)) });
  const r = await h.done;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { name: "execCommand only (no broker)", bytes, ms: round(ms, 1), mb_per_s: round(bytes / MB / (ms / 1000), 1), exit: { code: r.exit_code, signal: r.signal }, received };
}

/** execCommand running `true`: the fixed cost of its login shell ($SHELL -lc). */
async function timeExecStartup(): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    await execCommand({ command: "true" }).done;
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return round(Math.min(...ms), 1);
}

/** What the StreamWriter's HTTP batches looked like: StreamWriter sends one batch at a time, so max_in_flight should be 1. */
interface BatchStats {
  batches: number;
  max_in_flight: number;
  /** batches whose first seq was not above every seq sent before (the broker drops those chunks as retries) */
  out_of_order: number;
  out_of_order_examples: string[];
  max_batch_chunks: number;
  max_batch_data_bytes: number;
}

/** The same BrokerApi, with appendChunks observed (StreamWriter only calls start/append/complete/abort). */
function instrumentedApi(api: BrokerApi): { api: BrokerApi; stats: BatchStats } {
  const stats: BatchStats = { batches: 0, max_in_flight: 0, out_of_order: 0, out_of_order_examples: [], max_batch_chunks: 0, max_batch_data_bytes: 0 };
  let inFlight = 0;
  let maxSent = 0;
  const wrapped = Object.create(api) as BrokerApi;
  wrapped.appendChunks = async (id, chunks, pid) => {
    stats.batches++;
    inFlight++;
    stats.max_in_flight = Math.max(stats.max_in_flight, inFlight);
    const lo = chunks[0]?.seq ?? 0;
    const hi = chunks.at(-1)?.seq ?? 0;
    if (lo <= maxSent) {
      stats.out_of_order++;
      if (stats.out_of_order_examples.length < 5) stats.out_of_order_examples.push(`seq ${lo}-${hi} sent after ${maxSent} (in flight: ${inFlight})`);
    }
    maxSent = Math.max(maxSent, hi);
    stats.max_batch_chunks = Math.max(stats.max_batch_chunks, chunks.length);
    stats.max_batch_data_bytes = Math.max(
      stats.max_batch_data_bytes,
      chunks.reduce((n, c) => n + c.data.length, 0),
    );
    try {
      return await api.appendChunks(id, chunks, pid);
    } finally {
      inFlight--;
    }
  };
  return { api: wrapped, stats };
}

interface StreamRun {
  target: string;
  path: "http" | "frames";
  high_water_bytes: number | null;
  bytes_expected: number;
  bytes_read_by_exec: number;
  bytes_observed: number;
  bytes_in_end_view: number | null;
  bytes_match: boolean;
  observer: Omit<ObserverResult, "end_stream" | "latencies_ms"> & { end_state: unknown };
  spawn_to_end_ms: number;
  spawn_to_exec_done_ms: number;
  spawn_to_complete_answered_ms: number;
  mb_per_s: number;
  /** bytes / (observer's last chunk time - its first chunk time): the rate once output flows, without shell start-up */
  steady_mb_per_s: number | null;
  exec: { exit_code: number | null; signal: string | null; output_complete: boolean; duration_ms: number };
  writer_error: string | null;
  writer_batches: BatchStats | null;
  machine: CpuWindow;
  odd_frames: string[];
  cpu_s: { target: number | null; observer: number; bench_process: number };
  target_cpu_ms_per_mb: number | null;
  rss: Omit<SamplerResult, "samples"> & { growth_mb: number | null; samples_mb: number[] };
  stream_file_bytes: number | null;
}

async function streamThroughput(t: Target, obs: ObserverProcess, path: "http" | "frames", bytes: number): Promise<StreamRun> {
  let writerError: string | null = null;
  const command = writerCommand(bytes);
  const inst = instrumentedApi(t.api);
  const batches: BatchStats = inst.stats;
  const writer = await StreamWriter.start(
    { endpoint_id: t.producerEp, action: "sh", command, cwd: ROOT },
    {
      api: async () => inst.api,
      pluginPid: t.producerPid,
      ...(path === "frames" ? { frames: frameSender(t.producerWs) } : {}),
      onError: (e) => (writerError ??= String(e.message ?? e)),
    },
  );
  const streamId = writer.streamId;
  const follow = obs.follow({ wsBase: `ws://127.0.0.1:${t.port}`, token: t.token, streamId, mode: "count", timeoutMs: 60_000 });
  await Promise.race([follow.ready, sleep(10_000)]);
  t.oddFrames.length = 0;
  await sleep(100); // let the sampler's first read see the idle state
  const sampler = startSampler(t.pid, 100);
  const win = cpuWindow(ourPids);
  const cpu0 = cpuSeconds(t.pid);
  const self0 = process.cpuUsage();
  const tSpawn = process.hrtime.bigint();
  // Exactly as src/cli/run.ts runHere (minus the mirror to this terminal).
  const handle = execCommand({ command, cwd: ROOT, onOutput: (channel, text) => writer.write(channel, text) });
  writer.onDrain(function resume() {
    handle.resume();
    writer.onDrain(resume);
  });
  const result: ExecResult = await handle.done;
  const tExec = process.hrtime.bigint();
  await writer.complete({ exit_code: result.exit_code, signal: result.signal, duration_ms: result.duration_ms });
  // A failed StreamWriter drops its output and never ends the stream: end it here so that the observer sees `end`.
  if (writerError) await t.api.abortStream(streamId, `bench: the StreamWriter failed: ${writerError}`.slice(0, 1000), t.producerPid).catch(() => {});
  const tComplete = process.hrtime.bigint();
  const seen = await follow.done;
  const cpu1 = cpuSeconds(t.pid);
  const machine = win.end();
  const self = process.cpuUsage(self0);
  const rss = sampler.stop();
  const endNs = BigInt(seen.end_ns);
  const ms = Number(endNs - tSpawn) / 1e6;
  const endView = seen.end_stream as { state?: string; status?: number; channels?: Record<string, { bytes: number }> } | undefined;
  const inView = endView?.channels?.["1"]?.bytes ?? null;
  let fileBytes: number | null = null;
  if (t.name === "broker") {
    const file = join(brokerPaths(brokerHome!).brokerDir, "streams", `${streamId}.out`);
    try {
      fileBytes = statSync(file).size;
      await rm(file, { force: true }); // keep the page cache and disk quiet for the next run
    } catch {
      fileBytes = null;
    }
  }
  const targetCpu = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
  const { end_stream: _e, latencies_ms: _l, ...obsRest } = seen;
  return {
    target: t.name,
    path,
    high_water_bytes: 4 * 1024 * 1024,
    bytes_expected: bytes,
    bytes_read_by_exec: result.bytes[1],
    bytes_observed: seen.bytes,
    bytes_in_end_view: inView,
    bytes_match: seen.bytes === bytes && result.bytes[1] === bytes && inView === bytes && seen.seq_gaps === 0,
    observer: { ...obsRest, end_state: endView?.state ?? null },
    spawn_to_end_ms: round(ms, 1),
    spawn_to_exec_done_ms: round(Number(tExec - tSpawn) / 1e6, 1),
    spawn_to_complete_answered_ms: round(Number(tComplete - tSpawn) / 1e6, 1),
    mb_per_s: round(bytes / MB / (ms / 1000), 1),
    steady_mb_per_s: seen.first_chunk_ns ? round(seen.bytes / MB / (Number(endNs - BigInt(seen.first_chunk_ns)) / 1e9), 1) : null,
    exec: { exit_code: result.exit_code, signal: result.signal, output_complete: result.output_complete, duration_ms: result.duration_ms },
    writer_error: writerError,
    writer_batches: batches,
    machine,
    odd_frames: [...t.oddFrames],
    cpu_s: { target: targetCpu === null ? null : round(targetCpu, 2), observer: round(seen.cpu_s, 2), bench_process: round((self.user + self.system) / 1e6, 2) },
    target_cpu_ms_per_mb: targetCpu === null ? null : round((targetCpu * 1000) / (bytes / MB), 2),
    rss: {
      start_mb: rss.start_mb,
      max_mb: rss.max_mb,
      end_mb: rss.end_mb,
      hwm_mb: rss.hwm_mb,
      growth_mb: rss.max_mb !== null && rss.start_mb !== null ? round(rss.max_mb - rss.start_mb, 1) : null,
      samples_mb: rss.samples.map((s) => s.rss_mb),
    },
    stream_file_bytes: fileBytes,
  };
}

// ---- 3. chunk latency ----------------------------------------------------------------------------------------

interface LatencyRun {
  target: string;
  path: "http" | "frames" | "exec";
  lines_written: number;
  lines_observed: number;
  malformed_lines: number;
  seq_gaps: number;
  resyncs: number;
  achieved_rate: number | null;
  max_send_lag_ms: number | null;
  latency_ms: Summary;
  /** p50 and max of each tenth of the run, in receive order: a rising curve means a backlog built up */
  latency_by_tenth_ms: Array<{ p50: number; max: number }>;
  writer_error: string | null;
  cpu_s: { target: number | null; observer: number };
  machine: CpuWindow;
}

function tenths(xs: number[]): Array<{ p50: number; max: number }> {
  const out: Array<{ p50: number; max: number }> = [];
  for (let i = 0; i < 10 && xs.length >= 10; i++) {
    const s = summarize(xs.slice(Math.floor((i * xs.length) / 10), Math.floor(((i + 1) * xs.length) / 10)));
    out.push({ p50: round(s.p50, 2), max: round(s.max, 1) });
  }
  return out;
}

/** A 1 KiB line: "T<hrtime ns> xxx…\n". */
function stampedLine(): string {
  const head = `T${process.hrtime.bigint()} `;
  return head + PAD.slice(0, LINE_BYTES - 1 - head.length) + "\n";
}
const PAD = "x".repeat(LINE_BYTES);

/** The exec variant's writer: a node child that prints one stamped 1 KiB line per ms to stdout. */
const PACER_JS = String.raw`
const total = Number(process.argv[2]);
const pad = "x".repeat(${LINE_BYTES});
const base = process.hrtime.bigint();
let k = 0;
function tick() {
  const due = Math.min(total, Math.floor(Number(process.hrtime.bigint() - base) / 1e6) + 1);
  for (; k < due; k++) {
    const head = "T" + process.hrtime.bigint() + " ";
    process.stdout.write(head + pad.slice(0, ${LINE_BYTES} - 1 - head.length) + "\n");
  }
  if (k < total) setTimeout(tick, 1);
}
tick();
`;

async function chunkLatency(t: Target, obs: ObserverProcess, path: LatencyRun["path"], durationMs: number): Promise<LatencyRun> {
  const total = Math.round((durationMs / 1000) * LATENCY_RATE);
  let writerError: string | null = null;
  const command = path === "exec" ? `'${process.execPath}' '${join(life.tmp!, "pacer.cjs")}' ${total}` : "bench latency pacer";
  const writer = await StreamWriter.start(
    { endpoint_id: t.producerEp, action: "sh", command, cwd: ROOT },
    {
      api: async () => t.api,
      pluginPid: t.producerPid,
      ...(path === "http" ? {} : { frames: frameSender(t.producerWs) }),
      onError: (e) => (writerError ??= String(e.message ?? e)),
    },
  );
  const streamId = writer.streamId;
  const follow = obs.follow({ wsBase: `ws://127.0.0.1:${t.port}`, token: t.token, streamId, mode: "latency", timeoutMs: durationMs + 60_000 });
  await Promise.race([follow.ready, sleep(10_000)]);
  const win = cpuWindow(ourPids);
  const cpu0 = cpuSeconds(t.pid);
  let achieved: number | null = null;
  let lag: number | null = null;
  if (path === "exec") {
    const w = writer;
    const handle = execCommand({ command, cwd: ROOT, onOutput: (channel, text) => w.write(channel, text) });
    w.onDrain(function resume() {
      handle.resume();
      w.onDrain(resume);
    });
    const r = await handle.done;
    await w.complete({ exit_code: r.exit_code, signal: r.signal, duration_ms: r.duration_ms });
  } else {
    const paced = await pace(LATENCY_RATE, total, durationMs + 5000, () => void writer.write(1, stampedLine()));
    achieved = paced.achievedRate;
    lag = paced.maxSendLagMs;
    await writer.complete({ exit_code: 0, signal: null });
  }
  const seen = await follow.done;
  const cpu1 = cpuSeconds(t.pid);
  const machine = win.end();
  return {
    target: t.name,
    path,
    lines_written: total,
    lines_observed: seen.lines ?? 0,
    malformed_lines: seen.malformed_lines ?? 0,
    seq_gaps: seen.seq_gaps,
    resyncs: seen.resyncs,
    achieved_rate: achieved,
    max_send_lag_ms: lag,
    latency_ms: summarize(seen.latencies_ms ?? []),
    latency_by_tenth_ms: tenths(seen.latencies_ms ?? []),
    writer_error: writerError,
    cpu_s: { target: cpu0 !== null && cpu1 !== null ? round(cpu1 - cpu0, 2) : null, observer: round(seen.cpu_s, 2) },
    machine,
  };
}

// ---- main ----------------------------------------------------------------------------------------------------

let brokerHome: string | undefined;
/** broker, relay floor and observer: "ours" when telling how busy the rest of the machine was */
const ourPids: number[] = [];

async function main() {
  const started = Date.now();
  const { tmp, machine, watchdog } = await life.begin("sb-bench-streams-", P.watchdogMs);
  await writeFile(join(tmp, "pacer.cjs"), PACER_JS);
  const profDir = join(OUT_DIR, "prof-streams");
  log(`mode ${QUICK ? "quick" : "full"}${PROFILE ? " + profile" : ""}; parts ${[...ONLY].join(",")}; ${machine.cpus} cpus, node ${machine.node}; temp ${tmp}`);

  let broker: RunningServer | undefined;
  let floor: RelayFloor | undefined;
  let obs: ObserverProcess | undefined;
  const targets: Target[] = [];
  try {
    if (PROFILE) await rm(profDir, { recursive: true, force: true });
    broker = await startBroker(tmp, PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []);
    brokerHome = broker.home;
    floor = await startRelayFloor(tmp);
    obs = ObserverProcess.start();
    ourPids.push(broker.child.pid, floor.child.pid, obs.child.pid);
    log(`broker pid ${broker.child.pid} on :${broker.port}; relay floor pid ${floor.child.pid} on :${floor.port}; observer pid ${obs.child.pid}`);
    const b = await connectTarget("broker", broker.port, broker.token, broker.child.pid, FAKE_PID_BASE);
    targets.push(b);
    const f = await connectTarget("floor", floor.port, "", floor.child.pid, FAKE_PID_BASE + 10);
    targets.push(f);
    const rssAtStart = rssMb(broker.child.pid);
    const metrics: Record<string, Metric> = {};
    const details: Record<string, unknown> = { broker_pid: broker.child.pid, broker_rss_after_start: rssAtStart };

    // ---- 1. approvals --------------------------------------------------------------------------------------
    if (ONLY.has("approvals")) {
      log(`approvals: ${P.warmupTrials} warm-up + ${P.trials} sequential trials each, broker and relay floor in interleaved blocks of ${P.block}`);
      const win = cpuWindow(ourPids);
      const legs = await runApprovals([b, f]);
      const machineApprovals = win.end();
      const sb = summarizeLegs(legs.broker!);
      const sf = summarizeLegs(legs.floor!);
      log(
        `  broker round trip p50 ${sb.round_trip_ms.p50} p99 ${sb.round_trip_ms.p99} max ${sb.round_trip_ms.max} ms; floor p50 ${sf.round_trip_ms.p50} p99 ${sf.round_trip_ms.p99} ms; failures ${sb.failures}/${sf.failures}`,
      );
      log(
        `  broker legs p50: request->seen ${sb.request_to_seen_ms.p50}, seen->told ${sb.seen_to_told_ms.p50}, request answered ${sb.request_answered_ms.p50}, decision answered ${sb.decision_answered_ms.p50} ms`,
      );
      details.approvals = { broker: sb, floor: sf, machine: machineApprovals };
      log(`  machine busy ${machineApprovals.machine_busy_pct}% of a core, of which not ours ${machineApprovals.other_pct}%`);
      const fn = "relay floor: same HTTP round trips and WebSocket hops, no validation/journal/fsync/audit";
      for (const k of ["p50", "p90", "p99", "max"] as const)
        metrics[`approval_round_trip_${k}`] = metric(sb.round_trip_ms[k], "ms", k === "p50" ? 2 : null, k === "p50" ? "<" : null, { floor: sf.round_trip_ms[k], floor_name: fn });
      const legNames = {
        request_to_seen_ms: "request -> observer sees approval_upserted",
        seen_to_told_ms: "observer sends decision -> requester gets approval_resolved",
        request_answered_ms: "request -> its HTTP answer (durable)",
        decision_answered_ms: "decision -> its HTTP answer (durable + audited)",
      } as const;
      for (const [leg, note] of Object.entries(legNames) as Array<[keyof typeof legNames, string]>)
        for (const k of ["p50", "p99"] as const)
          metrics[`approval_${leg.replace(/_ms$/, "")}_${k}`] = metric(sb[leg][k], "ms", null, null, { floor: sf[leg][k], floor_name: fn, note });
      metrics.approval_failures = metric(sb.failures, "trials", 0, "<=", { note: `of ${P.trials}; floor failures ${sf.failures}` });
    }

    // ---- 2 + 4. throughput, RSS, CPU ------------------------------------------------------------------------
    if (ONLY.has("throughput")) {
      const N = P.streamBytes;
      log(`throughput: ${N / MB} MB of \`${writerCommand(N).slice(0, 40)}…\``);
      const floors = {
        writer_to_dev_null: await timeShell("writer > /dev/null", `${writerCommand(N)} > /dev/null`, N),
        writer_pipe_cat: await timeShell("writer | cat > /dev/null", `${writerCommand(N)} | cat > /dev/null`, N),
        exec_only: await timeExecOnly(N),
        exec_shell_startup_ms: await timeExecStartup(),
      };
      log(
        `  floors: writer>/dev/null ${floors.writer_to_dev_null.mb_per_s} MB/s, writer|cat ${floors.writer_pipe_cat.mb_per_s} MB/s, ` +
          `execCommand only ${floors.exec_only.mb_per_s} MB/s (its login shell alone takes ${floors.exec_shell_startup_ms} ms)`,
      );
      // "frames" is StreamWriter exactly as switchboard run uses it (binary frames on its /v1/stream socket);
      // "http" is the same writer without a socket: JSON batches over HTTP, its fallback.
      const variants: Array<{ path: "http" | "frames"; key: string }> = [
        { path: "frames", key: "frames" },
        { path: "http", key: "http" },
      ];
      log(`  warm-up: ${P.warmupBytes / MB} MB through each target and variant`);
      for (const t of targets) for (const v of variants) await streamThroughput(t, obs, v.path, P.warmupBytes);
      const runs: Array<StreamRun & { key: string }> = [];
      const show = (r: StreamRun & { key: string }) =>
        log(
          `  ${r.target} ${r.key}: ${r.mb_per_s} MB/s (${r.spawn_to_end_ms} ms; steady ${r.steady_mb_per_s} MB/s), bytes ${r.bytes_match ? "match" : `MISMATCH: observed ${r.bytes_observed} of ${r.bytes_expected}`}, ` +
            `cpu ${r.target} ${r.cpu_s.target}s (${r.target_cpu_ms_per_mb} ms/MB), observer ${r.cpu_s.observer}s, bench ${r.cpu_s.bench_process}s; rss ${r.rss.start_mb}->${r.rss.max_mb}->${r.rss.end_mb} MB; resyncs ${r.observer.resyncs}; other load ${r.machine.other_pct}%${r.writer_batches ? `; batches ${r.writer_batches.batches}, max in flight ${r.writer_batches.max_in_flight}, out of order ${r.writer_batches.out_of_order}` : ""}${r.writer_error ? `; WRITER ERROR: ${r.writer_error}` : ""}`,
        );
      for (let rep = 0; rep < P.throughputReps; rep++)
        for (const v of variants)
          for (const t of targets) {
            const r = { ...(await streamThroughput(t, obs, v.path, N)), key: v.key };
            show(r);
            runs.push(r);
          }
      const pick = (target: string, key: string) => runs.filter((r) => r.target === target && r.key === key).sort((x, y) => y.mb_per_s - x.mb_per_s)[0]!;
      const floorCat = floors.writer_pipe_cat.mb_per_s;
      const what: Record<string, string> = {
        frames: "StreamWriter exactly as switchboard run: binary frames on /v1/stream, POST complete {last_seq}",
        http: "StreamWriter without a socket: JSON batches over HTTP (the fallback)",
      };
      for (const v of variants) {
        const r = pick("broker", v.key);
        const rf = pick("floor", v.key);
        // The target is the product's path; the HTTP fallback is reported beside it.
        const target = v.key === "frames" ? 100 : null;
        metrics[`stream_throughput_${v.key}`] = metric(r.bytes_match ? r.mb_per_s : null, "MB/s", target, target === null ? null : ">=", {
          floor: floorCat,
          floor_name: "sh -c 'writer | cat > /dev/null'",
          note:
            `${what[v.key]}; spawn -> observer got end${r.bytes_match ? "" : `; FAILED: observer got ${r.bytes_observed} of ${N} bytes${r.writer_error ? `, writer error: ${r.writer_error}` : ""}`}; ` +
            `steady ${r.steady_mb_per_s} MB/s; relay floor (same client code, no broker work) ${rf.mb_per_s} MB/s (broker/relay ${ratio(r.mb_per_s, rf.mb_per_s)}); ` +
            `execCommand alone ${floors.exec_only.mb_per_s} MB/s incl. ${floors.exec_shell_startup_ms} ms login-shell start; writer > /dev/null ${floors.writer_to_dev_null.mb_per_s} MB/s`,
        });
        metrics[`stream_bytes_match_${v.key}`] = metric(r.bytes_observed - N, "bytes (observed - written)", 0, "==", {
          note:
            `observer ${r.bytes_observed}, exec read ${r.bytes_read_by_exec}, end view ${r.bytes_in_end_view} (state ${String(r.observer.end_state)}), expected ${N}; seq gaps ${r.observer.seq_gaps}, resyncs ${r.observer.resyncs}` +
            (r.writer_batches
              ? `; StreamWriter batches ${r.writer_batches.batches}, max in flight ${r.writer_batches.max_in_flight} (should be 1), out of order ${r.writer_batches.out_of_order}`
              : ""),
        });
        if (!r.bytes_match) continue; // RSS and CPU of a failed run say nothing
        metrics[`broker_rss_growth_${v.key}`] = metric(r.rss.growth_mb, "MB", 150, "<", {
          note: `VmRSS every 100 ms while ${N / MB} MB streamed: start ${r.rss.start_mb}, max ${r.rss.max_mb}, end ${r.rss.end_mb} MB (VmHWM ${r.rss.hwm_mb}); stream file ${r.stream_file_bytes} bytes (cap 268435456: ${r.stream_file_bytes !== null && r.stream_file_bytes < 268435456 ? "not reached, so what bounds memory is buffering (8 MiB write high water, 4 MiB per follower, 1 MiB bodies/frames), not the cap" : "reached"})`,
        });
        metrics[`broker_cpu_per_mb_${v.key}`] = metric(r.target_cpu_ms_per_mb, "ms CPU/MB", 10, "<=", {
          floor: rf.target_cpu_ms_per_mb,
          floor_name: "relay floor process, same variant",
          note: `derived target: 100 MB/s on one JS thread needs <= 10 ms of CPU per MB (all broker threads counted); broker ${r.cpu_s.target} s, observer ${r.cpu_s.observer} s, bench/producer ${r.cpu_s.bench_process} s`,
        });
      }
      details.throughput = { bytes: N, writer: writerCommand(N), floors, runs };
    }

    // ---- 3. chunk latency -------------------------------------------------------------------------------------
    if (ONLY.has("latency")) {
      const lat: LatencyRun[] = [];
      const plan: Array<[Target, LatencyRun["path"]]> = [
        [b, "http"],
        [b, "frames"],
        [b, "exec"],
        [f, "http"],
        [f, "frames"],
        [f, "exec"],
      ];
      for (const [t, p] of plan) {
        // The floor runs are for comparison only: half as long, to keep the bench short.
        const ms = t.name === "broker" ? P.latencyMs : Math.max(2000, P.latencyMs / 2);
        log(`latency: ${t.name} ${p}, ${LATENCY_RATE} x ${LINE_BYTES} B lines/s for ${ms / 1000} s`);
        const r = await chunkLatency(t, obs, p, ms);
        log(
          `  p50 ${r.latency_ms.p50} p99 ${r.latency_ms.p99} max ${r.latency_ms.max} ms; lines ${r.lines_observed}/${r.lines_written}; other load ${r.machine.other_pct}%${r.writer_error ? `; writer error ${r.writer_error}` : ""}`,
        );
        lat.push(r);
      }
      const get = (target: string, p: string) => lat.find((r) => r.target === target && r.path === p)!;
      for (const p of ["http", "frames", "exec"] as const) {
        const r = get("broker", p);
        const fl = get("floor", p);
        const what = {
          http: "StreamWriter over HTTP, written in this process",
          frames: "StreamWriter with binary frames on /v1/stream, written in this process",
          exec: "a child process run by execCommand, fed to StreamWriter with frames (as switchboard run)",
        }[p];
        for (const k of ["p50", "p99", "max"] as const)
          metrics[`chunk_latency_${p.replace("-", "_")}_${k}`] = metric(r.latency_ms[k], "ms", k === "p99" ? 20 : null, k === "p99" ? "<" : null, {
            ...(fl ? { floor: fl.latency_ms[k], floor_name: "relay floor, same path" } : {}),
            note: `${what}; producer write -> observer process receive; lines ${r.lines_observed}/${r.lines_written}`,
          });
        metrics[`chunk_latency_${p.replace("-", "_")}_lines_lost`] = metric(r.lines_written - r.lines_observed, "lines", 0, "==");
        const pct = (x: LatencyRun) => (x.cpu_s.target === null ? null : round((x.cpu_s.target / x.machine.wall_s) * 100, 1));
        metrics[`broker_cpu_at_1mbps_${p.replace("-", "_")}`] = metric(pct(r), "% of one core", null, null, {
          floor: pct(fl),
          floor_name: "relay floor process, same path",
          note: `broker CPU while ${LATENCY_RATE} chunks of ${LINE_BYTES} B per second went through it (${r.cpu_s.target} s in ${r.machine.wall_s} s); other processes on the machine used ${r.machine.other_pct}% of a core meanwhile`,
        });
      }
      details.latency = lat;
    }

    for (const t of targets.splice(0)) t.close();
    const brokerExit = await (async () => {
      await broker.child.stop(10_000); // graceful, so that --cpu-prof writes its profile
      return broker.child.exited;
    })();
    let profile: ProfileSummary | { error: string } | undefined;
    if (PROFILE) {
      const file = await newestProfile(profDir);
      profile = file ? summarizeProfile(file) : { error: `no .cpuprofile in ${profDir} (broker exit ${JSON.stringify(brokerExit)})` };
    }
    details.broker_exit = brokerExit;

    const loads: number[] = [];
    const approvalsMachine = (details.approvals as { machine?: { other_pct: number | null } } | undefined)?.machine;
    if (approvalsMachine?.other_pct != null) loads.push(approvalsMachine.other_pct);
    for (const r of (details.throughput as { runs?: StreamRun[] } | undefined)?.runs ?? []) if (r.machine.other_pct !== null) loads.push(r.machine.other_pct);
    for (const r of (details.latency as LatencyRun[] | undefined) ?? []) if (r.machine.other_pct !== null) loads.push(r.machine.other_pct);
    const otherMax = loads.length ? Math.max(...loads) : null;
    const result = {
      bench: "streams",
      mode: QUICK ? "quick" : "full",
      parts: [...ONLY],
      profiled: PROFILE,
      started_at: new Date(started).toISOString(),
      duration_s: round((Date.now() - started) / 1000, 1),
      machine,
      setup: {
        broker: "node dist/broker.js (child process), fresh SWITCHBOARD_HOME in tmpdir, journal + audit fsync on",
        floor: "lib/relay-floor.ts: node child process with the same routes and frames, no validation, journal, fsync, audit, stream file",
        observer: "a separate node process following /v1/streams/:id/live (as follow.ts does)",
        producer: "this process: execCommand + StreamWriter (BrokerApi over fetch, keep-alive) or stream_chunk frames; approvals via node:http keep-alive",
        mb: "1 MB = 10^6 bytes",
        note: "all processes share the machine's cores",
      },
      summary: {
        ...targetSummary(metrics),
        other_processes_cpu_pct_max: otherMax,
        quiet_machine: otherMax !== null && otherMax < 15,
        loadavg_at_end: os.loadavg().map((x) => round(x, 2)),
      },
      metrics,
      details,
      ...(profile ? { profile } : {}),
    };
    await life.publish("streams", result);
  } finally {
    clearTimeout(watchdog);
    for (const t of targets) t.close();
    await Promise.all([broker?.child.stop(2000), floor?.child.stop(1000), obs?.stop()]);
    await life.release();
  }
}

life.run(main);
