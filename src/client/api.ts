// Typed HTTP calls for every broker route. Each returns the parsed answer or throws BrokerError with
// the broker's error code; a broker that cannot be reached gives BrokerUnreachableError.
import * as v from "valibot";
import {
  DispatchResponse,
  EndpointsResponse,
  HealthResponse,
  InitializeResponse,
  OkResponse,
  PROTOCOL_VERSION,
  ReattachResponse,
  RegisterResponse,
  SendResponse,
  UndispatchedResponse,
  describeIssues,
  type DiscoveryRecord,
  type IngressRequest,
  type RegisterRequest,
  type Schema,
  type SendRequest,
  Approval,
  ApprovalsResponse,
  AuditResponse,
  ReplayResponse,
  StreamView,
  StreamsResponse,
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

export interface ApiOptions {
  /** Per-request time limit; default 10 s. */
  timeoutMs?: number;
}

export class BrokerApi {
  readonly baseUrl: string;
  private readonly token: string;
  private readonly timeoutMs: number;

  constructor(record: Pick<DiscoveryRecord, "ipcUrl" | "bearerToken">, opts: ApiOptions = {}) {
    this.baseUrl = record.ipcUrl;
    this.token = record.bearerToken;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  health() {
    return this.call("GET", "/health", HealthResponse);
  }

  initialize(clientKind: string, clientVersion?: string, protocolVersion = PROTOCOL_VERSION) {
    return this.call("POST", "/v1/initialize", InitializeResponse, {
      client_protocol_version: protocolVersion,
      client_kind: clientKind,
      ...(clientVersion ? { client_version: clientVersion } : {}),
    });
  }

  register(body: RegisterRequest) {
    return this.call("POST", "/v1/endpoint/register", RegisterResponse, body);
  }

  heartbeat(endpointId: string) {
    return this.call("POST", `/v1/endpoint/${enc(endpointId)}/heartbeat`, OkResponse, {});
  }

  taskHint(endpointId: string, pluginPid: number, taskHint: string) {
    return this.call("POST", `/v1/endpoint/${enc(endpointId)}/task-hint`, OkResponse, { plugin_pid: pluginPid, task_hint: taskHint });
  }

  reattach(endpointId: string, pluginPid: number) {
    return this.call("POST", `/v1/endpoint/${enc(endpointId)}/reattach`, ReattachResponse, { plugin_pid: pluginPid });
  }

  /** `pluginPid`: the owner's pid; the broker refuses another process's endpoint (403 ownership_mismatch). */
  unregister(endpointId: string, pluginPid?: number) {
    return this.call("DELETE", `/v1/endpoint/${enc(endpointId)}`, OkResponse, undefined, pidHeader(pluginPid));
  }

  async endpoints() {
    return (await this.call("GET", "/v1/endpoints", EndpointsResponse)).endpoints;
  }

  send(body: SendRequest) {
    return this.call("POST", "/v1/send", SendResponse, body);
  }

  /** Message ingress for producers without an endpoint (CLI, scripts). */
  ingress(body: IngressRequest) {
    return this.call("POST", "/v1/messages", SendResponse, body);
  }

  /** `endpointId` picks which of the pid's endpoints asks (MASONS answers 409 ambiguous_endpoint without it when the pid owns several). */
  async undispatched(pluginPid: number, endpointId?: string) {
    const query = endpointId ? `?endpoint_id=${enc(endpointId)}` : "";
    return (await this.call("GET", `/v1/undispatched${query}`, UndispatchedResponse, undefined, { "x-plugin-pid": String(pluginPid) })).items;
  }

  dispatch(undispatchedId: string, targetEndpointId: string) {
    return this.call("POST", "/v1/dispatch", DispatchResponse, { undispatched_id: undispatchedId, target_endpoint_id: targetEndpointId });
  }

  dismiss(undispatchedId: string, reason?: string) {
    return this.call("DELETE", `/v1/undispatched/${enc(undispatchedId)}`, OkResponse, reason ? { reason } : {});
  }

  // ---- approvals (capability approvals_v1) ----

  requestApproval(body: ApprovalRequest) {
    return this.call("POST", "/v1/approvals", Approval, body);
  }

  async approvals(state?: ApprovalState) {
    return (await this.call("GET", `/v1/approvals${state ? `?state=${state}` : ""}`, ApprovalsResponse)).approvals;
  }

  async approvalHistory(limit = 100) {
    return (await this.call("GET", `/v1/approvals/history?limit=${limit}`, ApprovalsResponse)).approvals;
  }

  /** The approval; while it is pending, waits up to `waitMs` (at most 60 s) for a decision. */
  approval(id: string, waitMs = 0) {
    return this.call("GET", `/v1/approvals/${enc(id)}${waitMs > 0 ? `?wait_ms=${Math.min(60_000, Math.round(waitMs))}` : ""}`, Approval, undefined, {}, waitMs);
  }

  decide(id: string, decision: DecisionRequest) {
    return this.call("POST", `/v1/approvals/${enc(id)}/decision`, Approval, decision);
  }

  /** `pluginPid`: the requester's pid; the broker refuses another process's approval (403 ownership_mismatch). */
  withdrawApproval(id: string, pluginPid?: number) {
    return this.call("DELETE", `/v1/approvals/${enc(id)}`, Approval, undefined, pidHeader(pluginPid));
  }

  audit() {
    return this.call("GET", "/v1/audit", AuditResponse);
  }

  // ---- output streams (capability output_streams_v1) ----

  startStream(body: StreamStartRequest) {
    return this.call("POST", "/v1/streams", StreamView, body);
  }

  appendChunks(id: string, chunks: Chunk[], pluginPid?: number) {
    return this.call("POST", `/v1/streams/${enc(id)}/chunks`, v.object({ last_seq: v.number() }), { chunks }, pidHeader(pluginPid));
  }

  completeStream(id: string, end: CompleteRequest, pluginPid?: number) {
    return this.call("POST", `/v1/streams/${enc(id)}/complete`, StreamView, end, pidHeader(pluginPid));
  }

  /** `ended`: how the process ended, when the producer knows (e.g. it was interrupted). */
  abortStream(id: string, reason?: string, pluginPid?: number, ended: Omit<AbortRequest, "reason"> = {}) {
    return this.call("POST", `/v1/streams/${enc(id)}/abort`, StreamView, { ...(reason ? { reason } : {}), ...ended }, pidHeader(pluginPid));
  }

  cancelStream(id: string, reason?: string) {
    return this.call("POST", `/v1/streams/${enc(id)}/cancel`, StreamView, reason ? { reason } : {});
  }

  async streams() {
    return (await this.call("GET", "/v1/streams", StreamsResponse)).streams;
  }

  replayStream(id: string, opts: { channel?: number; fromSeq?: number } = {}) {
    const q = new URLSearchParams();
    if (opts.channel !== undefined) q.set("channel", String(opts.channel));
    if (opts.fromSeq !== undefined) q.set("from_seq", String(opts.fromSeq));
    return this.call("GET", `/v1/streams/${enc(id)}${q.size ? `?${q}` : ""}`, ReplayResponse);
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

const enc = encodeURIComponent;
const pidHeader = (pid?: number): Record<string, string> => (pid ? { "x-plugin-pid": String(pid) } : {});
