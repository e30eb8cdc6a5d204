// The front door's listeners: the loopback TCP port and the Unix socket in the state folder, each with
// its own admission guard. Every request and upgrade passes the same gate here (Host, Origin, token)
// before the route table or the WebSocket paths see it; failures become JSON error bodies.
import { lstat, chmod, unlink } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { ProtocolError } from "../protocol/index.js";
import { ConnectionGuard, DEFAULT_ADMISSION, type AdmissionLimits } from "./admission.js";
import { JsonParts, JsonText, UNAUTHORIZED, refuseUpgrade, send, sendError, sendParts, sendText } from "./http-answers.js";
import type { Logger } from "./log.js";
import { hostHeaders, readBody, requestUrl, type RequestTarget } from "./request-input.js";
import type { RouteTable } from "./route-table.js";
import type { SocketUpgrades } from "./socket-upgrades.js";
import { storageError } from "./storage-errors.js";

export interface ListenerDeps {
  routes: RouteTable;
  upgrades: SocketUpgrades;
  /** Whether an Authorization header carries the broker's token (auth.ts: constant time). */
  authorized: (authorization: string | undefined) => boolean;
  log: Logger;
  /** The storage error while the state folder takes no writes (see journal.ts), else undefined. */
  storageFailure?: () => unknown;
  /** Limits on connections that have not shown the token yet (per listener). */
  admission?: Partial<AdmissionLimits>;
}

/** Requests that change nothing durable, so they are served while the state folder takes no writes. */
const NO_WRITES = /^\/v1\/(initialize|endpoint\/[^/]+\/heartbeat|streams\/[^/]+\/chunks|policy\/(check|preview))$/;

export class Listeners {
  /** The loopback TCP listener (MASONS clients, and any client without the socket). */
  readonly http: Server;
  /** The Unix socket listener in the state folder, once `listenSocket` succeeded: only this user can reach it. */
  private local: Server | undefined;
  private socketPath: string | undefined;
  private readonly admission: AdmissionLimits;
  private readonly guards: ConnectionGuard[] = [];
  private port = 0;

  constructor(private readonly deps: ListenerDeps) {
    this.admission = { ...DEFAULT_ADMISSION, ...deps.admission };
    this.http = this.createListener();
  }

