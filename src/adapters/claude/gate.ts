// PreToolUse: one gated tool call raised as a Switchboard approval and waited on until it is decided.
// Approve → `permissionDecision: "allow"` (and a Bash call's output stream opens); reject → "deny"
// with the reviewer's reason; never "ask". No broker, a lost broker, an expired approval or a hook
// that stopped waiting all deny (or allow with SWITCHBOARD_CLAUDE_OFFLINE=allow where the broker is
// unreachable).
import type { BrokerClient } from "../../client/client.js";
import { BrokerError } from "../../client/errors.js";
import type { Approval } from "../../protocol/index.js";
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
  streams: BashStreams;
  log(msg: string): void;
}

const decision = (d: "allow" | "deny", reason: string): HookAnswer => ({
  stdout: { hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: d, permissionDecisionReason: reason } },
});

export function errText(err: unknown): string {
  if (err instanceof BrokerError) return `${err.message} (${err.code})`;
  return (err as Error)?.message ?? String(err);
}

function isUnreachable(err: BrokerError): boolean {
  return ["unknown_endpoint", "endpoint_not_active", "shutting_down", "unauthorized"].includes(err.code);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function waitAbortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener("abort", onAbort), resolve(v)),
      (e: unknown) => (signal.removeEventListener("abort", onAbort), reject(e)),
    );
  });
}

function withdraw(client: BrokerClient, id: string): void {
  void client
    .brokerApi("approvals_v1")
    .then((api) => api.withdrawApproval(id, client.pluginPid))
    .catch(() => {});
}

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
  const timeoutMs = Math.max(1000, Math.round(call.approvalTimeoutMs));
  let approval: Approval | undefined;
  let unreachableSince: number | undefined;
  for (let attempt = 0; ; ) {
    if (signal.aborted) {
      if (approval) withdraw(client, approval.approval_id);
      return decision("deny", "Not run: the hook stopped waiting for the Switchboard approval.");
    }
    try {
      const api = await client.brokerApi("approvals_v1");
      if (!approval) {
        approval = await api.requestApproval({
          endpoint_id: client.resolveEndpointId(endpointId),
          action: request.action,
          summary: request.summary,
          cwd: request.cwd,
          execute: "agent",
          idempotency_key: `claude-${host.sessionId}-${toolUseId}-${attempt}`,
          timeout_ms: timeoutMs,
          ...(request.command !== undefined ? { command: request.command } : {}),
          ...(request.detail !== undefined ? { detail: request.detail } : {}),
          ...(request.diff !== undefined ? { diff: request.diff } : {}),
        });
        host.log(`asked ${approval.approval_id} (${request.action}) for ${toolUseId} in ${Math.round(performance.now() - t0)} ms`);
      } else {
        approval = await waitAbortable(api.approval(approval.approval_id, 25_000), signal);
        if (!approval) continue;
      }
      unreachableSince = undefined;
    } catch (err) {
      if (err instanceof BrokerError && err.code === "approval_unknown") {
        approval = undefined;
        if (++attempt > 3) return decision("deny", `Not run: Switchboard could not ask for approval (${errText(err)}).`);
        continue;
      }
      if (err instanceof BrokerError && !isUnreachable(err)) return decision("deny", `Not run: Switchboard could not ask for approval (${errText(err)}).`);
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > LOST_GRACE_MS) return offline(`lost the broker while waiting for a decision: ${errText(err)}`);
      await sleep(250);
      continue;
    }
    switch (approval.state) {
      case "pending":
        continue;
      case "approved":
        host.log(`${approval.approval_id} approved; answering ${Math.round(performance.now() - t0)} ms after the hook called`);
        if (tool === "Bash") host.streams.start(client, approval, request.action === "env" ? "env" : "sh", String(input.command ?? ""), cwd, toolUseId);
        return decision("allow", `Approved in Switchboard${approval.decided_by ? ` by ${approval.decided_by}` : ""}.`);
      case "rejected":
        return decision("deny", `Rejected in Switchboard${approval.decided_by ? ` by ${approval.decided_by}` : ""}: ${approval.reason?.trim() || "no reason given"}`);
      case "expired":
        return decision("deny", "Not run: nobody decided on this in Switchboard before the approval timed out.");
      case "cancelled":
        approval = undefined;
        if (++attempt > 3) return decision("deny", "Not run: the approval request was cancelled by the broker.");
        continue;
    }
  }
}
