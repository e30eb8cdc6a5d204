// HTTP + WebSocket front door: Host/Origin/token checks, body limits, schema validation, routing.
// Every route is a small function from a checked request to a JSON answer; errors become 4xx bodies.
import { randomUUID } from "node:crypto";
import { lstat, chmod, unlink } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import {
  DismissRequest,
  PROTOCOL_MAJOR,
  PROTOCOL_VERSION,
  PUSH_RECEIPT_ACK,
  ProtocolError,
  ROUTES,
  ReattachRequest,
  SOCKETS,
  matchPath,
  SWITCHBOARD_VERSION,
  TaskHintRequest,
  ApprovalState,
  MAX_CHANNEL,
  parseWith,
  protocolMajor,
  serverCapabilities,
  type BrokerWarning,
  type ErrorCode,
  type RouteBody,
  type RouteName,
  type RouteSpec,
  type Schema,
} from "../protocol/index.js";
import type { InferOutput } from "valibot";
import type { ApprovalDesk } from "./approvals.js";
import type { PolicyDesk } from "./policy-desk.js";
import type { AuditLog } from "./audit.js";
import type { Broker } from "./broker.js";
import { REPLAY_PAGE_BYTES, REPLAY_PAGE_MAX, type StreamHub } from "./streams.js";
import { DEFAULT_LIMITS, limitReached, type Limits } from "./limits.js";
import type { Logger } from "./log.js";
import { bearerChecker } from "./auth.js";
import { ConnectionGuard, DEFAULT_ADMISSION, type AdmissionLimits } from "./admission.js";
import { storageError } from "./storage-errors.js";

export const MAX_BODY_BYTES = 1024 * 1024;

/** /health's `version`. Not plain semver on purpose: the MASONS SDK kills a broker whose semver `version` is below its own. */
export const HEALTH_VERSION = `agent-switchboard/${SWITCHBOARD_VERSION}`;

interface Ctx<Body = unknown> {
  params: string[];
  url: RequestTarget;
  req: IncomingMessage;
  body: Body;
}
/** A route's handler: its checked body in, its answer (or a ProtocolError) out. */
type Handler<R extends RouteSpec = RouteSpec> = (ctx: Ctx<RouteBody<R>>) => unknown | Promise<unknown>;
interface Route {
  method: string;
  pattern: RegExp;
  /** The path itself when it has no parameters. */
  fixedPath?: string;
  auth: boolean;
  handler: Handler;
}

export interface ServerOptions {
  token: string;
  broker: Broker;
  approvals: ApprovalDesk;
  streams: StreamHub;
  audit: AuditLog;
  log: Logger;
  /** The approval policy (section 11 of docs/protocol.md). */
  policy?: PolicyDesk;
  /** The storage error while the state folder takes no writes (see journal.ts), else undefined. */
  storageFailure?: () => unknown;
  /** Limits on connections that have not shown the token yet (per listener). */
  admission?: Partial<AdmissionLimits>;
  limits?: Limits;
}

/** Requests that change nothing durable, so they are served while the state folder takes no writes. */
const NO_WRITES = /^\/v1\/(initialize|endpoint\/[^/]+\/heartbeat|streams\/[^/]+\/chunks|policy\/(check|preview))$/;

