// `switchboard approvals`: the human side of the loop from a terminal (list, history, show, approve, reject).
import { userInfo } from "node:os";
import type { Approval } from "../../protocol/index.js";
import { UsageError, api, json, out, type CommandSpec, type Ctx } from "../context.js";
import { ago, preview, shown } from "../format.js";

/** An approval for the approver: every agent-supplied field shown with its hidden characters visible, so what is read is what runs. */
function describeApproval(a: Approval): string {
  const lines = [`${a.approval_id}  ${a.action}  ${a.state}  from ${shown(a.session)} (${shown(a.session_kind)}), ${ago(a.created_at)}`, `  ${shown(a.summary)}`];
  if (a.command) lines.push(`  $ ${shown(a.command)}${a.cwd ? `   (in ${shown(a.cwd)})` : ""}`);
  if (a.decision) lines.push(`  ${a.decision}d by ${shown(a.decided_by)}${a.reason ? `: ${shown(a.reason)}` : ""}`);
  if (a.truncated) lines.push(`  (long ${Object.keys(a.truncated).join(" and ")} cut short here; read all of it with: switchboard approvals show ${a.approval_id})`);
  return lines.join("\n");
}

/** One approval with its whole command, detail and diff (listings carry previews of long ones). */
function showApproval(a: Approval): string {
  const lines = [describeApproval({ ...a, truncated: undefined })];
  if (a.detail) lines.push("", "detail:", shown(a.detail));
  if (a.diff) lines.push("", "diff:", shown(a.diff));
  return lines.join("\n");
}

async function approvals(ctx: Ctx): Promise<number> {
  const [sub = "list", id] = ctx.args;
  const broker = await api(ctx);
  if (sub === "list") {
    const pending = await broker.approvals("pending");
    if (ctx.json) return json(pending);
    if (!pending.length) return out("No approvals are pending."), 0;
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
    const decided = await broker.decide(id, {
      decision: sub,
      decided_by: `cli:${userInfo().username}`,
      ...(typeof ctx.values.reason === "string" ? { reason: ctx.values.reason } : {}),
    });
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
