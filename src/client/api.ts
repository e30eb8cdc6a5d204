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
} from "../protocol/index.js";
import { BrokerError, BrokerUnreachableError } from "./errors.js";

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

  unregister(endpointId: string) {
    return this.call("DELETE", `/v1/endpoint/${enc(endpointId)}`, OkResponse);
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

  async undispatched(pluginPid: number) {
    return (await this.call("GET", "/v1/undispatched", UndispatchedResponse, undefined, { "x-plugin-pid": String(pluginPid) })).items;
  }

  dispatch(undispatchedId: string, targetEndpointId: string) {
    return this.call("POST", "/v1/dispatch", DispatchResponse, { undispatched_id: undispatchedId, target_endpoint_id: targetEndpointId });
  }

  dismiss(undispatchedId: string, reason?: string) {
    return this.call("DELETE", `/v1/undispatched/${enc(undispatchedId)}`, OkResponse, reason ? { reason } : {});
  }

  /** One request; exported for routes added by capability (approvals, streams) in later layers. */
  async call<S extends Schema>(method: string, path: string, schema: S, body?: unknown, headers: Record<string, string> = {}): Promise<v.InferOutput<S>> {
    const url = this.baseUrl + path;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new BrokerUnreachableError(url, (err as Error)?.cause ?? err);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new BrokerError("invalid_response", res.status, `The broker answered ${method} ${path} with something that is not JSON (HTTP ${res.status}).`);
    }
    if (!res.ok) {
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
