// Typed HTTP calls for every broker route, derived from the route table of src/protocol/routes.ts. Each returns the parsed answer or throws BrokerError with
// the broker's error code; a broker that cannot be reached gives BrokerUnreachableError.
import * as v from "valibot";
import {
  PROTOCOL_VERSION,
  ROUTES,
  describeIssues,
  routePath,
  type RouteAnswer,
  type RouteSpec,
  type DiscoveryRecord,
  type IngressRequest,
  type RegisterRequest,
  type Schema,
  type SendRequest,
  type ApprovalRequest,
  type ApprovalState,
  type Chunk,
  type AbortRequest,
  type CompleteRequest,
  type DecisionRequest,
  type StreamStartRequest,
} from "../protocol/index.js";
import { BrokerError, BrokerUnreachableError } from "./errors.js";
import { httpRequest, type HttpAnswer } from "../platform/http.js";
import { localSocket } from "../platform/transport.js";

/** What a call of one route takes besides the route itself. */
export interface RouteCall<R extends RouteSpec> {
  params?: readonly string[];
  body?: R["request"] extends Schema ? v.InferInput<R["request"]> : unknown;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  extraTimeoutMs?: number;
}

export interface ApiOptions {
  /** Per-request time limit; default 10 s. */
  timeoutMs?: number;
}

export class BrokerApi {
  readonly baseUrl: string;
  /** The broker's Unix socket from the discovery record, used when it is there (see platform/transport.ts). */
  readonly ipcSocket: string | undefined;
  private readonly token: string;
  private readonly timeoutMs: number;

