// Every HTTP route of the broker, described once: method, path, whether it needs the token, the
// schema of its body and of its answer, the capability that announces it and the error codes it
// documents. The broker's route table (src/broker/route-table.ts, handlers in server.ts) and the client's typed calls
// (src/client/api.ts) are both derived from this list, and test/unit/routes.test.ts checks
// docs/protocol.md against it. In the spirit of the LSP protocol package's request types.
import * as v from "valibot";
import { Approval, ApprovalRequest, ApprovalsResponse, AuditResponse, DecisionRequest } from "./approvals.js";
import type { ErrorCode } from "./errors.js";
import {
  DispatchRequest,
  DispatchResponse,
  EndpointsResponse,
  HealthResponse,
  IngressRequest,
  InitializeRequest,
  InitializeResponse,
  OkResponse,
  ReattachResponse,
  RegisterRequest,
  RegisterResponse,
  SendRequest,
  SendResponse,
  UndispatchedResponse,
} from "./schemas.js";
import { AbortRequest, ChunksRequest, CompleteRequest, ReasonRequest, ReplayResponse, StreamStartRequest, StreamView, StreamsResponse } from "./streams.js";
import type { Schema } from "./validate.js";
import {
  AcceptWorkspaceRequest,
  AcceptWorkspaceResponse,
  AddRuleRequest,
  AddRuleResponse,
  BuiltinSettingsRequest,
  BuiltinSettingsResponse,
  CheckRequest,
  PolicyResult,
  PolicyView,
  PreviewRequest,
  PreviewResponse,
  ProposeResponse,
  RemoveRuleResponse,
} from "./policy.js";

export type HttpMethod = "GET" | "POST" | "DELETE";

export interface RouteSpec<Req extends Schema | undefined = Schema | undefined, Res extends Schema = Schema> {
  method: HttpMethod;
  /** With `:name` for each path parameter, in order. */
  path: string;
  /** False only for /health. */
  auth: boolean;
  /** The JSON body, checked by the broker before the handler runs (none: the handler reads no body, or checks it itself). */
  request: Req;
  /** The error code of a body that fails `request`. */
  invalidBody: ErrorCode;
  response: Res;
  /** The capability in /health and /v1/initialize that announces the route; none: MASONS-compatible. */
  capability?: string;
  /** The error codes this route answers with besides those every route can (docs/protocol.md §2). */
  errors: readonly ErrorCode[];
}

function route<Req extends Schema | undefined, Res extends Schema>(
  spec: Omit<RouteSpec<Req, Res>, "auth" | "invalidBody" | "errors"> & Partial<Pick<RouteSpec<Req, Res>, "auth" | "invalidBody" | "errors">>,
): RouteSpec<Req, Res> {
  return { auth: true, invalidBody: "bad_request", errors: [], ...spec };
}

const AppendResponse = v.object({ last_seq: v.number() });

