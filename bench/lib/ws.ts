// WebSocket helpers of the benches: open a socket with a deadline, and a producer socket as
// StreamWriter's FrameSender (what BrokerClient.sendStreamFrame does).
import WebSocket from "ws";
import type { FrameSender } from "../../src/client/stream-writer.js";

/** Opens a WebSocket (zero mask, as BrokerClient's /v1/stream socket: loopback, no proxy to protect). */
export function openWs(url: string, headers: Record<string, string>, timeoutMs = 5000): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, generateMask: (m: Buffer) => void m.fill(0) });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`WebSocket ${url} did not open within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once("open", () => {
      clearTimeout(timer);
      resolve(ws);
    });
    ws.once("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`WebSocket ${url} refused: HTTP ${res.statusCode}`));
    });
    ws.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** The producer's socket as StreamWriter's FrameSender: binary frames, false once the socket is not open. */
export function frameSender(ws: WebSocket): FrameSender {
  return (frame, done) => {
    if (ws.readyState !== WebSocket.OPEN) return false;
    ws.send(frame, { binary: true }, done);
    return true;
  };
}
