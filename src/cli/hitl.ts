// `switchboard approvals`, `switchboard streams` and `switchboard audit`: the human side of the loop
// from a terminal.
import { readFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { followStream } from "../client/follow.js";
import { parseAuditLines, verifyChain } from "../platform/audit-chain.js";
import { streamOutcome, type Approval, type StreamEnd } from "../protocol/index.js";
import { CliError, UsageError, api, connect, json, out, type Command } from "./context.js";
import { ago, preview, table } from "./format.js";

/** How a stream ended: the same words as the terminal footer and the sidebar (protocol/stream-outcome.ts). */
export function streamStatus(s: StreamEnd): string {
  return streamOutcome(s).text;
}

function describeApproval(a: Approval): string {
  const lines = [`${a.approval_id}  ${a.action}  ${a.state}  from ${a.session} (${a.session_kind}), ${ago(a.created_at)}`, `  ${a.summary}`];
  if (a.command) lines.push(`  $ ${a.command}${a.cwd ? `   (in ${a.cwd})` : ""}`);
  if (a.decision) lines.push(`  ${a.decision}d by ${a.decided_by}${a.reason ? `: ${a.reason}` : ""}`);
  return lines.join("\n");
}

const approvals: Command = async (ctx) => {
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
  if (sub === "approve" || sub === "reject") {
    if (!id) throw new UsageError(`Usage: switchboard approvals ${sub} ID${sub === "reject" ? " [--reason TEXT]" : ""}`);
    const decided = await broker.decide(id, {
      decision: sub,
      decided_by: `cli:${userInfo().username}`,
      ...(typeof ctx.values.reason === "string" ? { reason: ctx.values.reason } : {}),
    });
    if (ctx.json) return json(decided);
    out(`${sub === "approve" ? "Approved" : "Rejected"} ${decided.approval_id} (${decided.summary}).`);
    return 0;
  }
  throw new UsageError(`Unknown approvals command "${sub}"; use list, history, approve or reject.`);
};

const streams: Command = async (ctx) => {
  const [sub = "list", id] = ctx.args;
  if (sub === "list") {
    const all = await (await api(ctx)).streams();
    if (ctx.json) return json(all);
    if (!all.length) return out("No output streams yet. Run a command with: switchboard run -- CMD"), 0;
    out(table(all.map((s) => [s.stream_id, s.action, streamStatus(s), s.session, ago(s.created_at), preview(s.command, 50)]), ["ID", "ACTION", "STATUS", "SESSION", "STARTED", "COMMAND"]));
    return 0;
  }
  if (sub !== "show" && sub !== "cancel") throw new UsageError(`Unknown streams command "${sub}"; use list, show or cancel.`);
  if (!id) throw new UsageError(`Usage: switchboard streams ${sub} ID`);
  if (sub === "show") {
    const found = await connect(ctx);
    if (ctx.json) return json(await (await api(ctx)).replayStream(id));
    // Replays everything, then follows until the stream ends; stdout and stderr go to ours.
    const following = followStream(found.record, id, {
      onChunk: (channel, data) => (channel === 2 ? process.stderr : process.stdout).write(data),
    });
    // An unknown stream or a lost connection is a sentence, not a stack trace.
    const end = await following.done.catch((e: Error) => Promise.reject(new CliError(e.message)));
    process.stderr.write(`[${streamStatus(end)}]\n`);
    return 0;
  }
  // cancel
  const s = await (await api(ctx)).cancelStream(id, typeof ctx.values.reason === "string" ? ctx.values.reason : "cancelled from the CLI");
  if (ctx.json) return json(s);
  out(`Stream ${id} is ${streamStatus(s)}.`);
  return 0;
};

const audit: Command = async (ctx) => {
  const [sub = "verify"] = ctx.args;
  if (sub !== "verify" && sub !== "list") throw new UsageError(`Unknown audit command "${sub}"; use verify or list.`);
  const file = typeof ctx.values.file === "string" ? ctx.values.file : undefined;
  const records = file ? parseAuditLines(await readFile(file, "utf8").catch((e: Error) => Promise.reject(new CliError(`Cannot read ${file}: ${e.message}`)))) : (await (await api(ctx)).audit()).records;
  if (sub === "list") {
    if (ctx.json) return json(records);
    out(records.map((r) => JSON.stringify(r)).join("\n") || "The audit log is empty.");
    return 0;
  }
  const check = verifyChain(records);
  if (ctx.json) json(check);
  else if (check.ok) out(`The audit log is intact: ${check.count} record${check.count === 1 ? "" : "s"}, head ${check.head.slice(0, 16)}….`);
  else out(`The audit log is broken at record ${check.index + 1} (seq ${JSON.stringify(check.seq)}): it ${check.problem}.`);
  return check.ok ? 0 : 1;
};

export const HITL_COMMANDS: Record<string, Command> = { approvals, streams, audit };
