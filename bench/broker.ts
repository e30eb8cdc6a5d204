// Broker benchmark: the real broker (dist/broker.js) in a child process on 127.0.0.1, measured side by
// side with floor servers in the same run.
//
//   npm run build && node --import tsx bench/broker.ts [--quick] [--profile]
//
// Prints one JSON object to stdout (progress goes to stderr) and writes it to .bench-out/broker.json.
//  1. ingress -> push latency at 1,000 msg/s over 10 endpoints (open loop, every push acked)
//  2. floors: an HTTP -> WebSocket forwarder without validation or journal, and a plain WebSocket echo
//  3. sustained throughput with N requests in flight (32, 128), durability on, and the same for the floor
//  4. cold start to a healthy /health, against a minimal http server
//  5. idle RSS after start-up and after the load settles, against the floor processes
// --profile runs the main broker under `node --cpu-prof` and adds its hot spots to the output (numbers
// measured in that mode carry profiler overhead).
import { benchLife } from "./lib/life.js";
import { metric, targetSummary, type Metric } from "./lib/report.js";
import { rm } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { newestProfile, summarizeProfile, type ProfileSummary } from "./lib/cpuprofile.js";
import { startFloorServer, type FloorServer } from "./lib/floor.js";
import { keepAliveAgent, postJson } from "./lib/http.js";
import { fdatasyncFloor } from "./lib/disk.js";
import { Receivers, runEcho, runLatency, runThroughput, type ClientKind, type IngressLoad, type LatencyResult, type ThroughputResult } from "./lib/load.js";
import { rssMb, type Rss } from "./lib/procs.js";
import { ROOT, startBroker, startMinimalServer, type RunningServer } from "./lib/servers.js";
import { ratio, round, sleep, summarize } from "./lib/stats.js";

const args = new Set(process.argv.slice(2));
const QUICK = args.has("--quick");
const PROFILE = args.has("--profile");

const P = QUICK
  ? { latencyMs: 3000, warmupMs: 500, echoMs: 2000, tputMs: 2000, rampMs: 300, coldTrials: 5, settleMs: 1500, idleMs: 700, fsyncSamples: 50, watchdogMs: 60_000 }
  : { latencyMs: 10_000, warmupMs: 1000, echoMs: 5000, tputMs: 5000, rampMs: 500, coldTrials: 10, settleMs: 3000, idleMs: 1000, fsyncSamples: 200, watchdogMs: 170_000 };
const RATE = 1000;
const ENDPOINTS = 10;
/** Throughput runs: the lean client (see lib/rawhttp.ts) at 32 and 128 requests in flight. */
const TPUT_RUNS: Array<{ client: ClientKind; c: number; key: string }> = [
  { client: "raw", c: 32, key: "c32" },
  { client: "raw", c: 128, key: "c128" },
];
const CONTENT = "Please run the test suite again and report failures. ".repeat(2).trim(); // ~110 bytes, a typical short message
const OUT_DIR = join(ROOT, ".bench-out");
const FAKE_PID_BASE = 2_100_000_000; // above any Linux pid_max: never a live process, and < 2^31

const life = benchLife("bench");
const { log, fail } = life;

for (const a of args) if (a !== "--quick" && a !== "--profile") fail(`unknown argument ${a}; use --quick and/or --profile`);

async function coldStart(dir: string, trials: number) {
  // One untimed start of each first, so that both measure a warm page cache.
  await (await startBroker(dir)).child.stop();
  await (await startMinimalServer(dir)).child.stop();
  const broker: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < trials; i++) {
    // Interleaved, so that background noise hits both alike.
    const b = await startBroker(dir);
    broker.push(b.startMs);
    await b.child.stop();
    const f = await startMinimalServer(dir);
    floor.push(f.startMs);
    await f.child.stop();
  }
  return { trials, broker_ms: broker.map((x) => round(x, 1)), floor_ms: floor.map((x) => round(x, 1)), broker: summarize(broker), floor: summarize(floor) };
}