export const ROUTES = {
  // ---- MASONS-compatible (docs/protocol.md §3) ----
  health: route({ method: "GET", path: "/health", auth: false, request: undefined, response: HealthResponse }),
  initialize: route({ method: "POST", path: "/v1/initialize", request: InitializeRequest, response: InitializeResponse, errors: ["protocol_version_mismatch"] }),
  register: route({
    method: "POST",
    path: "/v1/endpoint/register",
    request: RegisterRequest,
    response: RegisterResponse,
    errors: ["ipc_channel_missing", "plugin_pid_invalid", "pid_endpoints_full"],
  }),
  heartbeat: route({ method: "POST", path: "/v1/endpoint/:id/heartbeat", request: undefined, response: OkResponse, errors: ["endpoint_unknown"] }),
  // The pid is checked before the hint, so that a bad pid is plugin_pid_invalid as in MASONS: the handler checks the body.
  taskHint: route({
    method: "POST",
    path: "/v1/endpoint/:id/task-hint",
    request: undefined,
    response: OkResponse,
    errors: ["plugin_pid_invalid", "task_hint_invalid", "endpoint_unknown", "ownership_mismatch"],
  }),
  reattach: route({
    method: "POST",
    path: "/v1/endpoint/:id/reattach",
    request: undefined,
    response: ReattachResponse,
    errors: ["plugin_pid_invalid", "endpoint_unknown", "endpoint_not_reconnecting", "reattach_pid_mismatch"],
  }),
  unregister: route({ method: "DELETE", path: "/v1/endpoint/:id", request: undefined, response: OkResponse, errors: ["ownership_mismatch", "plugin_pid_invalid"] }),
  endpoints: route({ method: "GET", path: "/v1/endpoints", request: undefined, response: EndpointsResponse, capability: "endpoint_list_v1" }),
  send: route({
    method: "POST",
    path: "/v1/send",
    request: SendRequest,
    response: SendResponse,
    errors: [
      "unknown_endpoint",
      "endpoint_not_active",
      "correlation_id_forbidden",
      "target_endpoint_id_forbidden",
      "source_endpoint_id_mismatch",
      "recipient_unknown",
      "recipient_ambiguous",
      "recipient_takes_no_messages",
      "inbox_full",
      "endpoint_buffer_full",
    ],
  }),
  ingress: route({
    method: "POST",
    path: "/v1/messages",
    request: IngressRequest,
    response: SendResponse,
    capability: "message_ingress_v1",
    errors: ["recipient_unknown", "recipient_ambiguous", "recipient_takes_no_messages", "inbox_full", "endpoint_buffer_full"],
  }),
  undispatched: route({ method: "GET", path: "/v1/undispatched", request: undefined, response: UndispatchedResponse, errors: ["plugin_pid_invalid"] }),
  // The body is optional (`?reason=` also works): the handler checks it.
  dismiss: route({
    method: "DELETE",
    path: "/v1/undispatched/:id",
    request: undefined,
    response: OkResponse,
    capability: "undispatched_dismiss_v1",
    errors: ["undispatched_unknown"],
  }),
  dispatch: route({
    method: "POST",
    path: "/v1/dispatch",
    request: DispatchRequest,
    invalidBody: "dispatch_body_invalid",
    response: DispatchResponse,
    errors: ["undispatched_unknown", "endpoint_unknown", "dispatch_failed", "recipient_takes_no_messages"],
  }),

  // ---- approvals (§9) ----
  requestApproval: route({
    method: "POST",
    path: "/v1/approvals",
    request: ApprovalRequest,
    response: Approval,
    capability: "approvals_v1",
    errors: ["unknown_endpoint", "approval_too_large", "session_approvals_full", "approvals_full"],
  }),
  approvals: route({ method: "GET", path: "/v1/approvals", request: undefined, response: ApprovalsResponse, capability: "approvals_v1" }),
  approvalHistory: route({ method: "GET", path: "/v1/approvals/history", request: undefined, response: ApprovalsResponse, capability: "approvals_v1" }),
  approval: route({ method: "GET", path: "/v1/approvals/:id", request: undefined, response: Approval, capability: "approvals_v1", errors: ["approval_unknown"] }),
  decide: route({
    method: "POST",
    path: "/v1/approvals/:id/decision",
    request: DecisionRequest,
    response: Approval,
    capability: "approvals_v1",
    errors: ["approval_unknown", "approval_already_decided", "approval_expired", "approval_cancelled"],
  }),
  withdrawApproval: route({
    method: "DELETE",
    path: "/v1/approvals/:id",
    request: undefined,
    response: Approval,
    capability: "approvals_v1",
    errors: ["approval_unknown", "ownership_mismatch"],
  }),
  audit: route({ method: "GET", path: "/v1/audit", request: undefined, response: AuditResponse, capability: "approvals_v1" }),

  // ---- the approval policy (§11) ----
  policy: route({ method: "GET", path: "/v1/policy", request: undefined, response: PolicyView, capability: "policy_v1" }),
  addRule: route({
    method: "POST",
    path: "/v1/policy/rules",
    request: AddRuleRequest,
    response: AddRuleResponse,
    capability: "policy_v1",
    errors: ["rule_invalid", "unknown_endpoint"],
  }),
  removeRule: route({ method: "DELETE", path: "/v1/policy/rules/:id", request: undefined, response: RemoveRuleResponse, capability: "policy_v1", errors: ["rule_unknown"] }),
  checkPolicy: route({
    method: "POST",
    path: "/v1/policy/check",
    request: CheckRequest,
    response: PolicyResult,
    capability: "policy_v1",
    errors: ["recipient_unknown", "recipient_ambiguous"],
  }),
  previewRule: route({ method: "POST", path: "/v1/policy/preview", request: PreviewRequest, response: PreviewResponse, capability: "policy_v1", errors: ["rule_invalid"] }),
  proposeRule: route({
    method: "GET",
    path: "/v1/policy/propose/:id",
    request: undefined,
    response: ProposeResponse,
    capability: "policy_v1",
    errors: ["approval_unknown", "rule_invalid"],
  }),
  acceptWorkspaceRules: route({
    method: "POST",
    path: "/v1/policy/workspace/accept",
    request: AcceptWorkspaceRequest,
    response: AcceptWorkspaceResponse,
    capability: "policy_v1",
    errors: ["rule_unknown", "workspace_rules_changed"],
  }),
  builtinRules: route({ method: "POST", path: "/v1/policy/builtin", request: BuiltinSettingsRequest, response: BuiltinSettingsResponse, capability: "policy_v1" }),

  // ---- output streams (§10) ----
  startStream: route({
    method: "POST",
    path: "/v1/streams",
    request: StreamStartRequest,
    response: StreamView,
    capability: "output_streams_v1",
    errors: ["unknown_endpoint", "approval_unknown", "approval_not_approved", "producer_streams_full", "streams_full"],
  }),
  streams: route({ method: "GET", path: "/v1/streams", request: undefined, response: StreamsResponse, capability: "output_streams_v1" }),
  replayStream: route({ method: "GET", path: "/v1/streams/:id", request: undefined, response: ReplayResponse, capability: "output_streams_v1", errors: ["stream_unknown"] }),
  appendChunks: route({
    method: "POST",
    path: "/v1/streams/:id/chunks",
    request: ChunksRequest,
    response: AppendResponse,
    capability: "output_streams_v1",
    errors: ["stream_unknown", "stream_not_producer", "stream_ended", "storage_full", "storage_unavailable"],
  }),
  completeStream: route({
    method: "POST",
    path: "/v1/streams/:id/complete",
    request: CompleteRequest,
    response: StreamView,
    capability: "output_streams_v1",
    errors: ["stream_unknown", "stream_not_producer", "stream_ended"],
  }),
  abortStream: route({
    method: "POST",
    path: "/v1/streams/:id/abort",
    request: AbortRequest,
    response: StreamView,
    capability: "output_streams_v1",
    errors: ["stream_unknown", "stream_not_producer"],
  }),
  cancelStream: route({
    method: "POST",
    path: "/v1/streams/:id/cancel",
    request: ReasonRequest,
    response: StreamView,
    capability: "output_streams_v1",
    errors: ["stream_unknown", "stream_not_cancellable"],
  }),
} as const;

