// Stable error codes of the wire contract, with their HTTP status. Error bodies are
// {"error": code, "message": sentence, ...extra}, as in MASONS.

export const ERROR_STATUS = {
  // generic
  bad_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  host_forbidden: 403,
  origin_forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  internal_error: 500,
  shutting_down: 503,
  // the state folder cannot take writes (nothing was acknowledged; retryable)
  storage_full: 507,
  storage_read_only: 507,
  storage_unavailable: 503,
  // initialize
  protocol_version_mismatch: 400,
  // endpoints (MASONS names)
  plugin_pid_invalid: 400,
  ipc_channel_missing: 400,
  invalid_request: 422,
  task_hint_invalid: 400,
  ownership_mismatch: 403,
  reattach_pid_mismatch: 403,
  endpoint_unknown: 404,
  endpoint_not_reconnecting: 409,
  // send (MASONS names)
  unknown_endpoint: 404,
  endpoint_not_active: 409,
  correlation_id_forbidden: 400,
  target_endpoint_id_forbidden: 400,
  source_endpoint_id_mismatch: 403,
  // routing and inbox (Switchboard additions)
  recipient_unknown: 404,
  recipient_ambiguous: 409,
  recipient_takes_no_messages: 409,
  inbox_full: 503,
  endpoint_buffer_full: 503,
  // dispatch (MASONS names)
  dispatch_body_invalid: 400,
  dispatch_failed: 400,
  undispatched_unknown: 404,
  // approvals
  approval_unknown: 404,
  approval_already_decided: 409,
  approval_expired: 409,
  approval_cancelled: 409,
  idempotency_key_reused: 409,
  // streams
  stream_unknown: 404,
  stream_not_producer: 403,
  stream_ended: 409,
  stream_not_cancellable: 409,
  approval_not_approved: 409,
  // the approval policy
  rule_invalid: 400,
  rule_unknown: 404,
  workspace_rules_changed: 409,
  // bounds (Switchboard): a documented limit was reached; `limit` says which value, `setting` which variable
  approval_too_large: 413,
  session_approvals_full: 429,
  approvals_full: 429,
  pid_endpoints_full: 429,
  producer_streams_full: 429,
  streams_full: 429,
  connections_full: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: string;
  message: string;
  [extra: string]: unknown;
}

/** An error that carries a wire error code; the broker turns it into an HTTP answer, the client raises it. */
export class ProtocolError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ProtocolError";
    this.status = ERROR_STATUS[code];
  }
  toBody(): ErrorBody {
    return { ...this.extra, error: this.code, message: this.message };
  }
}
