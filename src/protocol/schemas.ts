// One schema per wire message (zod); TypeScript types are inferred from them. Request schemas are
// loose (unknown fields are ignored) so that MASONS clients sending more fields still work.
import { z } from "zod";

const pid = z.number().int().positive().max(2 ** 31 - 1);
const shortText = (max: number) => z.string().min(1).max(max);
export const Metadata = z.record(z.string(), z.unknown());
export type Metadata = z.infer<typeof Metadata>;

// ---- discovery ------------------------------------------------------------------------------
export const DiscoveryRecord = z.object({
  version: z.literal(1),
  pid,
  startedAt: z.string(),
  ipcUrl: z.string().regex(/^http:\/\/(127\.0\.0\.1|localhost):\d{1,5}$/, "ipcUrl must be http://127.0.0.1:PORT"),
  bearerToken: z.string().min(16),
});
export type DiscoveryRecord = z.infer<typeof DiscoveryRecord>;

/** Spawn lock file content. */
export const SpawnLock = z.object({ pid, createdAt: z.string(), nonce: z.string().optional() });
export type SpawnLock = z.infer<typeof SpawnLock>;

// ---- health / initialize -----------------------------------------------------------------------
export const HealthResponse = z.looseObject({
  ok: z.boolean(),
  version: z.string(),
  protocol_version: z.string(),
  capabilities: z.record(z.string(), z.boolean()).default({}),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

export const InitializeRequest = z.looseObject({
  client_protocol_version: z.string().min(1),
  client_kind: shortText(64),
  client_version: z.string().max(64).optional(),
  capabilities: z.unknown().optional(),
});
export type InitializeRequest = z.infer<typeof InitializeRequest>;

export const InitializeResponse = z.looseObject({
  server_version: z.string(),
  server_protocol_version: z.string(),
  server_capabilities: z.record(z.string(), z.boolean()),
  session_id: z.string(),
  network_presence: z.enum(["online", "reconnecting", "offline"]),
});
export type InitializeResponse = z.infer<typeof InitializeResponse>;

// ---- endpoints ---------------------------------------------------------------------------------
export const StructuredWorkspace = z.looseObject({
  root: z.string().min(1).max(4096),
  cwd: z.string().max(4096).optional(),
  remote: z.string().max(4096).optional(),
  branch: z.string().max(256).optional(),
});
export const Workspace = z.union([z.string().max(4096), StructuredWorkspace]);
export type Workspace = z.infer<typeof Workspace>;

export const RuntimeCapabilities = z.union([z.record(z.string(), z.unknown()), z.array(z.string())]);

export const RegisterRequest = z.looseObject({
  plugin_pid: pid,
  kind: shortText(64),
  agent_id: z.string().max(256).optional(),
  session_name: z.string().max(200).optional(),
  workspace: z.unknown().optional(), // checked separately: MASONS answers 422 invalid_request for it
  tracking_ref: z.string().max(1024).optional(),
  task_hint: z.string().max(10_000).optional(),
  runtime_capabilities: RuntimeCapabilities.optional(),
  client_kind: z.string().max(64).optional(),
  client_version: z.string().max(64).optional(),
  started_at: z.string().max(64).optional(),
});
export type RegisterRequest = z.infer<typeof RegisterRequest>;

export const RegisterResponse = z.looseObject({
  endpoint_id: z.string(),
  endpoint_owner_token: z.string(),
});
export type RegisterResponse = z.infer<typeof RegisterResponse>;

export const TaskHintRequest = z.looseObject({ plugin_pid: pid, task_hint: z.string().max(10_000) });
export const ReattachRequest = z.looseObject({ plugin_pid: pid });
export const ReattachResponse = z.looseObject({ restored: z.boolean(), reconnecting_buffer_count: z.number() });
export type ReattachResponse = z.infer<typeof ReattachResponse>;

export const EndpointState = z.enum(["active", "reconnecting", "closed"]);
export type EndpointState = z.infer<typeof EndpointState>;

/** An open session as listed by GET /v1/endpoints and the observer feed. */
export const EndpointView = z.object({
  endpoint_id: z.string(),
  kind: z.string(),
  label: z.string(),
  session_name: z.string().nullable(),
  workspace: Workspace.nullable(),
  task_hint: z.string().nullable(),
  state: EndpointState,
  plugin_pid: z.number(),
  agent_id: z.string().nullable(),
  client_kind: z.string().nullable(),
  registered_at: z.string(),
  last_seen_at: z.string(),
  buffered_count: z.number(),
});
export type EndpointView = z.infer<typeof EndpointView>;
export const EndpointsResponse = z.object({ endpoints: z.array(EndpointView) });

// ---- messages ----------------------------------------------------------------------------------
const content = z.string().max(512 * 1024);
const contentType = z.string().min(1).max(128);

export const SendRequest = z.looseObject({
  endpoint_id: z.string().min(1),
  to: z.string().min(1).max(256),
  content,
  contentType: contentType.optional(),
  metadata: Metadata.optional(),
  require_live: z.boolean().optional(),
});
export type SendRequest = z.infer<typeof SendRequest>;

/** Where an accepted message went. */
export const DeliveryStatus = z.enum(["delivered", "stored", "undispatched"]);
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;

export const SendResponse = z.looseObject({
  messageId: z.string(),
  status: DeliveryStatus,
  correlation_id: z.string().optional(),
  target_endpoint_id: z.string().optional(),
  undispatched_id: z.string().optional(),
});
export type SendResponse = z.infer<typeof SendResponse>;

export const IngressRequest = z.looseObject({
  from: z.string().min(1).max(256),
  to: z.string().min(1).max(256).optional(),
  content,
  contentType: contentType.optional(),
  metadata: Metadata.optional(),
});
export type IngressRequest = z.infer<typeof IngressRequest>;
export const IngressResponse = SendResponse;
export type IngressResponse = SendResponse;

export const UndispatchedReason = z.enum(["unaddressed", "closed_session_continuation", "correlated_continuation"]);
export type UndispatchedReason = z.infer<typeof UndispatchedReason>;

export const UndispatchedItem = z.looseObject({
  id: z.string(),
  source_message_id: z.string(),
  arrived_at: z.string(),
  sender_address: z.string(),
  content: z.string(),
  content_type: z.string(),
  metadata: Metadata,
  reason: UndispatchedReason,
  claim_policy: z.literal("owner_select_required"),
  original_target_endpoint_id: z.string().optional(),
  original_correlation_id: z.string().optional(),
});
export type UndispatchedItem = z.infer<typeof UndispatchedItem>;
export const UndispatchedResponse = z.object({ items: z.array(UndispatchedItem) });

export const DispatchRequest = z.looseObject({ undispatched_id: z.string().min(1), target_endpoint_id: z.string().min(1) });
export const DispatchResponse = z.looseObject({ ok: z.literal(true), status: DeliveryStatus.optional(), target_endpoint_id: z.string().optional() });
export type DispatchResponse = z.infer<typeof DispatchResponse>;
export const DismissRequest = z.looseObject({ reason: z.string().max(1000).optional() });

export const OkResponse = z.looseObject({ ok: z.literal(true) });