export class BrokerServer {
  /** The loopback TCP listener (MASONS clients, and any client without the socket). */
  readonly http: Server;
  /** The Unix socket listener in the state folder, once `listenSocket` succeeded: only this user can reach it. */
  private local: Server | undefined;
  private socketPath: string | undefined;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });
  private readonly authorizedHeader: (authorization: string | undefined) => boolean;
  private readonly routes: Route[];
  /** The routes whose paths have no parameters, by path (a path has one route per method). */
  private readonly fixedRoutes = new Map<string, Route[]>();
  private readonly admission: AdmissionLimits;
  private readonly guards: ConnectionGuard[] = [];
  private port = 0;
  /** The constant fields of /v1/initialize's answer, as JSON without the closing brace. */
  private readonly initializeHead = JSON.stringify({
    server_version: SWITCHBOARD_VERSION,
    server_protocol_version: PROTOCOL_VERSION,
    server_capabilities: serverCapabilities(),
    network_presence: "online",
  }).slice(0, -1);
  private readonly healthAnswer = new JsonText(
    JSON.stringify({ ok: true, version: HEALTH_VERSION, protocol_version: PROTOCOL_VERSION, capabilities: serverCapabilities(), switchboard_version: SWITCHBOARD_VERSION }),
  );

  constructor(private readonly opts: ServerOptions) {
    this.authorizedHeader = bearerChecker(opts.token);
    this.routes = this.buildRoutes();
    for (const r of this.routes) if (r.fixedPath !== undefined) this.fixedRoutes.set(r.fixedPath, [...(this.fixedRoutes.get(r.fixedPath) ?? []), r]);
    this.admission = { ...DEFAULT_ADMISSION, ...opts.admission };
    this.http = this.createListener();
    // Upgrades that are no valid WebSocket handshake (no key, another version, not GET) get the JSON error body too.
    this.wss.on("wsClientError", (err, socket) =>
      err.message === "Invalid HTTP method"
        ? refuseUpgrade(socket, 405, { error: "method_not_allowed", message: "A WebSocket upgrade must be a GET request." })
        : refuseUpgrade(socket, 400, { error: "bad_request", message: `The WebSocket handshake was refused: ${err.message}.` }),
    );
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
      this.opts.log.warn("no Unix socket: its path is too long; clients use the TCP port", { path });
      return false;
    }
    const existing = await lstat(path).catch(() => undefined);
    if (existing && !existing.isSocket()) {
      this.opts.log.warn("no Unix socket: something else is at its path; clients use the TCP port", { path });
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
      this.opts.log.warn("no Unix socket: listening failed; clients use the TCP port", { path, err: String(err) });
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
            for (const ws of this.wss.clients) ws.terminate();
          }),
      ),
    );
    if (this.socketPath) await unlink(this.socketPath).catch(() => {});
  }

  // ---- checks shared by HTTP and upgrades ------------------------------------------------------------

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

  /** What the user should hear about (in /v1/initialize, so `switchboard status` and every window see it). */
  private warnings(): BrokerWarning[] {
    const audit = this.opts.audit.chainWarning;
    return audit ? [{ code: "audit_chain_broken", message: audit }] : [];
  }

  private authorized(req: IncomingMessage): boolean {
    return this.authorizedHeader(req.headers.authorization);
  }

  // ---- HTTP ------------------------------------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse, guard: ConnectionGuard): Promise<void> {
    try {
      // A connection that has not shown the token is not kept open after its answer (see admission.ts).
      if (!guard.isTrusted(req.socket)) res.setHeader("connection", "close");
      const denied = this.rejectHostOrOrigin(req);
      if (denied) return sendError(res, denied);
      const url = requestUrl(req);
      const { route, params, methodMismatch } = this.match(req.method ?? "GET", url.pathname);
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
      const failure = route.method !== "GET" && !NO_WRITES.test(url.pathname) ? this.opts.storageFailure?.() : undefined;
      if (failure !== undefined)
        throw (
          storageError(failure) ??
          new ProtocolError("storage_unavailable", "The broker cannot write its state folder, so it takes no changes now; see its log.", { retryable: true })
        );
      const result = await route.handler({ params, url, req, body });
      if (result instanceof JsonText) sendText(res, 200, result.text);
      else send(res, 200, result ?? { ok: true });
    } catch (err) {
      if (err instanceof ProtocolError) return sendError(res, err);
      const storage = storageError(err);
      if (storage) {
        this.opts.log.warn("request refused: storage failure", { url: req.url, code: storage.code, err: String(err) });
        return sendError(res, storage);
      }
      this.opts.log.error("request failed", { url: req.url, err: String((err as Error)?.stack ?? err) });
      send(res, 500, { error: "internal_error", message: "The broker failed to handle this request; see its log." });
    }
  }

  private match(method: string, path: string): { route?: Route; params: string[]; methodMismatch: boolean } {
    // Paths without parameters are looked up, not matched one pattern after another.
    const fixed = this.fixedRoutes.get(path);
    if (fixed) {
      const route = fixed.find((r) => r.method === method);
      return route ? { route, params: [], methodMismatch: false } : { params: [], methodMismatch: true };
    }
    let methodMismatch = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      if (route.method !== method) {
        methodMismatch = true;
        continue;
      }
      return { route, params: m.slice(1).map(decodePathParam), methodMismatch };
    }
    return { params: [], methodMismatch };
  }

  /** The handler of every route in ROUTES (src/protocol/routes.ts); the body arrives checked against the route's schema. */
  private handlers(): { [K in RouteName]: Handler<(typeof ROUTES)[K]> } {
    const b = this.opts.broker;
    const approvals = this.opts.approvals;
    const streams = this.opts.streams;
    const policyDesk = () => {
      if (!this.opts.policy) throw new ProtocolError("not_found", "This broker has no approval policy.");
      return this.opts.policy;
    };
    return {
      // The same answer every time: serialized once.
      health: () => this.healthAnswer,
      initialize: ({ body }) => {
        const major = protocolMajor(body.client_protocol_version);
        if (major !== PROTOCOL_MAJOR)
          throw new ProtocolError(
            "protocol_version_mismatch",
            `This broker speaks protocol ${PROTOCOL_VERSION}; the client asked for ${body.client_protocol_version}. Update the client or the broker so that their major versions match.`,
            { server_protocol_version: PROTOCOL_VERSION },
          );
        // The constant part is serialized once; only the session id, feed epoch and warnings vary.
        return new JsonText(`${this.initializeHead},"session_id":"${randomUUID()}","feed_epoch":${JSON.stringify(b.feed.epoch)},"warnings":${JSON.stringify(this.warnings())}}`);
      },
      register: ({ body }) => b.register(body),
      heartbeat: ({ params }) => {
        b.heartbeat(params[0]!);
        return { ok: true };
      },
      taskHint: async ({ params, body }) => {
        const pid = checkPid(body);
        const parsed = parseWith(TaskHintRequest, body);
        if (!parsed.ok) throw new ProtocolError("task_hint_invalid", `task_hint must be a string: ${parsed.message}`);
        await b.taskHint(params[0]!, pid, parsed.value.task_hint);
        return { ok: true };
      },
      reattach: ({ params, body }) => {
        const pid = checkPid(body);
        check(ReattachRequest, body, "plugin_pid_invalid");
        return b.reattach(params[0]!, pid);
      },
      unregister: async ({ params, req }) => {
        await b.unregister(params[0]!, optionalPidHeader(req));
        return { ok: true };
      },
      endpoints: () => ({ endpoints: b.listEndpoints() }),
      send: ({ body }) => b.send(body),
      ingress: ({ body }) => b.ingress(body),
      undispatched: ({ req }) => {
        pidHeader(req);
        return { items: b.listUndispatched() };
      },
      dismiss: async ({ params, body, url }) => {
        const req = check(DismissRequest, body, "bad_request");
        await b.dismiss(params[0]!, req.reason ?? url.searchParams.get("reason") ?? undefined);
        return { ok: true };
      },
      dispatch: ({ body }) => b.dispatch(body.undispatched_id, body.target_endpoint_id),

      requestApproval: ({ body }) => approvals.request(body),
      approvals: ({ url }) => {
        const state = url.searchParams.get("state");
        if (state !== null && !parseWith(ApprovalState, state).ok) throw new ProtocolError("bad_request", "state must be one of pending, approved, rejected, expired, cancelled.");
        return { approvals: approvals.list((state ?? undefined) as ApprovalState | undefined) };
      },
      approvalHistory: ({ url }) => ({ approvals: approvals.history(intParam(url, "limit", 100, 1, 500)) }),
      approval: ({ params, url }) => approvals.wait(params[0]!, intParam(url, "wait_ms", 0, 0, 60_000)),
      decide: ({ params, body }) => approvals.decide(params[0]!, body),
      withdrawApproval: ({ params, req }) => approvals.withdraw(params[0]!, optionalPidHeader(req)),
      audit: async () => ({
        records: await this.opts.audit.readRaw(),
        head: this.opts.audit.headHash,
        ...(this.opts.audit.chainBreak ? { broken: this.opts.audit.chainBreak } : {}),
      }),

      // the approval policy; saving a rule (or accepting a workspace file, or turning on the read-only
      // set) decides the pending requests it now allows or denies, at once
      policy: ({ url }) => policyDesk().view(url.searchParams.getAll("root")),
      addRule: async ({ body }) => ({ rule: await policyDesk().add(body), decided: await approvals.applyPolicy() }),
      removeRule: async ({ params, url }) => {
        const q = url.searchParams;
        return { removed: await policyDesk().remove(params[0]!, { scope: q.get("scope"), endpoint_id: q.get("endpoint_id"), root: q.get("root") }) };
      },
      checkPolicy: ({ body }) => policyDesk().check(body),
      previewRule: ({ body }) => policyDesk().preview(body, approvals.history(100), approvals.pending()),
      proposeRule: ({ params }) => {
        const rule = policyDesk().propose(approvals.get(params[0]!));
        return { rule, preview: policyDesk().preview({ rule }, approvals.history(100), approvals.pending()) };
      },
      acceptWorkspaceRules: async ({ body }) => ({ workspace: await policyDesk().accept(body.root, body.sha256), decided: await approvals.applyPolicy() }),
      builtinRules: async ({ body }) => ({ builtin: await policyDesk().setBuiltin(body), decided: await approvals.applyPolicy() }),

      startStream: ({ body }) => streams.start(body),
      streams: () => ({ streams: streams.list() }),
      replayStream: ({ params, url }) => {
        const channel = url.searchParams.has("channel") ? intParam(url, "channel", 1, 1, MAX_CHANNEL) : undefined;
        return streams.replay(params[0]!, channel, intParam(url, "from_seq", 1, 1, Number.MAX_SAFE_INTEGER), intParam(url, "max_bytes", REPLAY_PAGE_BYTES, 1, REPLAY_PAGE_MAX));
      },
      appendChunks: ({ params, body, req }) => streams.append(params[0]!, body.chunks, optionalPidHeader(req)),
      completeStream: ({ params, body, req }) => streams.complete(params[0]!, body, optionalPidHeader(req)),
      abortStream: ({ params, body, req }) => streams.abort(params[0]!, body, optionalPidHeader(req)),
      cancelStream: ({ params, body }) => streams.cancel(params[0]!, body.reason),
    };
  }

  /** The route table: each route of ROUTES with its path as a pattern, its body check and its handler. */
  private buildRoutes(): Route[] {
    const handlers = this.handlers() as Record<RouteName, Handler<RouteSpec>>;
    return (Object.keys(ROUTES) as RouteName[]).map((name) => {
      const spec: RouteSpec = ROUTES[name];
      const handler = handlers[name];
      return {
        method: spec.method,
        pattern: new RegExp(`^${spec.path.replace(/:\w+/g, "([^/]+)")}$`),
        ...(spec.path.includes(":") ? {} : { fixedPath: spec.path }),
        auth: spec.auth,
        handler: spec.request ? (ctx) => handler({ ...ctx, body: check(spec.request!, ctx.body, spec.invalidBody) }) : handler,
      };
    });
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
    const live = matchPath(SOCKETS.live, url.pathname);
    if (url.pathname !== SOCKETS.stream.path && url.pathname !== SOCKETS.events.path && !live)
      return refuseUpgrade(socket, 404, { error: "not_found", message: `No WebSocket at ${url.pathname}.` });
    // Every open WebSocket holds a descriptor and buffers: bounded, with a sentence, like every limit.
    const limits = this.opts.limits ?? DEFAULT_LIMITS;
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
        this.opts.streams.follow(ws, streamId, Math.max(1, from ?? 1), channel, url.searchParams.get("binary") === "1");
      });
      return;
    }

    if (url.pathname === SOCKETS.events.path) {
      const since = parseSince(url.searchParams.get("since"));
      if (since === null) return refuseUpgrade(socket, 400, { error: "bad_request", message: "since must be a non-negative integer." });
      const epoch = url.searchParams.get("epoch") ?? undefined;
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.keepAlive(ws);
        this.opts.broker.feed.attach(ws, since, epoch);
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
      this.opts.broker.openStream(pid, ws, caps.includes(PUSH_RECEIPT_ACK));
    });
  }

  /** Pings every 30 s and drops a socket that missed a pong, so a vanished peer is noticed. */
  private keepAlive(ws: import("ws").WebSocket): void {
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
    ws.on("error", (err) => this.opts.log.warn("socket closed on a bad frame", { err: String(err) }));
  }
}

