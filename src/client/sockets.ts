// WebSocket helpers of the client: closing a socket without hanging on a dead peer (and knowing when
// every close is done), reading a frame as text, and the zero mask for loopback producer sockets.
import WebSocket from "ws";

const CLOSE_WAIT_MS = 1000;

/** Closes sockets, terminating those that do not close within a second; `settled()` waits for all. */
export class SocketCloser {
  private readonly pending = new Set<Promise<void>>();

  close(ws: WebSocket, code = 1000, reason = "client_close"): Promise<void> {
    if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const p = new Promise<void>((resolve) => {
      const timer = setTimeout(() => ws.terminate(), CLOSE_WAIT_MS);
      ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.listenerCount("error") === 0) ws.on("error", () => {});
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    }).finally(() => this.pending.delete(p));
    this.pending.add(p);
    return p;
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}

export function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}

/**
 * Loopback to our own broker, never through a proxy: masking (RFC 6455 5.3 guards proxies against
 * browser-made frames) would only cost an XOR pass over every byte of output.
 */
export function zeroMask(mask: Buffer): void {
  mask.fill(0);
}