async function setupBrokerLoad(broker: RunningServer): Promise<{ receivers: Receivers; targets: string[] }> {
  const http = { port: broker.port, token: broker.token };
  const pids = Array.from({ length: ENDPOINTS }, (_, i) => FAKE_PID_BASE + i);
  const receivers = await Receivers.connect(
    pids.map((pid) => ({
      url: `ws://127.0.0.1:${broker.port}/v1/stream`,
      headers: { authorization: `Bearer ${broker.token}`, "x-plugin-pid": String(pid), "x-masons-ipc-capabilities": "push_receipt_ack_v1" },
    })),
  );
  const agent = keepAliveAgent(4);
  try {
    const targets: string[] = [];
    for (const [i, pid] of pids.entries()) {
      const r = await postJson(agent, http, "/v1/endpoint/register", JSON.stringify({ plugin_pid: pid, kind: "bench", session_name: `bench-${i}` }));
      if (r.status !== 200) throw new Error(`register failed: HTTP ${r.status} ${r.body}`);
      targets.push((JSON.parse(r.body) as { endpoint_id: string }).endpoint_id);
    }
    return { receivers, targets };
  } catch (err) {
    receivers.close();
    throw err;
  } finally {
    agent.destroy();
  }
}

async function setupFloorLoad(floor: FloorServer): Promise<{ receivers: Receivers; targets: string[] }> {
  const targets = Array.from({ length: ENDPOINTS }, (_, i) => String(i));
  const receivers = await Receivers.connect(targets.map((id) => ({ url: `ws://127.0.0.1:${floor.port}/stream?id=${id}` })));
  return { receivers, targets };
}

/** One fresh keep-alive agent per phase, destroyed afterwards. */
async function withAgent<T>(maxSockets: number, fn: (agent: import("node:http").Agent) => Promise<T>): Promise<T> {
  const agent = keepAliveAgent(maxSockets);
  try {
    return await fn(agent);
  } finally {
    agent.destroy();
  }
}