  /** One HTTP server with every handler; each listener has its own admission guard, so a flood on the TCP port never touches the socket's connections. */
  private createListener(): Server {
    const guard = new ConnectionGuard(this.admission);
    this.guards.push(guard);
    // No Host header is refused by rejectHostOrOrigin (403 host_forbidden), not by Node with an empty 400.
    const server = createServer({ requireHostHeader: false }, (req, res) => void this.onRequest(req, res, guard));
    server.on("connection", (socket: Socket) => guard.admit(socket));
    server.on("upgrade", (req, socket, head) => this.onUpgrade(req, socket, head, guard));
    // Requests Node cannot parse (headers over its limit, a bad Content-Length, an unknown method) still get a JSON answer.
    server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
      if (err.code === "ECONNRESET" || !socket.writable) return socket.destroy();
      const what = err.code === "HPE_HEADER_OVERFLOW" ? "its headers are too large" : `it is not valid HTTP/1.1 (${err.code ?? err.message})`;
      refuseUpgrade(socket, 400, { error: "bad_request", message: `The request was refused: ${what}.` });
    });
    server.on("connect", (_req, socket) => refuseUpgrade(socket, 405, { error: "method_not_allowed", message: "CONNECT is not allowed; this broker is no proxy." }));
    // Keep-alive sockets from clients should not hold a shutdown open for long.
    server.keepAliveTimeout = 5000;
    return server;
  }

  /** Unauthenticated connections held now, per listener (TCP first). */
  get admissionCounts() {
    return this.guards.map((g) => g.counts);
  }

  /**
   * Also listens on a Unix socket at `path` (in the 0700 state folder, mode 0600): other users cannot
   * connect at all, so they cannot crowd out this user's clients. Call after `listen` (requests carry
   * the TCP port's Host). A leftover socket file from a dead broker is replaced; anything else at the
   * path (a file, a link) is left alone and the socket is not used. Returns whether it listens.
   */
  async listenSocket(path: string): Promise<boolean> {
    if (process.platform === "win32") return false;
    // sun_path holds 108 bytes on Linux, 104 on macOS, with the terminating NUL.
    if (Buffer.byteLength(path) > 103) {
      this.deps.log.warn("no Unix socket: its path is too long; clients use the TCP port", { path });
      return false;
    }
    const existing = await lstat(path).catch(() => undefined);
    if (existing && !existing.isSocket()) {
      this.deps.log.warn("no Unix socket: something else is at its path; clients use the TCP port", { path });
      return false;
    }
    if (existing) await unlink(path);
    const server = this.createListener();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(path, () => (server.off("error", reject), resolve()));
      });
      await chmod(path, 0o600);
    } catch (err) {
      server.close();
      this.deps.log.warn("no Unix socket: listening failed; clients use the TCP port", { path, err: String(err) });
      return false;
    }
    this.local = server;
    this.socketPath = path;
    return true;
  }

  listen(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(port, "127.0.0.1", () => {
        this.port = (this.http.address() as { port: number }).port;
        resolve(this.port);
      });
    });
  }

  async close(): Promise<void> {
    for (const g of this.guards) g.stop();
    const servers = [this.http, ...(this.local ? [this.local] : [])];
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
            this.deps.upgrades.terminateAll();
          }),
      ),
    );
    if (this.socketPath) await unlink(this.socketPath).catch(() => {});
  }

  // ---- the gate shared by HTTP and upgrades ----------------------------------------------------------

  /** DNS-rebinding and browser protection: only loopback Host names, and no browser Origin at all. */
  private rejectHostOrOrigin(req: IncomingMessage): ProtocolError | undefined {
    // Exactly one Host header, compared case-insensitively (host names are); an absolute-form target
    // ("GET http://attacker.example/…") would name another host than the header, so only paths are accepted.
    // rawHeaders, not headersDistinct: that getter builds an object of every header on each request.
    const hosts = hostHeaders(req.rawHeaders);
    const host = (hosts[0] ?? "").toLowerCase();
    if (hosts.length !== 1 || (host !== `127.0.0.1:${this.port}` && host !== `localhost:${this.port}`))
      return new ProtocolError("host_forbidden", `Host "${hosts.join(", ")}" is not allowed; use 127.0.0.1:${this.port}.`);
    if (!(req.url ?? "").startsWith("/")) return new ProtocolError("host_forbidden", `The request target must be a path; use http://127.0.0.1:${this.port}/….`);
    if (req.headers.origin !== undefined) return new ProtocolError("origin_forbidden", "Requests from web pages are not allowed (an Origin header was sent).");
    return undefined;
  }

  private authorized(req: IncomingMessage): boolean {
    return this.deps.authorized(req.headers.authorization);
  }

  // ---- HTTP ------------------------------------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse, guard: ConnectionGuard): Promise<void> {
    try {
      // A connection that has not shown the token is not kept open after its answer (see admission.ts).
      if (!guard.isTrusted(req.socket)) res.setHeader("connection", "close");
      const denied = this.rejectHostOrOrigin(req);
      if (denied) return sendError(res, denied);
      const url = requestUrl(req);
      const { route, params, methodMismatch } = this.deps.routes.match(req.method ?? "GET", url.pathname);
      // The token before routing: without it, every request but those of an open route (GET /health)
      // answers 401 alike, so which routes and methods exist says nothing to a caller without the token.
      if (route?.auth !== false) {
        if (!this.authorized(req)) return send(res, 401, UNAUTHORIZED);
        guard.authenticate(req.socket);
        res.removeHeader("connection");
      } else if (req.headers.authorization !== undefined && this.authorized(req)) {
        // An open route (/health) with the right token: the connection is the user's, keep it alive.
        guard.authenticate(req.socket);
        res.removeHeader("connection");
      }
      if (!route) {
        return methodMismatch
          ? sendError(res, new ProtocolError("method_not_allowed", `${req.method} is not allowed on ${url.pathname}.`))
          : send(res, 404, { error: "not_found", message: `No route ${url.pathname}.`, path: url.pathname });
      }
      // A request that declares no body has none: no need to wait for its end on the next turn.
      const body = req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined ? {} : await readBody(req);
      // While writes fail, refuse a change before making it, so that nothing of it happens; only the
      // requests caught in the failing write itself are left with an unknown outcome.
      const failure = route.method !== "GET" && !NO_WRITES.test(url.pathname) ? this.deps.storageFailure?.() : undefined;
      if (failure !== undefined)
        throw (
          storageError(failure) ??
          new ProtocolError("storage_unavailable", "The broker cannot write its state folder, so it takes no changes now; see its log.", { retryable: true })
        );
      const result = await route.handler({ params, url, req, body });
      if (result instanceof JsonText) sendText(res, 200, result.text);
      else if (result instanceof JsonParts) await sendParts(res, result.parts);
      else send(res, 200, result ?? { ok: true });
    } catch (err) {
      if (err instanceof ProtocolError) return sendError(res, err);
      const storage = storageError(err);
      if (storage) {
        this.deps.log.warn("request refused: storage failure", { url: req.url, code: storage.code, err: String(err) });
        return sendError(res, storage);
      }
      this.deps.log.error("request failed", { url: req.url, err: String((err as Error)?.stack ?? err) });
      send(res, 500, { error: "internal_error", message: "The broker failed to handle this request; see its log." });
    }
  }

  // ---- WebSocket upgrades ------------------------------------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, guard: ConnectionGuard): void {
    socket.on("error", () => socket.destroy());
    const denied = this.rejectHostOrOrigin(req);
    if (denied) return refuseUpgrade(socket, denied.status, denied.toBody());
    let url: RequestTarget;
    try {
      url = requestUrl(req);
    } catch (err) {
      return refuseUpgrade(socket, 400, (err as ProtocolError).toBody());
    }
    // The token first, as for requests: without it every path answers 401 alike.
    if (!this.authorized(req)) return refuseUpgrade(socket, 401, UNAUTHORIZED);
    guard.authenticate(socket as Socket);
    this.deps.upgrades.accept(req, socket, head, url);
  }
}
