// The WebSocket paths, once the listener's gate passed (Host, Origin, token): a stream's live follower,
// the observer feed, and a process's /v1/stream; bounded in number, each kept alive with pings.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { MAX_CHANNEL, PUSH_RECEIPT_ACK, type ProtocolError, SOCKETS, matchPath } from "../protocol/index.js";
import type { Broker } from "./broker.js";
import { refuseUpgrade } from "./http-answers.js";
import { DEFAULT_LIMITS, limitReached, type Limits } from "./limits.js";
import type { Logger } from "./log.js";
import { MAX_BODY_BYTES, decodePathParam, parseSince, pidHeader, type RequestTarget } from "./request-input.js";
import type { StreamHub } from "./streams.js";

export interface SocketUpgradeDeps {
  broker: Broker;
  streams: StreamHub;
  log: Logger;
  limits?: Limits;
}

export class SocketUpgrades {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });

  constructor(private readonly deps: SocketUpgradeDeps) {
    // Upgrades that are no valid WebSocket handshake (no key, another version, not GET) get the JSON error body too.
    this.wss.on("wsClientError", (err, socket) =>
      err.message === "Invalid HTTP method"
        ? refuseUpgrade(socket, 405, { error: "method_not_allowed", message: "A WebSocket upgrade must be a GET request." })
        : refuseUpgrade(socket, 400, { error: "bad_request", message: `The WebSocket handshake was refused: ${err.message}.` }),
    );
  }

  /** Drops every open WebSocket (the listeners are closing). */
  terminateAll(): void {
    for (const ws of this.wss.clients) ws.terminate();
  }

  /** An upgrade whose Host, Origin and token were checked: to its path's socket, or refused with a JSON body. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, url: RequestTarget): void {
    const live = matchPath(SOCKETS.live, url.pathname);
    if (url.pathname !== SOCKETS.stream.path && url.pathname !== SOCKETS.events.path && !live)
      return refuseUpgrade(socket, 404, { error: "not_found", message: `No WebSocket at ${url.pathname}.` });
    // Every open WebSocket holds a descriptor and buffers: bounded, with a sentence, like every limit.
    const limits = this.deps.limits ?? DEFAULT_LIMITS;
    if (this.wss.clients.size >= limits.sockets) {
      const full = limitReached("connections_full", "sockets", limits, "The broker has as many open WebSockets as it may; close some (windows, followers) and try again");
      return refuseUpgrade(socket, full.status, full.toBody());
    }

    if (live) {
      const from = parseSince(url.searchParams.get("from_seq"));
      const channel = parseSince(url.searchParams.get("channel"));
      if (from === null || channel === null || (channel !== undefined && (channel < 1 || channel > MAX_CHANNEL)))
        return refuseUpgrade(socket, 400, { error: "bad_request", message: "from_seq and channel must be positive integers." });
      let streamId: string;
      try {
        streamId = decodePathParam(live[0]!);
      } catch (err) {
        return refuseUpgrade(socket, 400, (err as ProtocolError).toBody());
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.keepAlive(ws);
        this.deps.streams.follow(ws, streamId, Math.max(1, from ?? 1), channel, url.searchParams.get("binary") === "1");
      });
      return;
    }

    if (url.pathname === SOCKETS.events.path) {
      const since = parseSince(url.searchParams.get("since"));
      if (since === null) return refuseUpgrade(socket, 400, { error: "bad_request", message: "since must be a non-negative integer." });
      const epoch = url.searchParams.get("epoch") ?? undefined;
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.keepAlive(ws);
        this.deps.broker.feed.attach(ws, since, epoch);
      });
      return;
    }
    let pid: number;
    try {
      pid = pidHeader(req);
    } catch (err) {
      return refuseUpgrade(socket, 400, (err as ProtocolError).toBody());
    }
    const caps = String(req.headers["x-masons-ipc-capabilities"] ?? "")
      .split(",")
      .map((s) => s.trim());
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.keepAlive(ws);
      this.deps.broker.openStream(pid, ws, caps.includes(PUSH_RECEIPT_ACK));
    });
  }

  /** Pings every 30 s and drops a socket that missed a pong, so a vanished peer is noticed. */
  private keepAlive(ws: WebSocket): void {
    let alive = true;
    ws.on("pong", () => (alive = true));
    const timer = setInterval(() => {
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
    }, 30_000);
    timer.unref();
    ws.on("close", () => clearInterval(timer));
    // A frame the WebSocket layer refuses (not UTF-8, over 1 MiB) closes the socket (1007, 1009) and
    // emits "error": without a listener that error would be thrown as an uncaught exception.
    ws.on("error", (err) => this.deps.log.warn("socket closed on a bad frame", { err: String(err) }));
  }
}