// ---- helpers ---------------------------------------------------------------------------------------------

const UNAUTHORIZED = { error: "unauthorized", message: "Missing or wrong bearer token; read it from the discovery file." };

function check<S extends Schema>(schema: S, body: unknown, code: ErrorCode): InferOutput<S> {
  const parsed = parseWith(schema, body);
  if (!parsed.ok) throw new ProtocolError(code, parsed.message);
  return parsed.value;
}

function checkPid(body: unknown): number {
  const pid = (body as { plugin_pid?: unknown } | null)?.plugin_pid;
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 0) throw new ProtocolError("plugin_pid_invalid", "plugin_pid must be a positive integer.");
  return pid;
}

function pidHeader(req: IncomingMessage): number {
  const raw = req.headers["x-plugin-pid"];
  const pid = typeof raw === "string" && /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(pid > 0 && pid < 2 ** 31)) throw new ProtocolError("plugin_pid_invalid", "Send the x-plugin-pid header with your process id (a positive integer).");
  return pid;
}

function optionalPidHeader(req: IncomingMessage): number | undefined {
  return req.headers["x-plugin-pid"] === undefined ? undefined : pidHeader(req);
}

function intParam(url: RequestTarget, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw new ProtocolError("bad_request", `${name} must be an integer from ${min} to ${max}.`);
  return n;
}