export type RouteName = keyof typeof ROUTES;

/** The parsed body a route's handler receives. */
export type RouteBody<R extends RouteSpec> = R["request"] extends Schema ? v.InferOutput<R["request"]> : unknown;
/** What a route answers with. */
export type RouteAnswer<R extends RouteSpec> = v.InferOutput<R["response"]>;

/** The path of a route with its parameters filled in (percent-encoded). */
export function routePath(spec: Pick<RouteSpec, "path">, params: readonly string[] = []): string {
  let i = 0;
  const path = spec.path.replace(/:\w+/g, () => {
    const p = params[i++];
    if (p === undefined) throw new TypeError(`${spec.path} needs ${i} path parameter(s).`);
    return encodeURIComponent(p);
  });
  if (i !== params.length) throw new TypeError(`${spec.path} takes ${i} path parameter(s), not ${params.length}.`);
  return path;
}

/** The WebSocket routes (all GET upgrades with the token): the per-process stream, the observer feed, a stream's live output. */
export const SOCKETS = {
  stream: { path: "/v1/stream" },
  events: { path: "/v1/events", capability: "observer_feed_v1" },
  live: { path: "/v1/streams/:id/live", capability: "output_streams_v1" },
} as const;

/** The parameters of `path` if it is the path of `spec` (undefined otherwise), still percent-encoded. */
export function matchPath(spec: Pick<RouteSpec, "path">, path: string): string[] | undefined {
  const m = new RegExp(`^${spec.path.replace(/:\w+/g, "([^/]+)")}$`).exec(path);
  return m ? m.slice(1) : undefined;
}
