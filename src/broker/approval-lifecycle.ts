// The approval lifecycle as a pure state machine. Only one decision ever wins: once an approval has
// left `pending`, the same decision is answered with the recorded result and a different one is refused.
import type { ApprovalState, Decision } from "../protocol/approvals.js";
import type { ErrorCode } from "../protocol/index.js";
import { timedOutText } from "../protocol/approval-outcome.js";

export type ApprovalEvent = { type: "decide"; decision: Decision } | { type: "withdraw" } | { type: "expire" } | { type: "requester_closed" };

export type ApprovalOutcome =
  | { kind: "changed"; next: Exclude<ApprovalState, "pending"> }
  /** Nothing to do; answer with the approval as it is (idempotent repeat, or a late timer). */
  | { kind: "unchanged" }
  | { kind: "refused"; code: ErrorCode; message: string };

const DECIDED: Record<Decision, ApprovalState> = { approve: "approved", reject: "rejected" };

export function approvalTransition(state: ApprovalState, event: ApprovalEvent): ApprovalOutcome {
  if (state === "pending") {
    switch (event.type) {
      case "decide":
        return { kind: "changed", next: DECIDED[event.decision] as "approved" | "rejected" };
      case "withdraw":
      case "requester_closed":
        return { kind: "changed", next: "cancelled" };
      case "expire":
        return { kind: "changed", next: "expired" };
    }
  }
  switch (event.type) {
    case "decide":
      if (state === "approved" || state === "rejected") {
        return DECIDED[event.decision] === state
          ? { kind: "unchanged" }
          : { kind: "refused", code: "approval_already_decided", message: `This approval was already ${state}; the first decision stands.` };
      }
      return {
        kind: "refused",
        code: state === "expired" ? "approval_expired" : "approval_cancelled",
        message: state === "expired" ? `This approval was ${timedOutText()}.` : "The requester withdrew this approval.",
      };
    case "withdraw":
      return state === "cancelled"
        ? { kind: "unchanged" }
        : {
            kind: "refused",
            code: state === "expired" ? "approval_expired" : "approval_already_decided",
            message: `This approval is already ${state}; it can no longer be withdrawn.`,
          };
    case "expire":
    case "requester_closed":
      return { kind: "unchanged" };
  }
}
