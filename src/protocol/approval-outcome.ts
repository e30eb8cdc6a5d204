// What happened to an approval, in words: the one wording the CLI, the sidebar, the extension's
// messages, the broker's refusals and the agents' "not run" replies all use. A request that times
// out is denied, and says so: "denied: timed out after 2 m 0 s with nobody deciding". Pure; callers
// make the people's and agents' text in it (who decided, their reason) safe for where they show it.
import type { Approval } from "./approvals.js";
import { formatDuration } from "./stream-outcome.js";

export type ApprovalEnd = Pick<Approval, "state" | "decided_by" | "reason" | "created_at" | "decided_at">;

/** How long it waited before timing out ("2 m 0 s"), empty when the times are unknown. */
function waited(a: Pick<Approval, "created_at" | "decided_at">): string {
  if (!a.decided_at) return "";
  return formatDuration(Date.parse(a.decided_at) - Date.parse(a.created_at));
}

/** "denied: timed out after 2 m 0 s with nobody deciding" (the duration left out when unknown). */
export function timedOutText(a?: Pick<Approval, "created_at" | "decided_at">): string {
  const after = a ? waited(a) : "";
  return `denied: timed out${after ? ` after ${after}` : ""} with nobody deciding`;
}

/** What an agent is told when its request timed out: it did not run, and why. */
export const TIMED_OUT_NOT_RUN = "Not run: denied because nobody decided on this in Switchboard before the approval timed out.";

/**
 * `text`: "pending"; "approved by rule tests (user rules …)"; "rejected by alice: not now";
 * "denied: timed out after 30 s with nobody deciding"; "withdrawn by the agent". `denied` for every
 * outcome but approval (a withdrawn request did not run either).
 */
export function approvalOutcome(a: ApprovalEnd): { text: string; denied: boolean } {
  const by = a.decided_by ? ` by ${a.decided_by}` : "";
  const why = a.reason ? `: ${a.reason}` : "";
  switch (a.state) {
    case "pending":
      return { text: "pending", denied: false };
    case "approved":
      return { text: `approved${by}${why}`, denied: false };
    case "rejected":
      return { text: `rejected${by}${why}`, denied: true };
    case "expired":
      return { text: timedOutText(a), denied: true };
    case "cancelled":
      return { text: "withdrawn by the agent", denied: true };
  }
}
