// Floor servers: what Node itself costs for the same work, run as child processes like the broker.
//  - floor server: HTTP POST /messages -> parse JSON -> push a message_received frame to the WebSocket
//    client named by metadata.target_endpoint_id; answers 200 at once (no validation, no journal, no
//    fsync); acks from clients are parsed and dropped. /echo is a plain WebSocket echo.
//  - minimal server: `http.createServer((q, s) => s.end("ok"))`, for the cold-start and idle-RSS floor.
// Both are plain CommonJS run by `node` (no tsx loader), so start-up and memory compare fairly with
// the bundled dist/broker.js.
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { spawnTracked, waitForPortLine, type Tracked } from "./procs.js";

const FLOOR_SERVER_JS = String.raw`
const http = require("node:http");
const { WebSocketServer } = require(process.env.BENCH_WS_PATH);
const clients = new Map();
let seq = 0;
const ok = '{"ok":true,"status":"delivered"}';
const server = http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/messages") {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let body;
      try { body = JSON.parse(Buffer.concat(chunks).toString("utf8")); } catch { res.writeHead(400); res.end(); return; }
      const target = body && body.metadata ? body.metadata.target_endpoint_id : undefined;
      const ws = clients.get(target);
      const n = seq++;
      if (ws && ws.readyState === 1) {
        ws.send(JSON.stringify({ event: "message_received", endpoint_id: target, from: body.from, content: body.content,
          contentType: "text", metadata: body.metadata, sourceMessageId: "msg_" + n, push_id: "push_" + n }));
      }
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": ok.length });
      res.end(ok);
    });
    return;
  }
  if (req.url === "/health") { res.end('{"ok":true}'); return; }
  res.writeHead(404);
  res.end();
});
server.keepAliveTimeout = 5000;
const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url, "http://127.0.0.1");
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (url.pathname === "/echo") { ws.on("message", (d, binary) => ws.send(d, { binary })); return; }
    const id = url.searchParams.get("id");
    clients.set(id, ws);
    ws.on("message", (d) => { try { JSON.parse(d.toString()); } catch {} });
    ws.on("close", () => { if (clients.get(id) === ws) clients.delete(id); });
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write("PORT " + server.address().port + "\n"));
process.on("SIGTERM", () => process.exit(0));
`;

/** The cold-start floor: the smallest HTTP server, which announces its port through a file (as the broker does). */
export const MINIMAL_SERVER_JS =
  `const fs=require("fs");const s=require("http").createServer((q,r)=>r.end("ok"));` +
  `s.listen(0,"127.0.0.1",()=>{const f=process.env.BENCH_PORT_FILE;fs.writeFileSync(f+".tmp",JSON.stringify({port:s.address().port}));fs.renameSync(f+".tmp",f)});`;

export interface FloorServer {
  port: number;
  child: Tracked;
}

export async function startFloorServer(dir: string, timeoutMs = 10_000): Promise<FloorServer> {
  const file = join(dir, "floor-server.cjs");
  await writeFile(file, FLOOR_SERVER_JS);
  const wsPath = createRequire(import.meta.url).resolve("ws");
  const child = spawnTracked(process.execPath, [file], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, BENCH_WS_PATH: wsPath },
  });
  const port = await waitForPortLine(child, "floor server", timeoutMs);
  return { port, child };
}
