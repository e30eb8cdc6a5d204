// The relay floor for bench/streams.ts: a child process that speaks just enough of the broker's wire
// protocol (same paths, same frames, same answers) for the approval round trip and the output-stream
// relay, with none of the broker's work: no auth check, no schema validation, no journal, no fsync,
// no audit chain, no stream file, no head/tail, no follower backpressure. Because the paths and answers
// match, the bench runs the very same client code (StreamWriter, BrokerApi, the ws follower) against it,
// so broker / floor is what the broker's own work costs.
//
//   POST /v1/endpoint/register            -> {endpoint_id, endpoint_owner_token}
//   POST /v1/approvals                    -> pending Approval; approval_upserted to every /v1/events socket
//   POST /v1/approvals/:id/decision       -> decided Approval; approval_upserted to observers and
//                                            approval_resolved (with push_id) on the requester's /v1/stream
//   POST /v1/streams                      -> StreamView
//   POST /v1/streams/:id/chunks           -> {last_seq}; every chunk relayed to the live followers
//   POST /v1/streams/:id/complete         -> ended StreamView (waits for last_seq, as the broker does)
//   WS   /v1/stream   (x-plugin-pid)      -> push_ack ignored; stream_chunk frames (JSON or binary) relayed like chunks
//   WS   /v1/events                       -> a snapshot, then changes
//   WS   /v1/streams/:id/live[?binary=1]  -> hello, chunks as they come (no replay, binary if asked), end
// Plain CommonJS run by `node`, like bench/lib/floor.ts.
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { spawnTracked, waitForPortLine, type Tracked } from "./procs.js";

