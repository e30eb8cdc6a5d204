// Bench for BrokerClient (needs `npm run build`). Prints one JSON object:
//  - reconnect: time from the restarted broker being healthy (its discovery record's startedAt, taken
//    right after it listens) to the client's `connected` event with every endpoint reattached; after
//    kill -9 and after a graceful stop, several trials each, p50 / p90 / max.
//  - throughput: messages/s from POST /v1/messages (64 in flight) to the client's `message` event
//    (pushes acked), next to the same path with a bare `ws` consumer that acks (the broker's ingress is
//    the limit there); and the client's own capacity: a fake broker in this process streams pushes with
//    64 unacknowledged at a time to BrokerClient (parse, validate, dedupe, emit, ack), next to a raw
//    `ws` echo on loopback with the same window (the ceiling of one socket in this process).
// Usage: node --import tsx bench/client.ts [--trials 10] [--messages 20000] [--rounds 2]
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { WebSocketServer } from "ws";
import WebSocket from "ws";
import { BrokerClient } from "../src/client/index.js";
import type { BrokerApi } from "../src/client/api.js";
import { startBroker, tempHome, type TestBroker } from "../test/support/broker.js";

const { values } = parseArgs({
  options: { trials: { type: "string", default: "10" }, messages: { type: "string", default: "20000" }, rounds: { type: "string", default: "2" } },
});
const TRIALS = Number(values.trials);
/** Broker-path runs alternate client / bare consumer this many times; the best of each is reported (the journal's fsync makes single runs noisy). */
const ROUNDS = Number(values.rounds);
const MESSAGES = Number(values.messages);
const IN_FLIGHT = 64;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const stats = (xs: number[]) => ({ n: xs.length, p50_ms: pct(xs, 50), p90_ms: pct(xs, 90), max_ms: Math.max(...xs), min_ms: Math.min(...xs) });

async function reconnectTrials(mode: "kill9" | "sigterm") {
  const { home, cleanup } = await tempHome("sb-bench-client-");
  let broker: TestBroker = await startBroker(home);
  const client = new BrokerClient({ discover: { home, spawn: false }, clientKind: "bench" });
  const samples: number[] = [];
  const restartMs: number[] = [];
  try {
    await client.connect();
    const eps = [await client.registerEndpoint({ kind: "bench", session_name: "bench-a" }), await client.registerEndpoint({ kind: "bench", session_name: "bench-b" })];
    let replaced = 0;
    client.on("endpoint_replaced", () => replaced++);
    for (let t = 0; t < TRIALS; t++) {
      let connectedAt = 0;
      const reattached = new Set<string>();
      const onReattach = (r: { endpointId: string }) => reattached.add(r.endpointId);
      const onConn = (c: { phase: string }) => {
        if (c.phase === "connected") connectedAt = Date.now();
      };
      client.on("reattach", onReattach);
      client.on("connection", onConn);
      const t0 = Date.now();
      if (mode === "kill9") await broker.kill9();
      else await broker.stop();
      broker = await broker.restart();
      restartMs.push(Date.now() - t0);
      const healthyAt = Date.parse(broker.record.startedAt);
      const deadline = Date.now() + 10_000;
      while (!connectedAt && Date.now() < deadline) await sleep(2);
      client.off("reattach", onReattach);
      client.off("connection", onConn);
      if (!connectedAt) throw new Error(`trial ${t}: not connected within 10 s`);
      if (!eps.every((e) => reattached.has(e.endpointId))) throw new Error(`trial ${t}: endpoints not all reattached`);
      samples.push(connectedAt - healthyAt);
      await sleep(50);
    }
    if (replaced) throw new Error(`${replaced} endpoints were re-registered instead of reattached`);
    return { ...stats(samples), samples_ms: samples, broker_restart_p50_ms: pct(restartMs, 50), within_1s: samples.filter((s) => s <= 1000).length };
  } finally {
    await client.close();
    await broker.stop();
    await cleanup();
  }
}

