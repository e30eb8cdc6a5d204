// Asking the broker for an approval and waiting for the decision, for a gated agent tool call. It
// survives a broker restart (the approval is journaled): while the broker cannot be reached it keeps
// asking for up to `lostGraceMs`, and only then reports `offline` so that the adapter's offline policy
// applies. An approval the broker lost (`approval_unknown`) or cancelled (our endpoint was closed
// during an outage) is asked for again, at most three times. Aborting withdraws the request.
import type { BrokerClient } from "../../client/client.js";
import { CapabilityMissingError } from "../../client/client-errors.js";
import { BrokerError } from "../../client/errors.js";
import { TIMED_OUT_NOT_RUN, type Approval } from "../../protocol/index.js";
import type { Decisions } from "./decisions.js";
import { errText, isUnreachable } from "./failures.js";
import type { GateRequest } from "./requests.js";
import { sleep } from "./waits.js";

export type GateOutcome =
  | { kind: "approved"; approval: Approval }
  | { kind: "rejected"; approval: Approval }
  | { kind: "expired"; approval: Approval }
  | { kind: "aborted" }
  | { kind: "offline"; why: string }
  | { kind: "failed"; why: string };

/** While waiting for a decision, how often the approval is also fetched (pushes bring it at once). */
const DECISION_POLL_MS = 2000;
const RETRY_ASK = 3;

export interface ApprovalWait {
  client: BrokerClient;
  endpointId: string;
  request: GateRequest;
  /** The request's idempotency key for the `attempt`-th time it is asked (a repeat of one attempt is the same request). */
  idempotencyKey(attempt: number): string;
  /** The approval's own time limit, if the adapter sets one. */
  timeoutMs?: number | undefined;
  /** How long the broker may stay unreachable before the call counts as offline. */
  lostGraceMs: number;
  /** Where this client's approval_resolved pushes arrive. */
  decisions: Decisions;
  signal?: AbortSignal | undefined;
  /** Called with the approval each time it is asked for (before its decision). */
  asked?(approval: Approval): void;
  /** Background work (withdrawing) that shutdown should wait for. */
  track(p: Promise<unknown>): void;
  log(msg: string): void;
}

export async function awaitDecision(w: ApprovalWait): Promise<GateOutcome> {
  const { client, request: req, signal } = w;
  let approval: Approval | undefined;
  let attempt = 0;
  let unreachableSince: number | undefined;
  for (;;) {
    if (signal?.aborted) {
      if (approval) withdraw(w, approval.approval_id);
      return { kind: "aborted" };
    }
    try {
      const api = await client.brokerApi("approvals_v1");
      if (!approval) {
        approval = await api.requestApproval({
          endpoint_id: client.resolveEndpointId(w.endpointId),
          action: req.action,
          summary: req.summary,
          cwd: req.cwd,
          execute: "agent",
          idempotency_key: w.idempotencyKey(attempt),
          ...(req.command !== undefined ? { command: req.command } : {}),
          ...(req.detail !== undefined ? { detail: req.detail } : {}),
          ...(req.diff !== undefined ? { diff: req.diff } : {}),
          ...(req.path !== undefined ? { path: req.path } : {}),
          ...(req.alwaysOffered ? { always_offered: true } : {}),
          ...(w.timeoutMs ? { timeout_ms: w.timeoutMs } : {}),
        });
        w.log(`asked ${approval.approval_id} (${req.action}): ${req.summary}`);
        w.asked?.(approval);
      } else {
        // The decision comes as an approval_resolved push on the client's stream (queued and re-sent
        // by the broker like a message, so also after a reconnect); it may even have come before our
        // request was answered. A plain GET every few seconds covers a push that cannot come, and
        // notices a broker that went away.
        const id = approval.approval_id;
        let next = await w.decisions.next(id, DECISION_POLL_MS, signal);
        if (!next && signal?.aborted) continue;
        next ??= await api.approval(id);
        approval = next;
      }
      unreachableSince = undefined;
    } catch (err) {
      if (err instanceof CapabilityMissingError) return { kind: "offline", why: "the broker has no approvals" };
      if (err instanceof BrokerError && err.code === "approval_unknown") {
        // The broker lost it (its state was reset): ask again.
        approval = undefined;
        if (++attempt > RETRY_ASK) return { kind: "failed", why: errText(err) };
        continue;
      }
      if (!isUnreachable(err) && err instanceof BrokerError) return { kind: "failed", why: errText(err) };
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > w.lostGraceMs) return { kind: "offline", why: `lost the broker while waiting for a decision: ${errText(err)}` };
      await sleep(250, signal);
      continue;
    }
    if (approval.state !== "pending") w.log(`${approval.approval_id} ${approval.state}`);
    switch (approval.state) {
      case "pending":
        continue;
      case "approved":
        return { kind: "approved", approval };
      case "rejected":
        return { kind: "rejected", approval };
      case "expired":
        return { kind: "expired", approval };
      case "cancelled":
        // Not by us (we return right after withdrawing): our endpoint was closed during an outage.
        approval = undefined;
        if (++attempt > RETRY_ASK) return { kind: "failed", why: "the approval request was cancelled by the broker" };
        continue;
    }
  }
}

function withdraw(w: ApprovalWait, approvalId: string): void {
  const client = w.client;
  w.track(client.brokerApi("approvals_v1").then((api) => api.withdrawApproval(approvalId, client.pluginPid)));
}

/** The sentence the agent gets for a call that does not run, for every outcome but `approved` and `offline`. */
export function notRunReason(outcome: Exclude<GateOutcome, { kind: "approved" } | { kind: "offline" }>): string {
  switch (outcome.kind) {
    case "rejected": {
      const a = outcome.approval;
      const by = a.decided_by ? ` by ${a.decided_by}` : "";
      return `Rejected in Switchboard${by}: ${a.reason?.trim() || "no reason given"}`;
    }
    case "expired":
      return TIMED_OUT_NOT_RUN;
    case "aborted":
      return "Not run: stopped while waiting for approval in Switchboard.";
    case "failed":
      return `Not run: Switchboard could not ask for approval (${outcome.why}).`;
  }
}