async function main() {
  const started = Date.now();
  const { tmp, machine, watchdog } = await life.begin("sb-bench-", P.watchdogMs);
  const profDir = join(OUT_DIR, "prof");
  log(`mode ${QUICK ? "quick" : "full"}${PROFILE ? " + profile" : ""}; ${machine.cpus} cpus, node ${machine.node}; temp ${tmp}`);

  let broker: RunningServer | undefined;
  let floor: FloorServer | undefined;
  let minimal: RunningServer | undefined;
  const receivers: Receivers[] = [];
  try {
    const fsync = await fdatasyncFloor(tmp, P.fsyncSamples);
    log(`disk: 600-byte append + fdatasync p50 ${fsync.p50} ms, p99 ${fsync.p99} ms`);

    // ---- 4. cold start ------------------------------------------------------------------------------
    log(`cold start: ${P.coldTrials} trials each (broker, minimal http server)`);
    const cold = await coldStart(tmp, P.coldTrials);
    log(`cold start p50 broker ${cold.broker.p50} ms, floor ${cold.floor.p50} ms`);

    // ---- start the measured processes ---------------------------------------------------------------
    if (PROFILE) await rm(profDir, { recursive: true, force: true });
    broker = await startBroker(tmp, PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []);
    floor = await startFloorServer(tmp);
    minimal = await startMinimalServer(tmp);
    log(`broker pid ${broker.child.pid} on :${broker.port}; floor pid ${floor.child.pid} on :${floor.port}; minimal pid ${minimal.child.pid}`);
    await sleep(P.idleMs);
    const rssIdle = { broker: rssMb(broker.child.pid), floor: rssMb(floor.child.pid), minimal: rssMb(minimal.child.pid) };
    log(
      `idle RSS: broker ${rssIdle.broker?.rss} MB (anon ${rssIdle.broker?.anon}), floor ${rssIdle.floor?.rss} MB, minimal ${rssIdle.minimal?.rss} MB (anon ${rssIdle.minimal?.anon})`,
    );

    const b = await setupBrokerLoad(broker);
    receivers.push(b.receivers);
    const f = await setupFloorLoad(floor);
    receivers.push(f.receivers);
    const brokerLoad = (agent: import("node:http").Agent): IngressLoad => ({
      agent,
      http: { port: broker!.port, token: broker!.token },
      path: "/v1/messages",
      targets: b.targets,
      receivers: b.receivers,
      content: CONTENT,
    });
    const floorLoad = (agent: import("node:http").Agent): IngressLoad => ({
      agent,
      http: { port: floor!.port },
      path: "/messages",
      targets: f.targets,
      receivers: f.receivers,
      content: CONTENT,
    });

    // ---- 1 + 2. latency at 1,000 msg/s ------------------------------------------------------------------
    log(`warm-up ${P.warmupMs} ms at ${RATE} msg/s on both`);
    await withAgent(64, (a) => runLatency(brokerLoad(a), RATE, P.warmupMs, broker!.child.pid));
    await withAgent(64, (a) => runLatency(floorLoad(a), RATE, P.warmupMs, floor!.child.pid));
    log(`latency: broker, ${RATE} msg/s for ${P.latencyMs / 1000} s over ${ENDPOINTS} endpoints`);
    const latBroker: LatencyResult = await withAgent(64, (a) => runLatency(brokerLoad(a), RATE, P.latencyMs, broker!.child.pid));
    log(
      `  broker push p50 ${latBroker.push_latency_ms.p50} p99 ${latBroker.push_latency_ms.p99} ms; http answer p50 ${latBroker.http_answer_ms.p50} ms; lost ${latBroker.lost}; other processes ${latBroker.other_cpu_pct}% cpu`,
    );
    log(`latency: floor http->ws`);
    const latFloor: LatencyResult = await withAgent(64, (a) => runLatency(floorLoad(a), RATE, P.latencyMs, floor!.child.pid));
    log(`  floor push p50 ${latFloor.push_latency_ms.p50} p99 ${latFloor.push_latency_ms.p99} ms; other processes ${latFloor.other_cpu_pct}% cpu`);
    log(`latency: floor ws echo, ${RATE} msg/s for ${P.echoMs / 1000} s`);
    const echo = await runEcho(`ws://127.0.0.1:${floor.port}/echo`, RATE, P.echoMs);
    log(`  echo rtt p50 ${echo.rtt_ms.p50} p99 ${echo.rtt_ms.p99} ms`);

    // ---- 3. throughput ------------------------------------------------------------------------------
    const tput: Record<string, { broker: ThroughputResult; floor: ThroughputResult }> = {};
    const show = (who: string, t: ThroughputResult) =>
      log(
        `  ${who} accepted ${t.accepted_per_s}/s delivered ${t.delivered_per_s}/s; cpu ${who} ${t.server_cpu_pct}% (${t.server_cpu_us_per_msg} us/msg), client ${t.client_cpu_pct}%, other processes ${t.other_cpu_pct}%`,
      );
    for (const { client, c, key } of TPUT_RUNS) {
      log(`throughput: ${c} in flight, ${client} client, ${P.rampMs} ms ramp + ${P.tputMs / 1000} s each: broker, then floor`);
      const tb = await withAgent(c, (a) => runThroughput(brokerLoad(a), c, P.tputMs, broker!.child.pid, client, P.rampMs));
      show("broker", tb);
      const tf = await withAgent(c, (a) => runThroughput(floorLoad(a), c, P.tputMs, floor!.child.pid, client, P.rampMs));
      show("floor", tf);
      tput[key] = { broker: tb, floor: tf };
    }

    // ---- 5. RSS after the load settles --------------------------------------------------------------
    await sleep(P.settleMs);
    const rssAfter = { broker: rssMb(broker.child.pid), floor: rssMb(floor.child.pid) };
    log(
      `RSS after load: broker ${rssAfter.broker?.rss} MB (anon ${rssAfter.broker?.anon}, peak ${rssAfter.broker?.hwm}), floor ${rssAfter.floor?.rss} MB (anon ${rssAfter.floor?.anon})`,
    );

    for (const r of receivers.splice(0)) r.close();
    const brokerPid = broker.child.pid;
    await broker.child.stop(10_000); // graceful, so that --cpu-prof writes its profile
    const brokerExit = await broker.child.exited;
    await floor.child.stop();
    await minimal.child.stop();

    let profile: ProfileSummary | { error: string } | undefined;
    if (PROFILE) {
      const file = await newestProfile(profDir);
      profile = file ? summarizeProfile(file) : { error: `no .cpuprofile in ${profDir} (broker exit ${JSON.stringify(brokerExit)})` };
    }

    // ---- report ---------------------------------------------------------------------------------------
    const best = (k: "accepted_per_s" | "delivered_per_s", who: "broker" | "floor") => Math.max(...Object.values(tput).map((t) => t[who][k]));
    const lm = (k: "p50" | "p90" | "p99" | "max") =>
      metric(latBroker.push_latency_ms[k], "ms", null, null, {
        floor: latFloor.push_latency_ms[k],
        floor_name: "http->ws forwarder (no validation, no journal)",
        note: `ws echo round trip ${k}: ${echo.rtt_ms[k]} ms (ratio ${ratio(latBroker.push_latency_ms[k], echo.rtt_ms[k])})`,
      });
    const metrics: Record<string, Metric> = {
      latency_push_p50: lm("p50"),
      latency_push_p90: lm("p90"),
      latency_push_p99: lm("p99"),
      latency_push_max: lm("max"),
      latency_achieved_rate: metric(latBroker.achieved_send_rate, "msg/s", RATE * 0.99, ">=", {
        floor: latFloor.achieved_send_rate,
        floor_name: "http->ws forwarder",
        note: "send rate of the open-loop pacer (target 1,000 msg/s with 1% tolerance); delivered_rate is in details",
      }),
      latency_lost: metric(latBroker.lost, "messages", 0, "<=", { note: "sent but not pushed within the drain time" }),
    };
    for (const [k, t] of Object.entries(tput)) {
      const note = `${t.broker.client} client, ${t.broker.concurrency} in flight; cpu broker ${t.broker.server_cpu_pct}% / client ${t.broker.client_cpu_pct}% (floor run: ${t.floor.server_cpu_pct}% / ${t.floor.client_cpu_pct}%)`;
      // The target (>= 10,000 msg/s durable) is the broker's capacity: the best of these runs carries it.
      // With fewer requests in flight, each fdatasync batch is smaller, so the rate follows the disk.
      metrics[`throughput_${k}_accepted`] = metric(t.broker.accepted_per_s, "msg/s", null, null, { floor: t.floor.accepted_per_s, floor_name: "http->ws forwarder", note });
      metrics[`throughput_${k}_delivered`] = metric(t.broker.delivered_per_s, "msg/s", null, null, { floor: t.floor.delivered_per_s, floor_name: "http->ws forwarder", note });
    }
    metrics.throughput_best_accepted = metric(best("accepted_per_s", "broker"), "msg/s", 10_000, ">=", {
      floor: best("accepted_per_s", "floor"),
      floor_name: "http->ws forwarder",
    });
    metrics.throughput_best_delivered = metric(best("delivered_per_s", "broker"), "msg/s", 10_000, ">=", {
      floor: best("delivered_per_s", "floor"),
      floor_name: "http->ws forwarder",
    });
    const cpuRun = tput.c128!;
    metrics.server_cpu_per_msg = metric(cpuRun.broker.server_cpu_us_per_msg, "us/msg", 100, "<=", {
      floor: cpuRun.floor.server_cpu_us_per_msg,
      floor_name: "http->ws forwarder",
      note: `derived target: the broker is one JS thread, so 10k msg/s needs <= 100 us of CPU per message (all threads counted; measured in the c128 run). At this cost one core carries about ${cpuRun.broker.server_cpu_us_per_msg ? Math.round(1e6 / cpuRun.broker.server_cpu_us_per_msg) : "?"} msg/s.`,
    });
    metrics.cold_start_p50 = metric(cold.broker.p50, "ms", 300, "<", { floor: cold.floor.p50, floor_name: "minimal http server (node -e)" });
    metrics.cold_start_max = metric(cold.broker.max, "ms", 300, "<", { floor: cold.floor.max, floor_name: "minimal http server (node -e)" });
    const mb = (x: Rss | null | undefined) => (x ? x.rss : null);
    const parts = (x: Rss | null | undefined) => (x ? `${x.anon} MB private anon + ${x.file} MB file-backed (node binary, shared)` : "n/a");
    metrics.rss_idle_after_start = metric(mb(rssIdle.broker), "MB", 60, "<", {
      floor: mb(rssIdle.floor),
      floor_name: "http->ws forwarder process, idle",
      note: `broker ${parts(rssIdle.broker)}; minimal http server ${mb(rssIdle.minimal)} MB (${parts(rssIdle.minimal)})`,
    });
    // The target (< 60 MB) is for the idle broker above; after a burst V8 keeps heap pages it grew,
    // as the floor process shows, so this one is reported beside its floor without a target.
    metrics.rss_after_load = metric(mb(rssAfter.broker), "MB", null, null, {
      floor: mb(rssAfter.floor),
      floor_name: "http->ws forwarder process, after the same load",
      note: `${P.settleMs / 1000} s after the last load; broker ${parts(rssAfter.broker)}, peak ${rssAfter.broker?.hwm ?? null} MB; floor ${parts(rssAfter.floor)}, peak ${rssAfter.floor?.hwm ?? null} MB`,
    });

    const phases: Array<{ other_cpu_pct: number | null }> = [latBroker, latFloor, ...Object.values(tput).flatMap((t) => [t.broker, t.floor])];
    const otherMax = Math.max(0, ...phases.map((x) => x.other_cpu_pct ?? 0));
    const result = {
      bench: "broker",
      mode: QUICK ? "quick" : "full",
      profiled: PROFILE,
      started_at: new Date(started).toISOString(),
      duration_s: round((Date.now() - started) / 1000, 1),
      machine,
      setup: {
        broker: "node dist/broker.js (child process), fresh SWITCHBOARD_HOME in tmpdir, journal fsync on",
        endpoints: ENDPOINTS,
        message_bytes: Buffer.byteLength(
          JSON.stringify({
            from: "bench",
            content: CONTENT,
            metadata: { target_endpoint_id: b.targets[0], b_run: "000000000000", b_seq: 1000, b_t0: String(process.hrtime.bigint()) },
          }),
        ),
        client:
          "one process: ws receivers that ack every push; latency via a node:http keep-alive agent; throughput via a lean keep-alive HTTP/1.1 client (one connection per in-flight request), plus node:http for reference",
        note: "client and servers share the machine's cores; cpu_pct is % of one core",
      },
      summary: {
        ...targetSummary(metrics),
        other_processes_cpu_pct_max: otherMax,
        quiet_machine: otherMax < 15,
        loadavg_at_end: os.loadavg().map((x) => round(x, 2)),
      },
      metrics,
      details: {
        latency: { broker: latBroker, floor_http_ws: latFloor, floor_ws_echo: echo },
        disk_append_fdatasync_ms: fsync,
        throughput: tput,
        cold_start: cold,
        rss_mb: { idle: rssIdle, after_load: rssAfter },
        receiver_unexpected_closes: { broker: b.receivers.unexpectedCloses, floor: f.receivers.unexpectedCloses },
        broker_pid: brokerPid,
        broker_exit: brokerExit,
      },
      ...(profile ? { profile } : {}),
    };
    await life.publish("broker", result);
  } finally {
    clearTimeout(watchdog);
    for (const r of receivers) r.close();
    await Promise.all([broker?.child.stop(2000), floor?.child.stop(1000), minimal?.child.stop(1000)]);
    await life.release();
  }
}

life.run(main);
