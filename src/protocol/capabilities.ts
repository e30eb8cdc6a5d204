// Capability names announced in /health and /v1/initialize. MASONS clients turn features on by these flags.

/** Capabilities MASONS also announces; kept with the same names and meaning. */
export const MASONS_CAPABILITIES = {
  endpoint_metadata_v1: true,
  push_receipt_ack_v1: true,
  structured_workspace_v1: true,
  undispatched_inbox_v1: true,
  remote_spawn_v1: false,
  runtime_assignment_reply_v1: false,
  runtime_assignment_claim_v1: false,
  runtime_claim_candidates_v1: false,
  undispatched_presence_v1: false,
} as const;

/** Switchboard additions. A client must check these before using the matching routes. */
export const SWITCHBOARD_CAPABILITIES = {
  switchboard_v1: true,
  endpoint_list_v1: true,
  message_ingress_v1: true,
  dispatch_any_v1: true,
  undispatched_dismiss_v1: true,
  observer_feed_v1: true,
  stream_rebind_v1: true,
  approvals_v1: true,
  output_streams_v1: true,
  /** Binary stream chunk frames on /v1/stream and /v1/streams/:id/live?binary=1. */
  stream_frames_v1: true,
  /** Endpoints may register with `runtime_capabilities.messages_v1: false`; messages to them are refused. */
  endpoint_messages_v1: true,
} as const;

export type CapabilityName = keyof typeof MASONS_CAPABILITIES | keyof typeof SWITCHBOARD_CAPABILITIES;

export function serverCapabilities(): Record<string, boolean> {
  return { ...MASONS_CAPABILITIES, ...SWITCHBOARD_CAPABILITIES };
}

/** The client capability that turns on push_id / push_ack. */
export const PUSH_RECEIPT_ACK = "push_receipt_ack_v1";

/** The runtime capability an endpoint sets to `false` at registration when it takes no messages. */
export const MESSAGES_CAPABILITY = "messages_v1";

/**
 * Whether an endpoint takes messages, from the `runtime_capabilities` it registered with. Only an
 * explicit `{messages_v1: false}` says no: MASONS clients and older Switchboard clients do not declare
 * it, and they all read `message_received` pushes.
 */
export function takesMessages(runtimeCapabilities: unknown): boolean {
  if (!runtimeCapabilities || typeof runtimeCapabilities !== "object" || Array.isArray(runtimeCapabilities)) return true;
  return (runtimeCapabilities as Record<string, unknown>)[MESSAGES_CAPABILITY] !== false;
}