const RELAY_FLOOR_JS = String.raw`
const http = require("node:http");
const { WebSocketServer } = require(process.env.BENCH_WS_PATH);
const pidSockets = new Map();   // plugin pid -> /v1/stream socket
const endpointPid = new Map();  // endpoint id -> plugin pid
const observers = new Set();    // /v1/events sockets
const approvals = new Map();
const streams = new Map();      // id -> { view, followers:Set, waiters:[] }
let n = 0;
let feedSeq = 0;
const iso = () => new Date().toISOString();
function answer(res, status, obj) {
  const t = JSON.stringify(obj);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(t), "cache-control": "no-store" });
  res.end(t);
}
function publish(change) {
  if (observers.size === 0) return;
  const t = JSON.stringify({ type: "change", epoch: "floor", seq: ++feedSeq, change });
  for (const ws of observers) if (ws.readyState === 1) ws.send(t);
}
function readBody(req, cb) {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let b;
    try { const s = Buffer.concat(chunks).toString("utf8"); b = s ? JSON.parse(s) : {}; } catch { b = undefined; }
    cb(b);
  });
}
function append(s, chunk) {
  if (!chunk || !chunk.data) return;
  const seq = chunk.seq ?? s.view.last_seq + 1;
  if (seq <= s.view.last_seq) return;
  s.view.last_seq = seq;
  const ch = String(chunk.channel);
  const info = s.view.channels[ch] || (s.view.channels[ch] = { bytes: 0, truncated: false });
  const bytes = typeof chunk.data === "string" ? Buffer.from(chunk.data) : chunk.data;
  info.bytes += bytes.length;
  let t, frame;
  for (const ws of s.followers) {
    if (ws.readyState !== 1) continue;
    // binary follower frame: [1][channel][seq u48][data]; JSON otherwise, as the broker does
    if (ws.binaryChunks) {
      if (!frame) { frame = Buffer.allocUnsafe(8 + bytes.length); frame[0] = 1; frame[1] = chunk.channel; frame.writeUIntBE(seq, 2, 6); bytes.copy(frame, 8); }
      ws.send(frame);
    } else ws.send(t ??= JSON.stringify({ type: "chunk", channel: chunk.channel, seq, data: bytes.toString() }));
  }
  if (s.waiters.length) {
    const still = [];
    for (const w of s.waiters) (s.view.last_seq >= w.seq ? w.wake() : still.push(w));
    s.waiters = still;
  }
}
function finish(s, body, res) {
  Object.assign(s.view, { state: "completed", status: body.exit_code === 0 && !body.signal ? 200 : 500, ended_at: iso(),
    exit_code: body.exit_code ?? null, signal: body.signal ?? null, duration_ms: body.duration_ms ?? null });
  const t = JSON.stringify({ type: "end", stream: s.view });
  for (const ws of s.followers) if (ws.readyState === 1) ws.send(t);
  publish({ kind: "stream_upserted", stream: s.view });
  answer(res, 200, s.view);
}
const server = http.createServer((req, res) => {
  const path = req.url.split("?")[0];
  if (req.method === "GET" && path === "/health") return answer(res, 200, { ok: true });
  if (req.method !== "POST") return answer(res, 404, { error: "not_found" });
  readBody(req, (body) => {
    if (body === undefined) return answer(res, 400, { error: "invalid_json" });
    let m;
    if (path === "/v1/endpoint/register") {
      const id = "ep_" + ++n;
      endpointPid.set(id, body.plugin_pid);
      return answer(res, 200, { endpoint_id: id, endpoint_owner_token: "floor-" + n });
    }
    if (path === "/v1/approvals") {
      const a = { approval_id: "apr_" + ++n, endpoint_id: body.endpoint_id, session: "floor", session_kind: "bench", action: body.action,
        summary: body.summary, command: body.command ?? null, cwd: body.cwd ?? null, detail: body.detail ?? null, diff: body.diff ?? null,
        execute: body.execute ?? "agent", idempotency_key: body.idempotency_key ?? null, state: "pending", created_at: iso(),
        expires_at: null, decided_at: null, decision: null, reason: null, decided_by: null, stream_id: null };
      approvals.set(a.approval_id, a);
      publish({ kind: "approval_upserted", approval: a });
      return answer(res, 200, a);
    }
    if ((m = /^\/v1\/approvals\/([^/]+)\/decision$/.exec(path))) {
      const a = approvals.get(m[1]);
      if (!a) return answer(res, 404, { error: "approval_unknown" });
      const d = { ...a, state: body.decision === "approve" ? "approved" : "rejected", decided_at: iso(), decision: body.decision,
        reason: body.reason ?? null, decided_by: body.decided_by ?? null };
      approvals.set(a.approval_id, d);
      publish({ kind: "approval_upserted", approval: d });
      const ws = pidSockets.get(endpointPid.get(a.endpoint_id));
      if (ws && ws.readyState === 1) ws.send(JSON.stringify({ event: "approval_resolved", approval: d, endpoint_id: a.endpoint_id, push_id: "push_" + ++n }));
      return answer(res, 200, d);
    }
    if (path === "/v1/streams") {
      const view = { stream_id: "str_" + ++n, endpoint_id: body.endpoint_id, session: "floor", action: body.action, command: body.command,
        cwd: body.cwd ?? null, approval_id: body.approval_id ?? null, state: "streaming", status: 102, created_at: iso(), ended_at: null,
        exit_code: null, signal: null, duration_ms: null, reason: null, last_seq: 0, channels: {} };
      streams.set(view.stream_id, { view, followers: new Set(), waiters: [] });
      publish({ kind: "stream_upserted", stream: view });
      return answer(res, 200, view);
    }
    if ((m = /^\/v1\/streams\/([^/]+)\/(chunks|complete)$/.exec(path))) {
      const s = streams.get(decodeURIComponent(m[1]));
      if (!s) return answer(res, 404, { error: "stream_unknown" });
      if (m[2] === "chunks") {
        for (const c of body.chunks || []) append(s, c);
        return answer(res, 200, { last_seq: s.view.last_seq });
      }
      if (body.last_seq !== undefined && s.view.last_seq < body.last_seq) {
        const timer = setTimeout(() => finish(s, body, res), 10000);
        s.waiters.push({ seq: body.last_seq, wake: () => { clearTimeout(timer); finish(s, body, res); } });
        return;
      }
      return finish(s, body, res);
    }
    answer(res, 404, { error: "not_found", path });
  });
});
server.keepAliveTimeout = 5000;
const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const live = /^\/v1\/streams\/([^/]+)\/live$/.exec(url.pathname);
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (url.pathname === "/v1/events") {
      observers.add(ws);
      ws.on("close", () => observers.delete(ws));
      ws.send(JSON.stringify({ type: "snapshot", epoch: "floor", seq: feedSeq, endpoints: [], inbox: [], approvals: [], streams: [] }));
      return;
    }
    if (live) {
      const s = streams.get(decodeURIComponent(live[1]));
      if (!s) return ws.close(4404, "unknown stream");
      ws.send(JSON.stringify({ type: "hello", stream: s.view }));
      ws.binaryChunks = url.searchParams.get("binary") === "1";
      s.followers.add(ws);
      ws.on("close", () => s.followers.delete(ws));
      return;
    }
    const pid = Number(req.headers["x-plugin-pid"]);
    pidSockets.set(pid, ws);
    ws.on("message", (d, isBinary) => {
      if (isBinary) {
        // producer chunk frame: [1][channel][seq u48][id length][id][data]
        const idLen = d[8], s = streams.get(d.toString("latin1", 9, 9 + idLen));
        if (s) append(s, { channel: d[1], seq: d.readUIntBE(2, 6), data: d.subarray(9 + idLen) });
        return;
      }
      let f;
      try { f = JSON.parse(d.toString()); } catch { return; }
      if (f.event === "stream_chunk") { const s = streams.get(f.stream_id); if (s) append(s, f); }
    });
    ws.on("close", () => { if (pidSockets.get(pid) === ws) pidSockets.delete(pid); });
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write("PORT " + server.address().port + "\n"));
process.on("SIGTERM", () => process.exit(0));
`;

export interface RelayFloor {
  port: number;
  child: Tracked;
}

/** Starts the relay floor as `node relay-floor.cjs` (written into `dir`); resolves with its port. */
export async function startRelayFloor(dir: string, nodeArgs: string[] = [], timeoutMs = 10_000): Promise<RelayFloor> {
  const file = join(dir, "relay-floor.cjs");
  await writeFile(file, RELAY_FLOOR_JS);
  const wsPath = createRequire(import.meta.url).resolve("ws");
  const child = spawnTracked(process.execPath, [...nodeArgs, file], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, BENCH_WS_PATH: wsPath },
  });
  try {
    const port = await waitForPortLine(child, "relay floor", timeoutMs);
    return { port, child };
  } catch (err) {
    await child.stop(500);
    throw err;
  }
}