/** The request target as a URL; a target no URL parser takes (e.g. "//[x") is the client's error. */
/** What routes read of a request's target. */
type RequestTarget = Pick<URL, "pathname" | "searchParams">;

function requestUrl(req: IncomingMessage): RequestTarget {
  // The common target (a plain path, maybe a query) is split by hand: the WHATWG parser costs more
  // than the rest of a small request. Anything else (dots, odd characters) still goes through it.
  const target = req.url ?? "/";
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  if (PLAIN_PATH.test(path)) return { pathname: path, searchParams: new URLSearchParams(q < 0 ? "" : target.slice(q + 1)) };
  try {
    return new URL(req.url ?? "/", "http://127.0.0.1");
  } catch {
    throw new ProtocolError("bad_request", "The request target is not a valid URL path.");
  }
}

/** A percent-decoded path segment; broken percent-encoding (e.g. "%E0%A4%A") is the client's error. */
function decodePathParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ProtocolError("bad_request", `The path segment "${raw.slice(0, 100)}" is not valid percent-encoding.`);
  }
}

/** Deeper than any real request nests. Beyond it, writing the body back out (the journal, an answer) would overflow the stack. */
export const MAX_JSON_DEPTH = 100;

/** A cheap upper bound first: a body with at most `max` brackets cannot nest deeper than `max`. */
function mayNestDeeperThan(text: string, max: number): boolean {
  let brackets = 0;
  // indexOf is native and visits only the brackets, which most bodies have few of.
  for (const open of ["{", "["]) for (let i = text.indexOf(open); i >= 0; i = text.indexOf(open, i + 1)) if (++brackets > max) return true;
  return false;
}

