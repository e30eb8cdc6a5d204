// What every request pays before its handler runs: GET /health and POST /v1/initialize, one at a time
// over one keep-alive connection, against three servers started side by side in the same run:
//   ours     the real broker (dist/broker.js)
//   masons   the MASONS broker's own HTTP front door: startIPCServer from @masons/runtime-broker (the
//            server its daemon listens with; it answers /health and /v1/initialize without calling a
//            handler, so no cloud account is needed to run it)
//   floor    a bare node:http server doing the same work by hand: Host check, bearer token, JSON body
//            read and parsed, JSON answer
// Rounds alternate between the servers so that the machine's noise falls on all three alike.
//
//   npm run build && node --import tsx bench/request-path.ts [--quick]
import { request, type Agent } from "node:http";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { benchLife } from "./lib/life.js";
import { keepAliveAgent } from "./lib/http.js";
import { machineInfo } from "./lib/machine.js";
import { spawnTracked, waitForPortLine } from "./lib/procs.js";
import { metric, targetSummary, type Metric } from "./lib/report.js";
import { ROOT, startBroker } from "./lib/servers.js";
import { round, summarize } from "./lib/stats.js";

const QUICK = process.argv.includes("--quick");
const ROUNDS = QUICK ? 10 : 40;
const PER_ROUND = QUICK ? 100 : 250;
const TOKEN = "b".repeat(64);
const life = benchLife("request-path");

const MASONS_JS = `
import { startIPCServer } from ${JSON.stringify(join(ROOT, "node_modules/@masons/runtime-broker/dist/broker/ipc-server.js"))};
const logger = { info() {}, warn() {}, error() {}, debug() {} };
const s = await startIPCServer({ bearerToken: ${JSON.stringify(TOKEN)}, handlers: {}, logger, getNetworkPresence: () => "online" });
process.stdout.write("PORT " + s.port + "\\n");
`;

const FLOOR_JS = `
const http = require("node:http");
const token = Buffer.from("Bearer ${TOKEN}");
const { timingSafeEqual, randomUUID } = require("node:crypto");
const server = http.createServer((req, res) => {
  const send = (status, body) => { const t = JSON.stringify(body); res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(t) }); res.end(t); };
  if (req.headers.host !== "127.0.0.1:" + server.address().port) return send(403, { error: "host_forbidden" });
  if (req.method === "GET" && req.url === "/health") return send(200, { ok: true, version: "floor", protocol_version: "1.1", capabilities: {} });
  const auth = Buffer.from(req.headers.authorization ?? "");
  if (auth.length !== token.length || !timingSafeEqual(auth, token)) return send(401, { error: "unauthorized" });
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let body;
    try { body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}"); } catch { return send(400, { error: "invalid_json" }); }
    if (req.method === "POST" && req.url === "/v1/initialize" && typeof body.client_kind === "string")
      return send(200, { server_version: "floor", server_protocol_version: "1.1", server_capabilities: {}, session_id: randomUUID(), network_presence: "online" });
    send(404, { error: "not_found" });
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write("PORT " + server.address().port + "\\n"));
`;

interface Target {
  name: string;
  port: number;
  token: string;
  agent: Agent;
  health: number[];
  initialize: number[];
}

function once(t: Target, method: "GET" | "POST", path: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const headers: Record<string, string | number> = { authorization: `Bearer ${t.token}` };
    if (body !== undefined) Object.assign(headers, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    const req = request({ agent: t.agent, host: "127.0.0.1", port: t.port, method, path, headers }, (res) => {
      res.resume();
      res.on("end", () =>
        res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`${t.name} ${method} ${path}: HTTP ${res.statusCode}`)),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

const INIT_BODY = JSON.stringify({ client_protocol_version: "1.1", client_kind: "bench", client_version: "0" });

async function main(): Promise<void> {
  const t0 = Date.now();
  life.tmp = await mkdtemp(join(os.tmpdir(), "sb-reqpath-"));
  const ours = await startBroker(life.tmp);
  const masons = spawnTracked(process.execPath, ["--input-type=module", "-e", MASONS_JS], { stdio: ["ignore", "pipe", "pipe"] });
  const floor = spawnTracked(process.execPath, ["-e", FLOOR_JS], { stdio: ["ignore", "pipe", "pipe"] });
  const targets: Target[] = [
    { name: "ours", port: ours.port, token: ours.token, agent: keepAliveAgent(1), health: [], initialize: [] },
    { name: "masons", port: await waitForPortLine(masons, "the MASONS IPC server", 10_000), token: TOKEN, agent: keepAliveAgent(1), health: [], initialize: [] },
    { name: "floor", port: await waitForPortLine(floor, "the node:http floor", 10_000), token: TOKEN, agent: keepAliveAgent(1), health: [], initialize: [] },
  ];
  // Warm-up: JIT and connections.
  for (const t of targets) for (let i = 0; i < 300; i++) await once(t, "GET", "/health"), await once(t, "POST", "/v1/initialize", INIT_BODY);
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of r % 2 ? [...targets].reverse() : targets) {
      for (let i = 0; i < PER_ROUND; i++) t.health.push(await once(t, "GET", "/health"));
      for (let i = 0; i < PER_ROUND; i++) t.initialize.push(await once(t, "POST", "/v1/initialize", INIT_BODY));
    }
    if (r % 10 === 9) life.log(`round ${r + 1}/${ROUNDS}`);
  }
  const s = Object.fromEntries(targets.map((t) => [t.name, { health: summarize(t.health), initialize: summarize(t.initialize) }]));
  const metrics: Record<string, Metric> = {};
  for (const route of ["health", "initialize"] as const) {
    const o = s.ours![route];
    metrics[`${route}_p50_ms`] = metric(o.p50, "ms", s.masons![route].p50, "<=", {
      floor: s.floor![route].p50,
      floor_name: "bare node:http doing the same work",
      note: `target: at most the MASONS front door's p50 in this run (${s.masons![route].p50} ms)`,
    });
    metrics[`${route}_p99_ms`] = metric(o.p99, "ms", null, null, { floor: s.floor![route].p99, floor_name: "bare node:http" });
  }
  await life.publish("request-path", {
    duration_s: round((Date.now() - t0) / 1000, 1),
    machine: machineInfo(ROOT, join(ROOT, "dist/broker.js")),
    requests_per_route_and_server: ROUNDS * PER_ROUND,
    servers: s,
    metrics,
    summary: targetSummary(metrics),
  } as never);
  await life.release();
}

life.run(main);
