// An ACP gate request asked as a broker approval through the shared wait (adapters/shared/approval-wait.ts:
// pushes, retries through a broker restart, withdrawal on cancel), turned into the verdict the agent's
// options are chosen by (permission.ts). Fails closed: a broker that cannot be reached, or refuses the
// request, is a rejection with a sentence the agent sees.
import type { BrokerClient } from "../../client/client.js";
import { awaitDecision, notRunReason } from "../shared/approval-wait.js";
import type { Decisions } from "../shared/decisions.js";
import type { AcpGateRequest, Verdict } from "./permission.js";

/** How long the broker may stay unreachable while a request waits before the request is refused (as pi and Claude). */
const LOST_GRACE_MS = 15_000;

export interface AskContext {
  client: BrokerClient | undefined;
  /** The session's endpoint; undefined before it is registered. */
  endpointId: string | undefined;
  decisions: Decisions;
  /** Background work (withdrawing a cancelled request) that shutdown waits for. */
  track(p: Promise<unknown>): void;
  log(msg: string): void;
}

export async function askBroker(ctx: AskContext, req: AcpGateRequest, key: string, signal: AbortSignal, created?: (approvalId: string) => void): Promise<Verdict> {
  const { client, endpointId } = ctx;
  if (!client || !endpointId) return { decision: "reject", reason: "Not run: Switchboard is not connected to its broker." };
  const outcome = await awaitDecision({
    client,
    endpointId,
    request: req,
    idempotencyKey: (attempt) => `acp-${process.pid}-${key}${attempt ? `-${attempt}` : ""}`.slice(0, 200),
    lostGraceMs: LOST_GRACE_MS,
    decisions: ctx.decisions,
    signal,
    asked: (a) => created?.(a.approval_id),
    track: ctx.track,
    log: ctx.log,
  });
  switch (outcome.kind) {
    case "approved":
      return { decision: "approve" };
    case "aborted":
      return { decision: "cancelled" };
    case "offline":
      return { decision: "reject", reason: `Not run: Switchboard could not get a decision (${outcome.why}).` };
    default:
      return { decision: "reject", reason: notRunReason(outcome) };
  }
}
