// Raw WebSocket peers for tests: an endpoint owner's /v1/stream and an observer's /v1/events.
import WebSocket from "ws";
import type { DiscoveryRecord } from "../../src/protocol/index.js";

export interface Peer {
  ws: WebSocket;
  frames: any[];
  /** Resolves with the first frame (already received or future) matching `pred` that was not taken before. */
  next(pred?: (f: any) => boolean, timeoutMs?: number): Promise<any>;
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

function peer(ws: WebSocket, onFrame?: (f: any) => void): Promise<Peer> {
  const frames: any[] = [];
  const taken = new Set<number>();
  const waiters: { pred: (f: any) => boolean; resolve: (f: any) => void }[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on("message", (data) => {
    const f = JSON.parse(data.toString());
    frames.push(f);
    onFrame?.(f);
    const idx = frames.length - 1;
    const w = waiters.findIndex((x) => x.pred(f));
    if (w >= 0) {
      taken.add(idx);
      waiters.splice(w, 1)[0]!.resolve(f);
    }
  });
  const p: Peer = {
    ws,
    frames,
    closed,
    next(pred = () => true, timeoutMs = 5000) {
      const idx = frames.findIndex((f, i) => !taken.has(i) && pred(f));
      if (idx >= 0) {
        taken.add(idx);
        return Promise.resolve(frames[idx]);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames).slice(0, 500)}`)), timeoutMs);
        waiters.push({ pred, resolve: (f) => (clearTimeout(timer), resolve(f)) });
      });
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      ws.close();
      await closed;
    },
  };
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(p));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
}

export function openStream(record: DiscoveryRecord, pid: number, opts: { ack?: boolean; autoAck?: boolean } = {}): Promise<Peer> {
  const ack = opts.ack ?? true;
  const ws = new WebSocket(record.ipcUrl.replace("http", "ws") + "/v1/stream", {
    headers: { authorization: `Bearer ${record.bearerToken}`, "x-plugin-pid": String(pid), ...(ack ? { "x-masons-ipc-capabilities": "push_receipt_ack_v1" } : {}) },
  });
  return peer(ws, (f) => {
    if (ack && (opts.autoAck ?? true) && f.push_id) ws.send(JSON.stringify({ event: "push_ack", push_id: f.push_id }));
  });
}

export function openFeed(record: DiscoveryRecord, query = ""): Promise<Peer> {
  const ws = new WebSocket(record.ipcUrl.replace("http", "ws") + "/v1/events" + query, { headers: { authorization: `Bearer ${record.bearerToken}` } });
  return peer(ws);
}

/** Raw upgrade attempt; resolves with the HTTP status of a refusal, or 101. */
export function tryUpgrade(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once("error", () => {});
  });
}
