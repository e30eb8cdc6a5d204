// A lean HTTP/1.1 keep-alive client over net.Socket for the throughput runs: one request in flight per
// connection, the request written in one piece, the answer read by Content-Length. It sends the same
// bytes a normal client does, so the server does exactly the same work; it just costs the load
// generator far less CPU than node:http, which matters when client and server share two cores.
import { connect, type Socket } from "node:net";
import type { HttpResult, HttpTarget } from "./http.js";

const HEADER_END = Buffer.from("\r\n\r\n");

export class RawConnection {
  private buf: Buffer = Buffer.alloc(0);
  private pending: { resolve: (r: HttpResult) => void; reject: (e: Error) => void } | undefined;
  private closed = false;
  private readonly prefix: string;

  private constructor(
    private readonly sock: Socket,
    target: HttpTarget,
    path: string,
  ) {
    this.prefix =
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\n` +
      (target.token ? `Authorization: Bearer ${target.token}\r\n` : "") +
      `Content-Type: application/json\r\nContent-Length: `;
    sock.setNoDelay(true);
    sock.on("data", (chunk: Buffer) => this.onData(chunk));
    const gone = (err?: Error) => {
      this.closed = true;
      const p = this.pending;
      this.pending = undefined;
      p?.reject(err ?? Object.assign(new Error("connection closed"), { code: "ECONNCLOSED" }));
    };
    sock.on("error", gone);
    sock.on("close", () => gone());
  }

  static open(target: HttpTarget, path: string, timeoutMs = 5000): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: "127.0.0.1", port: target.port });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`connect to 127.0.0.1:${target.port} timed out`));
      }, timeoutMs);
      sock.once("connect", () => {
        clearTimeout(timer);
        resolve(new RawConnection(sock, target, path));
      });
      sock.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get usable(): boolean {
    return !this.closed && this.pending === undefined;
  }

  /** POSTs `body` (JSON text); one request at a time per connection. */
  post(body: string): Promise<HttpResult> {
    if (this.closed) return Promise.reject(Object.assign(new Error("connection closed"), { code: "ECONNCLOSED" }));
    if (this.pending) return Promise.reject(new Error("RawConnection: one request at a time"));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.sock.write(`${this.prefix}${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
  }

  close(): void {
    this.closed = true;
    this.sock.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const end = this.buf.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.buf.toString("latin1", 0, end);
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!m) {
      // Every server measured here sends Content-Length; anything else is a protocol surprise.
      const p = this.pending;
      this.pending = undefined;
      this.close();
      p?.reject(new Error(`answer without Content-Length: ${head.slice(0, 80)}`));
      return;
    }
    const total = end + 4 + Number(m[1]);
    if (this.buf.length < total) return;
    const body = this.buf.toString("utf8", end + 4, total);
    this.buf = this.buf.subarray(total);
    const p = this.pending;
    this.pending = undefined;
    if (/\r\nconnection:\s*close/i.test(head)) this.close();
    p?.resolve({ status, body });
  }
}
