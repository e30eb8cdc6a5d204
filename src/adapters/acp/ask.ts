// An ACP gate request asked as a broker approval, waited for until decided, and turned into the
// verdict the agent's options are chosen by (permission.ts). Fails closed: a broker that cannot be
// reached, or refuses the request, is a rejection with a sentence the agent sees.
import type { BrokerClient } from "../../client/client.js";
import { CapabilityMissingError } from "../../client/client-errors.js";
import { TIMED_OUT_NOT_RUN, type Approval, type ApprovalRequest } from "../../protocol/index.js";
import type { Decisions } from "../shared/decisions.js";
import { errText } from "../shared/failures.js";
import type { AcpGateRequest, Verdict } from "./permission.js";

/** While waiting for a decision, how often the approval is also fetched (the push brings it at once). */
const DECISION_POLL_MS = 2000;

export interface AskContext {
  client: BrokerClient | undefined;
  /** The session's endpoint; undefined before it is registered. */
  endpointId: string | undefined;
  decisions: Decisions;
  log(msg: string): void;
}

export async function askBroker(ctx: AskContext, req: AcpGateRequest, key: string, signal: AbortSignal, created?: (approvalId: string) => void): Promise<Verdict> {
  const { client, endpointId } = ctx;
  if (!client || !endpointId) return { decision: "reject", reason: "Not run: Switchboard is not connected to its broker." };
  let approval: Approval | undefined;
  try {
    const api = await client.brokerApi("approvals_v1");
    const body: ApprovalRequest = {
      endpoint_id: client.resolveEndpointId(endpointId),
      action: req.action,
      summary: req.summary,
      cwd: req.cwd,
      execute: "agent",
      idempotency_key: `acp-${process.pid}-${key}`.slice(0, 200),
      ...(req.command !== undefined ? { command: req.command } : {}),
      ...(req.detail !== undefined ? { detail: req.detail } : {}),
      ...(req.diff !== undefined ? { diff: req.diff } : {}),
      ...(req.alwaysOffered ? { always_offered: true } : {}),
    };
    approval = await api.requestApproval(body);
    created?.(approval.approval_id);
    ctx.log(`asked ${approval.approval_id} (${req.action}): ${req.summary}`);
    const id = approval.approval_id;
    while (approval.state === "pending") {
      if (signal.aborted) {
        await api.withdrawApproval(id, client.pluginPid).catch((e: unknown) => ctx.log(`withdraw ${id}: ${errText(e)}`));
        return { decision: "cancelled" };
      }
      let next = await ctx.decisions.next(id, DECISION_POLL_MS, signal);
      if (!next && signal.aborted) continue;
      next ??= await (await client.brokerApi("approvals_v1")).approval(id);
      approval = next;
    }
  } catch (err) {
    if (err instanceof CapabilityMissingError) return { decision: "reject", reason: "Not run: the broker has no approvals." };
    return { decision: "reject", reason: `Not run: Switchboard could not get a decision (${errText(err)}).` };
  }
  return verdictOf(approval);
}

/** A decided approval as the verdict for the agent (pure). */
export function verdictOf(approval: Approval): Verdict {
  switch (approval.state) {
    case "approved":
      return { decision: "approve" };
    case "rejected": {
      const by = approval.decided_by ? ` by ${approval.decided_by}` : "";
      return { decision: "reject", reason: `Rejected in Switchboard${by}: ${approval.reason?.trim() || "no reason given"}` };
    }
    case "expired":
      return { decision: "reject", reason: TIMED_OUT_NOT_RUN };
    default:
      return { decision: "reject", reason: `Not run: the approval was ${approval.state}.` };
  }
}