/** Sends MESSAGES through POST /v1/messages to `to`, IN_FLIGHT at a time; resolves when all were accepted. */
async function produce(api: BrokerApi, to: string): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < MESSAGES) {
      const i = next++;
      await api.ingress({ from: "bench", to, content: `m${i} ${"x".repeat(64)}` });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

async function throughputClient(broker: TestBroker) {
  const client = new BrokerClient({ discover: { home: broker.home, spawn: false }, clientKind: "bench" });
  await client.connect();
  const ep = await client.registerEndpoint({ kind: "bench", session_name: "tput-client" });
  let got = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  client.on("message", () => {
    if (++got === MESSAGES) done();
  });
  const t0 = performance.now();
  await Promise.all([produce(broker.api, ep.endpointId), all]);
  const ms = performance.now() - t0;
  await sleep(100);
  const left = (await broker.api.endpoints()).find((e) => e.endpoint_id === ep.endpointId)?.buffered_count;
  await client.close();
  return { messages: MESSAGES, ms: Math.round(ms), msgs_per_s: Math.round(MESSAGES / (ms / 1000)), unacked_after: left, delivered: got };
}

async function throughputBareWs(broker: TestBroker) {
  const rec = broker.record;
  const ws = new WebSocket(rec.ipcUrl.replace(/^http/, "ws") + "/v1/stream", {
    headers: { authorization: `Bearer ${rec.bearerToken}`, "x-plugin-pid": String(process.pid), "x-masons-ipc-capabilities": "push_receipt_ack_v1" },
    perMessageDeflate: false,
  });
  await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
  const reg = await broker.api.register({ plugin_pid: process.pid, kind: "bench", session_name: "tput-bare" });
  let got = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  ws.on("message", (data) => {
    const f = JSON.parse(String(data));
    if (f.event !== "message_received") return;
    ws.send(JSON.stringify({ event: "push_ack", push_id: f.push_id }));
    if (++got === MESSAGES) done();
  });
  const t0 = performance.now();
  await Promise.all([produce(broker.api, reg.endpoint_id), all]);
  const ms = performance.now() - t0;
  await broker.api.unregister(reg.endpoint_id);
  ws.close();
  await new Promise((r) => ws.once("close", r));
  return { messages: MESSAGES, ms: Math.round(ms), msgs_per_s: Math.round(MESSAGES / (ms / 1000)) };
}

/** The same number of similar frames echoed by a ws server on loopback, one socket, 64 in flight. */
async function rawWsEcho() {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once("listening", r));
  wss.on("connection", (s) => s.on("message", (d) => s.send(d)));
  const port = (wss.address() as { port: number }).port;
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  await new Promise((r) => ws.once("open", r));
  const frame = JSON.stringify({
    event: "message_received",
    endpoint_id: "ep_x",
    from: "bench",
    content: `m0 ${"x".repeat(64)}`,
    contentType: "text",
    metadata: { target_endpoint_id: "ep_x" },
    sourceMessageId: "msg_x",
    push_id: "push_x",
  });
  let sent = 0;
  let got = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const t0 = performance.now();
  ws.on("message", (d) => {
    JSON.parse(String(d));
    if (++got === MESSAGES) return done();
    if (sent < MESSAGES) sent++, ws.send(frame);
  });
  for (; sent < Math.min(IN_FLIGHT, MESSAGES); sent++) ws.send(frame);
  await all;
  const ms = performance.now() - t0;
  ws.close();
  await new Promise((r) => wss.close(r));
  return { messages: MESSAGES, ms: Math.round(ms), msgs_per_s: Math.round(MESSAGES / (ms / 1000)) };
}

