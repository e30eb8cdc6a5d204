// One schema per wire message (valibot, chosen for its small tree-shaken bundles); TypeScript types are
// inferred from them. Request schemas ignore unknown fields so that MASONS clients sending more still work.
import * as v from "valibot";

const pid = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(2 ** 31 - 1));
const text = (min: number, max: number) => v.pipe(v.string(), v.minLength(min), v.maxLength(max));
export const Metadata = v.record(v.string(), v.unknown());
export type Metadata = v.InferOutput<typeof Metadata>;

// ---- discovery ------------------------------------------------------------------------------
export const DiscoveryRecord = v.object({
  version: v.literal(1),
  pid,
  startedAt: v.string(),
  ipcUrl: v.pipe(v.string(), v.regex(/^http:\/\/(127\.0\.0\.1|localhost):\d{1,5}$/, "ipcUrl must be http://127.0.0.1:PORT")),
  bearerToken: v.pipe(v.string(), v.minLength(16)),
  /** Switchboard: the broker's Unix socket in the state folder, which clients prefer over ipcUrl (MASONS clients ignore it). */
  ipcSocket: v.optional(v.pipe(v.string(), v.regex(/^\//, "ipcSocket must be an absolute path"))),
});
export type DiscoveryRecord = v.InferOutput<typeof DiscoveryRecord>;

/** Spawn lock file content. */
export const SpawnLock = v.object({ pid, createdAt: v.string(), nonce: v.optional(v.string()) });
export type SpawnLock = v.InferOutput<typeof SpawnLock>;

// ---- health / initialize -----------------------------------------------------------------------
const Capabilities = v.record(v.string(), v.boolean());

export const HealthResponse = v.looseObject({
  ok: v.boolean(),
  version: v.string(),
  protocol_version: v.string(),
  capabilities: v.optional(Capabilities, {}),
});
export type HealthResponse = v.InferOutput<typeof HealthResponse>;

export const InitializeRequest = v.object({
  client_protocol_version: text(1, 32),
  client_kind: text(1, 64),
  client_version: v.optional(v.pipe(v.string(), v.maxLength(64))),
  capabilities: v.optional(v.unknown()),
});
export type InitializeRequest = v.InferOutput<typeof InitializeRequest>;

export const InitializeResponse = v.looseObject({
  server_version: v.string(),
  server_protocol_version: v.string(),
  server_capabilities: Capabilities,
  session_id: v.string(),
  network_presence: v.picklist(["online", "reconnecting", "offline"]),
  /** Switchboard: problems the user should hear about, e.g. `audit_chain_broken`. */
  warnings: v.optional(v.array(v.looseObject({ code: v.string(), message: v.string() }))),
});
export type BrokerWarning = { code: string; message: string };
export type InitializeResponse = v.InferOutput<typeof InitializeResponse>;

// ---- endpoints ---------------------------------------------------------------------------------
export const StructuredWorkspace = v.object({
  root: text(1, 4096),
  cwd: v.optional(v.pipe(v.string(), v.maxLength(4096))),
  remote: v.optional(v.pipe(v.string(), v.maxLength(4096))),
  branch: v.optional(v.pipe(v.string(), v.maxLength(256))),
});
export const Workspace = v.union([v.pipe(v.string(), v.maxLength(4096)), StructuredWorkspace]);
export type Workspace = v.InferOutput<typeof Workspace>;

export const RegisterRequest = v.object({
  plugin_pid: pid,
  kind: text(1, 64),
  agent_id: v.optional(v.pipe(v.string(), v.maxLength(256))),
  session_name: v.optional(v.pipe(v.string(), v.maxLength(200))),
  workspace: v.optional(v.unknown()), // checked separately: MASONS answers 422 invalid_request for it
  tracking_ref: v.optional(v.pipe(v.string(), v.maxLength(1024))),
  task_hint: v.optional(v.pipe(v.string(), v.maxLength(10_000))),
  runtime_capabilities: v.optional(v.union([v.record(v.string(), v.unknown()), v.array(v.string())])),
  client_kind: v.optional(v.pipe(v.string(), v.maxLength(64))),
  client_version: v.optional(v.pipe(v.string(), v.maxLength(64))),
  started_at: v.optional(v.pipe(v.string(), v.maxLength(64))),
});
export type RegisterRequest = v.InferOutput<typeof RegisterRequest>;

export const RegisterResponse = v.looseObject({ endpoint_id: v.string(), endpoint_owner_token: v.string() });
export type RegisterResponse = v.InferOutput<typeof RegisterResponse>;

export const TaskHintRequest = v.object({ plugin_pid: pid, task_hint: v.pipe(v.string(), v.maxLength(10_000)) });
export const ReattachRequest = v.object({ plugin_pid: pid });
export const ReattachResponse = v.looseObject({ restored: v.boolean(), reconnecting_buffer_count: v.number() });
export type ReattachResponse = v.InferOutput<typeof ReattachResponse>;

export const EndpointState = v.picklist(["active", "reconnecting", "closed"]);
export type EndpointState = v.InferOutput<typeof EndpointState>;

/** An open session as listed by GET /v1/endpoints and the observer feed. */
export const EndpointView = v.object({
  endpoint_id: v.string(),
  kind: v.string(),
  label: v.string(),
  session_name: v.nullable(v.string()),
  workspace: v.nullable(Workspace),
  task_hint: v.nullable(v.string()),
  state: EndpointState,
  plugin_pid: v.number(),
  agent_id: v.nullable(v.string()),
  client_kind: v.nullable(v.string()),
  registered_at: v.string(),
  last_seen_at: v.string(),
  buffered_count: v.number(),
  /** False for an endpoint that registered with `runtime_capabilities.messages_v1: false`; absent from older brokers means true. */
  accepts_messages: v.optional(v.boolean()),
});
export type EndpointView = v.InferOutput<typeof EndpointView>;
export const EndpointsResponse = v.object({ endpoints: v.array(EndpointView) });

// ---- messages ----------------------------------------------------------------------------------
const content = v.pipe(v.string(), v.maxLength(512 * 1024));
const contentType = text(1, 128);

export const SendRequest = v.object({
  endpoint_id: text(1, 128),
  to: text(1, 256),
  content,
  contentType: v.optional(contentType),
  metadata: v.optional(Metadata),
  require_live: v.optional(v.boolean()),
});
export type SendRequest = v.InferOutput<typeof SendRequest>;

/** Where an accepted message went: pushed, buffered for a reconnecting session, or into the inbox. */
export const DeliveryStatus = v.picklist(["delivered", "stored", "undispatched"]);
export type DeliveryStatus = v.InferOutput<typeof DeliveryStatus>;

export const SendResponse = v.looseObject({
  messageId: v.string(),
  status: DeliveryStatus,
  correlation_id: v.optional(v.string()),
  target_endpoint_id: v.optional(v.string()),
  undispatched_id: v.optional(v.string()),
});
export type SendResponse = v.InferOutput<typeof SendResponse>;

export const IngressRequest = v.object({
  from: text(1, 256),
  to: v.optional(text(1, 256)),
  content,
  contentType: v.optional(contentType),
  metadata: v.optional(Metadata),
});
export type IngressRequest = v.InferOutput<typeof IngressRequest>;

export const UndispatchedReason = v.picklist(["unaddressed", "closed_session_continuation", "correlated_continuation"]);
export type UndispatchedReason = v.InferOutput<typeof UndispatchedReason>;

export const UndispatchedItem = v.looseObject({
  id: v.string(),
  source_message_id: v.string(),
  arrived_at: v.string(),
  sender_address: v.string(),
  content: v.string(),
  content_type: v.string(),
  metadata: Metadata,
  reason: UndispatchedReason,
  claim_policy: v.literal("owner_select_required"),
  original_target_endpoint_id: v.optional(v.string()),
  original_correlation_id: v.optional(v.string()),
});
export type UndispatchedItem = v.InferOutput<typeof UndispatchedItem>;
export const UndispatchedResponse = v.object({ items: v.array(UndispatchedItem) });

export const DispatchRequest = v.object({ undispatched_id: text(1, 128), target_endpoint_id: text(1, 128) });
export const DispatchResponse = v.looseObject({
  ok: v.literal(true),
  status: v.optional(DeliveryStatus),
  target_endpoint_id: v.optional(v.string()),
});
export type DispatchResponse = v.InferOutput<typeof DispatchResponse>;
export const DismissRequest = v.object({ reason: v.optional(v.pipe(v.string(), v.maxLength(1000))) });

export const OkResponse = v.looseObject({ ok: v.literal(true) });
