// Human-in-the-loop approvals (vocabulary of gizmo's /approvals and ACP's permission requests).
import * as v from "valibot";
import { PartVerdict, PolicyDecision } from "./policy.js";

export const ApprovalAction = v.picklist(["sh", "env", "edit", "tool"]);
export type ApprovalAction = v.InferOutput<typeof ApprovalAction>;
export const ApprovalState = v.picklist(["pending", "approved", "rejected", "expired", "cancelled"]);
export type ApprovalState = v.InferOutput<typeof ApprovalState>;
export const Decision = v.picklist(["approve", "reject"]);
export type Decision = v.InferOutput<typeof Decision>;

const text = (max: number) => v.pipe(v.string(), v.maxLength(max));

/** The policy's verdict as kept on an approval (parts capped at 50). */
export const ApprovalPolicy = v.object({
  decision: PolicyDecision,
  rule: v.nullable(v.string()),
  where: v.nullable(v.string()),
  reason: v.string(),
  parts: v.array(PartVerdict),
});
export type ApprovalPolicy = v.InferOutput<typeof ApprovalPolicy>;

export const ApprovalRequest = v.object({
  endpoint_id: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  action: ApprovalAction,
  summary: v.pipe(v.string(), v.minLength(1), v.maxLength(2000)),
  // Sizes are bounded by the broker's settings (in UTF-8 bytes, `approval_too_large`), not here.
  command: v.optional(v.string()),
  cwd: v.optional(text(4096)),
  detail: v.optional(v.string()),
  diff: v.optional(v.string()),
  /** 0 or absent: no timeout. */
  timeout_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(7 * 24 * 3600 * 1000))),
  execute: v.optional(v.picklist(["agent", "editor"])),
  idempotency_key: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
  /** `edit`: the file's absolute path (or relative to `cwd`), judged by the policy's edit rules. */
  path: v.optional(text(4096)),
  /**
   * The agent offered to allow this "always" (an ACP `allow_always` option). The sidebar then offers
   * "Allow for this session", kept as a Switchboard session rule; the agent is still answered "once".
   */
  always_offered: v.optional(v.boolean()),
});
export type ApprovalRequest = v.InferOutput<typeof ApprovalRequest>;

export const DecisionRequest = v.object({
  decision: Decision,
  reason: v.optional(text(2000)),
  decided_by: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
});
export type DecisionRequest = v.InferOutput<typeof DecisionRequest>;

export const Approval = v.object({
  approval_id: v.string(),
  endpoint_id: v.string(),
  session: v.string(),
  session_kind: v.string(),
  action: ApprovalAction,
  summary: v.string(),
  command: v.nullable(v.string()),
  cwd: v.nullable(v.string()),
  detail: v.nullable(v.string()),
  diff: v.nullable(v.string()),
  execute: v.picklist(["agent", "editor"]),
  idempotency_key: v.nullable(v.string()),
  state: ApprovalState,
  created_at: v.string(),
  expires_at: v.nullable(v.string()),
  decided_at: v.nullable(v.string()),
  decision: v.nullable(Decision),
  reason: v.nullable(v.string()),
  decided_by: v.nullable(v.string()),
  /** The output stream started for this approval, once there is one. */
  stream_id: v.nullable(v.string()),
  /** `edit`: the file it changes. */
  path: v.optional(v.nullable(v.string())),
  /** How the approval policy judged it (section 11): the rule that decided it, or why a person is asked. */
  policy: v.optional(v.nullable(ApprovalPolicy)),
  /** The agent offered to allow it "always" (see ApprovalRequest). */
  always_offered: v.optional(v.boolean()),
  /**
   * Present on a preview (listings, observer snapshots and changes, pushes): the fields that were cut
   * to APPROVAL_PREVIEW_BYTES, each with its full size in UTF-8 bytes. `GET /v1/approvals/:id` has the full text.
   */
  truncated: v.optional(v.record(v.picklist(["command", "detail", "diff"]), v.number())),
});
export type Approval = v.InferOutput<typeof Approval>;

/** How much of a long command, detail or diff a preview carries. */
export const APPROVAL_PREVIEW_BYTES = 4096;

export const ApprovalsResponse = v.object({ approvals: v.array(Approval) });

/** One audit record; `hash` = sha256(prev + canonical JSON of the record without `hash`). */
export const AuditRecord = v.object({
  seq: v.number(),
  at: v.string(),
  approval_id: v.string(),
  endpoint_id: v.string(),
  session: v.string(),
  action: ApprovalAction,
  summary: v.string(),
  command: v.nullable(v.string()),
  cwd: v.nullable(v.string()),
  outcome: v.picklist(["approved", "rejected", "expired", "cancelled"]),
  reason: v.nullable(v.string()),
  decided_by: v.nullable(v.string()),
  prev: v.string(),
  hash: v.string(),
});
export type AuditRecord = v.InferOutput<typeof AuditRecord>;
export const AuditResponse = v.object({ records: v.array(v.unknown()), next: v.nullable(v.number()), head: v.string() });
