// `switchboard approvals`: the human side of the loop from a terminal (list, history, show, approve, reject).
import { userInfo } from "node:os";
import { BrokerError } from "../../client/errors.js";
import { approvalOutcome, timedOutText, visibleText, type Approval } from "../../protocol/index.js";
import { CliError, UsageError, api, json, out, type CommandSpec, type Ctx } from "../context.js";
import { ago, preview, shown } from "../format.js";

/** An approval for the approver: every agent-supplied field shown with its hidden characters visible, so what is read is what runs. */
function describeApproval(a: Approval): string {
  const lines = [`${a.approval_id}  ${a.action}  ${a.state}  from ${shown(a.session)} (${shown(a.session_kind)}), ${ago(a.created_at)}`, `  ${shown(a.summary)}`];
  if (a.command) lines.push(`  $ ${shown(a.command)}${a.cwd ? `   (in ${shown(a.cwd)})` : ""}`);
  if (a.state !== "pending") lines.push(`  ${shown(approvalOutcome(a).text)}`);
  if (a.truncated) lines.push(`  (long ${Object.keys(a.truncated).join(" and ")} cut short here; read all of it with: switchboard approvals show ${a.approval_id})`);
  return lines.join("\n");
}

/** One approval with its whole command, detail and diff (listings carry previews of long ones). */
function showApproval(a: Approval): string {
  const lines = [describeApproval({ ...a, truncated: undefined })];
  if (a.detail) lines.push("", "detail:", visibleText(a.detail, { keepLines: true }));
  if (a.diff) lines.push("", "diff:", visibleText(a.diff, { keepLines: true }));
  return lines.join("\n");
}

/** The approval was resolved before this command: say how, by whom and when (the first decision stands). */
function alreadyResolved(a: Approval): CliError {
  const when = a.decided_at ? ` ${ago(a.decided_at)}` : "";
  if (a.state === "expired") return new CliError(`Approval ${a.approval_id} was ${timedOutText(a)}${when}; nothing was changed.`);
  if (a.state === "cancelled") return new CliError(`Approval ${a.approval_id} was withdrawn by its requester${when}; nothing was changed.`);
  // Who decided and why are text from another window or user: one line, control characters made visible.
  const why = a.reason ? ` (reason: ${preview(a.reason, 200)})` : "";
  return new CliError(`Approval ${a.approval_id} was already ${a.state} by ${preview(a.decided_by ?? "someone", 80)}${when}${why}; the first decision stands.`);
}

async function approvals(ctx: Ctx): Promise<number> {
  const [sub = "list", id] = ctx.args;
  const broker = await api(ctx);
  if (sub === "list") {
    const pending = await broker.approvals("pending");
    if (ctx.json) return json(pending);
    if (!pending.length) return (out("No approvals are pending."), 0);
    out(pending.map(describeApproval).join("\n\n"));
    return 0;
  }
  if (sub === "history") {
    const history = await broker.approvalHistory(50);
    if (ctx.json) return json(history);
    out(history.length ? history.map(describeApproval).join("\n\n") : "No approval has been decided yet.");
    return 0;
  }
  if (sub === "show") {
    if (!id) throw new UsageError("Usage: switchboard approvals show ID");
    const full = await broker.approval(id);
    if (ctx.json) return json(full);
    out(showApproval(full));
    return 0;
  }
  if (sub === "approve" || sub === "reject") {
    if (!id) throw new UsageError(`Usage: switchboard approvals ${sub} ID${sub === "reject" ? " [--reason TEXT]" : ""}`);
    // The broker answers a repeat of the winning decision with the recorded result, so look first:
    // this command decides only a pending approval, and says so when it was resolved before.
    const before = await broker.approval(id);
    if (before.state !== "pending") throw alreadyResolved(before);
    const me = `cli:${userInfo().username}`;
    const decided = await broker
      .decide(id, { decision: sub, decided_by: me, ...(typeof ctx.values.reason === "string" ? { reason: ctx.values.reason } : {}) })
      .catch((e: unknown) => {
        const a = e instanceof BrokerError ? (e.extra.approval as Approval | undefined) : undefined;
        throw a ? alreadyResolved(a) : e;
      });
    // Someone else decided the same way between the look and this decision.
    if (decided.decided_by !== me) throw alreadyResolved(decided);
    if (ctx.json) return json(decided);
    out(`${sub === "approve" ? "Approved" : "Rejected"} ${decided.approval_id} (${preview(decided.summary)}).`);
    return 0;
  }
  throw new UsageError(`Unknown approvals command "${sub}"; use list, history, show, approve or reject.`);
}

export const spec: CommandSpec = {
  name: "approvals",
  usage: `  approvals [list|history]         Pending (or decided) approvals
  approvals show ID                One approval with its whole command, detail and diff
  approvals approve ID             Approve a pending request
  approvals reject ID [--reason R] Reject it, telling the agent why`,
  options: { reason: { type: "string" } },
  maxArgs: { list: 0, history: 0, show: 1, approve: 1, reject: 1 },
  run: approvals,
};