  constructor(record: Pick<DiscoveryRecord, "ipcUrl" | "bearerToken" | "ipcSocket">, opts: ApiOptions = {}) {
    this.baseUrl = record.ipcUrl;
    this.ipcSocket = record.ipcSocket;
    this.token = record.bearerToken;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  health() {
    return this.route(ROUTES.health);
  }

  initialize(clientKind: string, clientVersion?: string, protocolVersion = PROTOCOL_VERSION) {
    return this.route(ROUTES.initialize, {
      body: { client_protocol_version: protocolVersion, client_kind: clientKind, ...(clientVersion ? { client_version: clientVersion } : {}) },
    });
  }

  register(body: RegisterRequest) {
    return this.route(ROUTES.register, { body });
  }

  heartbeat(endpointId: string) {
    return this.route(ROUTES.heartbeat, { params: [endpointId], body: {} });
  }

  taskHint(endpointId: string, pluginPid: number, taskHint: string) {
    return this.route(ROUTES.taskHint, { params: [endpointId], body: { plugin_pid: pluginPid, task_hint: taskHint } });
  }

  reattach(endpointId: string, pluginPid: number) {
    return this.route(ROUTES.reattach, { params: [endpointId], body: { plugin_pid: pluginPid } });
  }

  /** `pluginPid`: the owner's pid; the broker refuses another process's endpoint (403 ownership_mismatch). */
  unregister(endpointId: string, pluginPid?: number) {
    return this.route(ROUTES.unregister, { params: [endpointId], headers: pidHeader(pluginPid) });
  }

  async endpoints() {
    return (await this.route(ROUTES.endpoints)).endpoints;
  }

  send(body: SendRequest) {
    return this.route(ROUTES.send, { body });
  }

  /** Message ingress for producers without an endpoint (CLI, scripts). */
  ingress(body: IngressRequest) {
    return this.route(ROUTES.ingress, { body });
  }

  /** `endpointId` picks which of the pid's endpoints asks (MASONS answers 409 ambiguous_endpoint without it when the pid owns several). */
  async undispatched(pluginPid: number, endpointId?: string) {
    return (await this.route(ROUTES.undispatched, { query: endpointId ? { endpoint_id: endpointId } : {}, headers: { "x-plugin-pid": String(pluginPid) } })).items;
  }

  dispatch(undispatchedId: string, targetEndpointId: string) {
    return this.route(ROUTES.dispatch, { body: { undispatched_id: undispatchedId, target_endpoint_id: targetEndpointId } });
  }

  dismiss(undispatchedId: string, reason?: string) {
    return this.route(ROUTES.dismiss, { params: [undispatchedId], body: reason ? { reason } : {} });
  }

  // ---- approvals (capability approvals_v1) ----

  requestApproval(body: ApprovalRequest) {
    return this.route(ROUTES.requestApproval, { body });
  }

  async approvals(state?: ApprovalState) {
    return (await this.route(ROUTES.approvals, { query: state ? { state } : {} })).approvals;
  }

  async approvalHistory(limit = 100) {
    return (await this.route(ROUTES.approvalHistory, { query: { limit: String(limit) } })).approvals;
  }

  /** The approval; while it is pending, waits up to `waitMs` (at most 60 s) for a decision. */
  approval(id: string, waitMs = 0) {
    return this.route(ROUTES.approval, { params: [id], query: waitMs > 0 ? { wait_ms: String(Math.min(60_000, Math.round(waitMs))) } : {}, extraTimeoutMs: waitMs });
  }

  decide(id: string, decision: DecisionRequest) {
    return this.route(ROUTES.decide, { params: [id], body: decision });
  }

  /** `pluginPid`: the requester's pid; the broker refuses another process's approval (403 ownership_mismatch). */
  withdrawApproval(id: string, pluginPid?: number) {
    return this.route(ROUTES.withdrawApproval, { params: [id], headers: pidHeader(pluginPid) });
  }

  /** One page of the audit log as it is on disk: `from` is 0 or the `next` of an earlier page. */
  audit(from = 0, limit?: number) {
    return this.route(ROUTES.audit, { query: { ...(from ? { from: String(from) } : {}), ...(limit ? { limit: String(limit) } : {}) } });
  }

  /** The whole audit log, page by page; `head` is the broker's chain head when the last page was read. */
  async auditAll(): Promise<{ records: unknown[]; head: string }> {
    const records: unknown[] = [];
    for (let from: number | null = 0; ; ) {
      const page = await this.audit(from);
      records.push(...page.records);
      from = page.next;
      if (from === null) return { records, head: page.head };
    }
  }

  // ---- output streams (capability output_streams_v1) ----

  startStream(body: StreamStartRequest) {
    return this.route(ROUTES.startStream, { body });
  }

  appendChunks(id: string, chunks: Chunk[], pluginPid?: number) {
    return this.route(ROUTES.appendChunks, { params: [id], body: { chunks }, headers: pidHeader(pluginPid) });
  }

  completeStream(id: string, end: CompleteRequest, pluginPid?: number) {
    return this.route(ROUTES.completeStream, { params: [id], body: end, headers: pidHeader(pluginPid) });
  }

  /** `ended`: how the process ended, when the producer knows (e.g. it was interrupted). */
  abortStream(id: string, reason?: string, pluginPid?: number, ended: Omit<AbortRequest, "reason"> = {}) {
    return this.route(ROUTES.abortStream, { params: [id], body: { ...(reason ? { reason } : {}), ...ended }, headers: pidHeader(pluginPid) });
  }

  cancelStream(id: string, reason?: string) {
    return this.route(ROUTES.cancelStream, { params: [id], body: reason ? { reason } : {} });
  }

  async streams() {
    return (await this.route(ROUTES.streams)).streams;
  }

  /**
   * A stream's output from `fromSeq` on. The broker answers in pages (`max_bytes`, default 1 MiB);
   * this follows `next_from_seq` and joins them unless `onePage` is set.
   */
  async replayStream(id: string, opts: { channel?: number; fromSeq?: number; maxBytes?: number; onePage?: boolean } = {}) {
    const page = (fromSeq: number | undefined) => {
      const query: Record<string, string> = {};
      if (opts.channel !== undefined) query.channel = String(opts.channel);
      if (fromSeq !== undefined) query.from_seq = String(fromSeq);
      if (opts.maxBytes !== undefined) query.max_bytes = String(opts.maxBytes);
      return this.route(ROUTES.replayStream, { params: [id], query });
    };
    const first = await page(opts.fromSeq);
    if (opts.onePage) return first;
    let last = first;
    while (last.next_from_seq != null) {
      last = await page(last.next_from_seq);
      first.chunks.push(...last.chunks);
    }
    return { ...last, chunks: first.chunks, next_from_seq: null };
  }

  /** One request to a route of ROUTES: its path with `params` filled in, its answer checked against its schema. */
  route<R extends RouteSpec>(spec: R, opts: RouteCall<R> = {}): Promise<RouteAnswer<R>> {
    const query = new URLSearchParams(opts.query ?? {});
    const path = routePath(spec, opts.params) + (query.size ? `?${query}` : "");
    return this.call(spec.method, path, spec.response, opts.body, opts.headers, opts.extraTimeoutMs);
  }

  /** One request; exported for routes added by capability (approvals, streams) in later layers. */
  async call<S extends Schema>(method: string, path: string, schema: S, body?: unknown, headers: Record<string, string> = {}, extraTimeoutMs = 0): Promise<v.InferOutput<S>> {
    const url = this.baseUrl + path;
    let res: HttpAnswer;
    try {
      res = await httpRequest(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        timeoutMs: this.timeoutMs + extraTimeoutMs,
        socketPath: localSocket({ ipcUrl: this.baseUrl, ipcSocket: this.ipcSocket }),
      });
    } catch (err) {
      throw new BrokerUnreachableError(url, err);
    }
    const { text } = res;
    const ok = res.status >= 200 && res.status < 300;
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new BrokerError("invalid_response", res.status, `The broker answered ${method} ${path} with something that is not JSON (HTTP ${res.status}).`);
    }
    if (!ok) {
      const { error, message, ...extra } = (json ?? {}) as { error?: unknown; message?: unknown };
      throw new BrokerError(
        typeof error === "string" ? error : `http_${res.status}`,
        res.status,
        typeof message === "string" ? message : `The broker answered ${method} ${path} with HTTP ${res.status}.`,
        extra,
      );
    }
    const parsed = v.safeParse(schema, json);
    if (!parsed.success) throw new BrokerError("invalid_response", res.status, `Unexpected answer to ${method} ${path}: ${describeIssues(parsed.issues, "response")}`);
    return parsed.output;
  }
}

const pidHeader = (pid?: number): Record<string, string> => (pid ? { "x-plugin-pid": String(pid) } : {});