function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

function parseSince(raw: string | null): number | undefined | null {
  if (raw === null) return undefined;
  return /^\d{1,16}$/.test(raw) ? Number(raw) : null;
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      req.resume();
      return reject(new ProtocolError("payload_too_large", `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        reject(new ProtocolError("payload_too_large", `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("error", reject);
    req.on("end", () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString("utf8").trim();
      if (!text) return resolve({});
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        return reject(new ProtocolError("invalid_json", `The request body is not valid JSON: ${(err as Error).message}`));
      }
      if (mayNestDeeperThan(text, MAX_JSON_DEPTH) && nestedDeeperThan(value, MAX_JSON_DEPTH))
        return reject(new ProtocolError("bad_request", `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`));
      resolve(value);
    });
  });
}

/** A path of plain segments: no dots, no percent-encoding, no leading "//": nothing the URL parser would read differently. */
const PLAIN_PATH = /^\/(?!\/)[A-Za-z0-9_~/-]*$/;

/** A route's answer already serialized (GET /health). */
class JsonText {
  constructor(readonly text: string) {}
}

/** The values of every Host header (a request may carry several; only one is allowed). */
function hostHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === "host") out.push(raw[i + 1]!);
  return out;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  sendText(res, status, JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

/** How long the rest of an oversized body is read (and dropped) after the 413, at most. */
const OVERSIZE_LINGER_MS = 2000;

function sendError(res: ServerResponse, err: ProtocolError): void {
  send(res, err.status, err.toBody());
  // Oversized bodies: answer at once, then read and drop the rest for a moment before closing. Closing
  // while the client still sends would reset the connection under it before it reads the answer.
  if (err.code === "payload_too_large" && !res.req.complete) {
    res.req.resume();
    const timer = setTimeout(() => res.req.socket.destroy(), OVERSIZE_LINGER_MS);
    res.req.once("end", () => clearTimeout(timer));
    res.req.once("close", () => clearTimeout(timer));
  }
}

function refuseUpgrade(socket: Duplex, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  const reason = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable" }[status] ?? "Error";
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
}
