// The /v1/stream sockets, one per process id: frames in (push acks, stream chunks as JSON or binary),
// frames out (pushes, corked so that those produced together leave in one write), and the socket's
// replacement or close, which the endpoint registry turns into lifecycle events.
import type { Socket } from "node:net";
import type WebSocket from "ws";
import { ClientFrame, decodeProducerChunk, parseWith } from "../protocol/index.js";
import type { Logger } from "./log.js";

export interface Connection {
  pid: number;
  ws: WebSocket;
  ackMode: boolean;
  /** push_id -> endpoint of pushes sent on this socket and not yet acknowledged (a drain skips them). */
  sent: Map<string, string>;
}

/** What the sockets report to the broker. */
export interface PidSocketEvents {
  /** Chunk frames from a producer; returns a promise while the producer must wait. */
  chunk(streamId: string, channel: number, seq: number | undefined, data: Buffer, pid: number): Promise<void> | undefined;
  /** The owner acknowledged a push (push_receipt_ack_v1) that this socket carried for `endpointId`. */
  acked(endpointId: string, pushId: string): void;
  /** A new socket for `pid` replaced its old one. */
  replaced(pid: number): void;
  /** `pid`'s socket closed (not replaced, and the broker is not stopping). */
  closed(pid: number): void;
}

export class PidSockets {
  private readonly conns = new Map<number, Connection>();
  private readonly corked = new Set<Socket>();
  private stopping = false;

  constructor(
    private readonly events: PidSocketEvents,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.conns.size;
  }

  has(pid: number): boolean {
    return this.conns.has(pid);
  }

  get(pid: number): Connection | undefined {
    return this.conns.get(pid);
  }

  open(pid: number, ws: WebSocket, ackMode: boolean): void {
    const old = this.conns.get(pid);
    const conn: Connection = { pid, ws, ackMode, sent: new Map() };
    this.conns.set(pid, conn);
    if (old) {
      // One stream per pid. Unlike MASONS, endpoints move to the new socket instead of staying bound to the dead one.
      old.ws.close(1000, "replaced");
      this.events.replaced(pid);
    }
    ws.on("message", (data, isBinary) => this.onFrame(conn, data, isBinary));
    ws.on("close", () => this.onClosed(conn));
    ws.on("error", (err) => this.log.warn("stream socket error", { pid, err: String(err) }));
  }

  private onFrame(conn: Connection, data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) return this.onBinaryFrame(conn, data as Buffer); // nodebuffer: the server's binaryType
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      frame = undefined;
    }
    // The hot path: an ack is tiny and frequent, so it skips the schema machinery.
    const ack = frame as { event?: unknown; push_id?: unknown } | undefined;
    if (ack?.event === "push_ack" && typeof ack.push_id === "string" && ack.push_id.length >= 1 && ack.push_id.length <= 128) return this.onAck(conn, ack.push_id);
    const parsed = parseWith(ClientFrame, frame, "frame");
    if (!parsed.ok) {
      this.sendJson(conn.ws, { event: "error", error: "bad_frame", message: frame === undefined ? "Frames must be JSON text." : parsed.message });
      return;
    }
    const f = parsed.value;
    if (f.event === "push_ack") return this.onAck(conn, f.push_id);
    this.backpressure(conn, this.events.chunk(f.stream_id, f.channel, f.seq, Buffer.from(f.data, "utf8"), conn.pid));
  }

  /** Stream output as raw bytes (capability stream_frames_v1): no JSON on the hot path. */
  private onBinaryFrame(conn: Connection, data: Buffer): void {
    const chunk = decodeProducerChunk(data);
    if (typeof chunk === "string") return this.sendJson(conn.ws, { event: "error", error: "bad_frame", message: chunk });
    this.backpressure(conn, this.events.chunk(chunk.streamId, chunk.channel, chunk.seq, chunk.data, conn.pid));
  }

  /** Stops reading a producer's socket until its output is written. */
  private backpressure(conn: Connection, wait: Promise<void> | undefined): void {
    if (!wait) return;
    conn.ws.pause();
    void wait.finally(() => conn.ws.resume());
  }

  private onAck(conn: Connection, pushId: string): void {
    const endpointId = conn.sent.get(pushId);
    if (endpointId === undefined) return; // unknown or already acknowledged
    conn.sent.delete(pushId);
    this.events.acked(endpointId, pushId);
  }

  private onClosed(conn: Connection): void {
    if (this.conns.get(conn.pid) !== conn || this.stopping) return; // replaced, or the broker is stopping
    this.conns.delete(conn.pid);
    this.events.closed(conn.pid);
  }

  /**
   * Holds a socket's writes until the event loop has handled this round of I/O, so that pushes
   * produced together leave in one write instead of one system call each.
   */
  cork(conn: Connection): void {
    const socket = (conn.ws as unknown as { _socket?: Socket })._socket;
    if (!socket || this.corked.has(socket)) return;
    socket.cork();
    this.corked.add(socket);
    setImmediate(() => {
      this.corked.delete(socket);
      socket.uncork();
    });
  }

  sendJson(ws: WebSocket, value: unknown): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(value));
  }

  /** Tells every process the broker goes offline and closes its socket; closes from now on change no endpoint. */
  stop(): void {
    this.stopping = true;
    for (const conn of this.conns.values()) {
      this.sendJson(conn.ws, { event: "presence_changed", presence: "offline", reason: "broker_shutdown" });
      conn.ws.close(1001, "broker shutting down");
    }
  }
}
