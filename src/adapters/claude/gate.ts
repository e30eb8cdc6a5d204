// PreToolUse: one gated tool call raised as a Switchboard approval and waited on until it is decided
// (adapters/shared/approval-wait.ts, as for pi). Approve → `permissionDecision: "allow"` (and a Bash
// call's output stream opens); reject → "deny" with the reviewer's reason; never "ask". No broker, a
// lost broker, an expired approval or a hook that stopped waiting all deny (or allow with
// SWITCHBOARD_CLAUDE_OFFLINE=allow where the broker is unreachable).
import type { BrokerClient } from "../../client/client.js";
import { awaitDecision, notRunReason } from "../shared/approval-wait.js";
import type { Decisions } from "../shared/decisions.js";
import { offlineDenial } from "../shared/offline.js";
import type { BashStreams } from "./bash-streams.js";
import type { HookAnswer, HookCall } from "./protocol.js";
import { isGatedTool, toolRequest } from "./requests.js";

/** How long a lost broker may stay lost while an approval is pending. */
const LOST_GRACE_MS = 15_000;

export interface GateHost {
  sessionId: string;
  cwd: string;
  /** Connected, or one bounded attempt; undefined with the reason in lastConnectError(). */
  ensureClient(): Promise<BrokerClient | undefined>;
  endpointId(): string | undefined;
  lastConnectError(): string;
  /** Where the client's approval_resolved pushes arrive. */
  decisions: Decisions;
  streams: BashStreams;
  log(msg: string): void;
}

const decision = (d: "allow" | "deny", reason: string): HookAnswer => ({
  stdout: { hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: d, permissionDecisionReason: reason } },
});

/** The hook's answer for a PreToolUse event (empty for tools Switchboard does not gate). */
export async function gate(host: GateHost, call: HookCall, signal: AbortSignal): Promise<HookAnswer> {
  const e = call.event;
  const tool = e.tool_name;
  if (!isGatedTool(tool)) return {};
  const input = (e.tool_input && typeof e.tool_input === "object" ? e.tool_input : {}) as Record<string, unknown>;
  const cwd = typeof e.cwd === "string" && e.cwd ? e.cwd : host.cwd;
  const toolUseId = typeof e.tool_use_id === "string" ? e.tool_use_id : `t${Date.now()}`;
  const offline = (why: string): HookAnswer =>
    call.offline === "allow"
      ? decision("allow", `Switchboard is offline (${why}); running unreviewed because SWITCHBOARD_CLAUDE_OFFLINE=allow.`)
      : decision("deny", offlineDenial(why, "SWITCHBOARD_CLAUDE_OFFLINE"));

  const t0 = performance.now();
  const request = await toolRequest(tool, input, cwd);
  const client = await host.ensureClient();
  const endpointId = host.endpointId();
  if (!client || !endpointId) return offline(host.lastConnectError());
  const outcome = await awaitDecision({
    client,
    endpointId,
    request,
    idempotencyKey: (attempt) => `claude-${host.sessionId}-${toolUseId}-${attempt}`,
    timeoutMs: Math.max(1000, Math.round(call.approvalTimeoutMs)),
    lostGraceMs: LOST_GRACE_MS,
    decisions: host.decisions,
    signal,
    track: (p) => void p.catch(() => {}),
    log: host.log,
  });
  switch (outcome.kind) {
    case "approved": {
      const a = outcome.approval;
      host.log(`${a.approval_id} approved; answering ${Math.round(performance.now() - t0)} ms after the hook called`);
      // Before Claude hears "allow": the stream (and the look for the command's output file) starts first.
      if (tool === "Bash") host.streams.start(client, a, request.action === "env" ? "env" : "sh", String(input.command ?? ""), cwd, toolUseId);
      return decision("allow", `Approved in Switchboard${a.decided_by ? ` by ${a.decided_by}` : ""}.`);
    }
    case "offline":
      return offline(outcome.why);
    default:
      return decision("deny", notRunReason(outcome));
  }
}