/** BrokerClient against a fake broker that pushes as fast as the client acknowledges (64 in flight). */
async function clientCapacity(home: string) {
  const token = randomUUID() + randomUUID();
  const http = createServer((req, res) => {
    req.resume();
    const send = (body: unknown) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    const caps = { push_receipt_ack_v1: true };
    if (req.url === "/health") return send({ ok: true, version: "fake", protocol_version: "1.1", capabilities: caps });
    if (req.url === "/v1/initialize")
      return send({ server_version: "fake", server_protocol_version: "1.1", server_capabilities: caps, session_id: "s", network_presence: "online" });
    res.writeHead(404).end("{}");
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  let stream!: WebSocket;
  const opened = new Promise<void>((r) => wss.once("connection", (ws) => ((stream = ws), r())));
  http.on("upgrade", (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req)));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const port = (http.address() as { port: number }).port;
  const file = join(home, "fake-discovery.json");
  await writeFile(file, JSON.stringify({ version: 1, pid: process.pid, startedAt: new Date().toISOString(), ipcUrl: `http://127.0.0.1:${port}`, bearerToken: token }));
  const client = new BrokerClient({ discover: { discoveryFile: file, spawn: false }, clientKind: "bench" });
  await client.connect();
  await opened;
  let received = 0;
  client.on("message", () => received++);
  let sent = 0;
  let acked = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const push = () => {
    const i = sent++;
    stream.send(
      JSON.stringify({
        event: "message_received",
        endpoint_id: "ep_fake",
        from: "bench",
        content: `m${i} ${"x".repeat(64)}`,
        contentType: "text",
        metadata: { target_endpoint_id: "ep_fake" },
        sourceMessageId: `msg_${i}`,
        push_id: `push_${i}`,
      }),
    );
  };
  stream.on("message", () => {
    if (++acked === MESSAGES) return done();
    if (sent < MESSAGES) push();
  });
  const t0 = performance.now();
  while (sent < Math.min(IN_FLIGHT, MESSAGES)) push();
  await all;
  const ms = performance.now() - t0;
  await client.close();
  wss.close();
  await new Promise((r) => http.close(r));
  return { messages: MESSAGES, ms: Math.round(ms), msgs_per_s: Math.round(MESSAGES / (ms / 1000)), delivered: received, acked };
}

const reconnectKill9 = await reconnectTrials("kill9");
const reconnectSigterm = await reconnectTrials("sigterm");
const { home, cleanup } = await tempHome("sb-bench-tput-");
const broker = await startBroker(home);
let tput: Record<string, unknown> | undefined;
try {
  const best = <T extends { msgs_per_s: number }>(runs: T[]) => runs.reduce((a, b) => (b.msgs_per_s > a.msgs_per_s ? b : a));
  const clientRuns = [];
  const bareRuns = [];
  for (let r = 0; r < ROUNDS; r++) {
    clientRuns.push(await throughputClient(broker));
    bareRuns.push(await throughputBareWs(broker));
  }
  const client = { ...best(clientRuns), runs_msgs_per_s: clientRuns.map((x) => x.msgs_per_s) };
  const bare = { ...best(bareRuns), runs_msgs_per_s: bareRuns.map((x) => x.msgs_per_s) };
  const capacity = await clientCapacity(home);
  const echo = await rawWsEcho();
  tput = {
    via_broker_client: client,
    via_broker_bare_ws_consumer: bare,
    client_vs_bare_ratio: +(client.msgs_per_s / bare.msgs_per_s).toFixed(2),
    client_capacity_fake_broker: capacity,
    raw_ws_echo_loopback: echo,
    client_capacity_vs_raw_echo_ratio: +(capacity.msgs_per_s / echo.msgs_per_s).toFixed(2),
  };
} finally {
  await broker.stop();
  await cleanup();
}

console.log(
  JSON.stringify(
    {
      bench: "client",
      node: process.version,
      target: "back to connected within 1000 ms of the broker being healthy",
      reconnect_after_kill9: reconnectKill9,
      reconnect_after_sigterm: reconnectSigterm,
      throughput: tput,
    },
    null,
    2,
  ),
);
