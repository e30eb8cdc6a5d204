// The approval gate on pi's tool calls: every `bash` call asks as `env` when the command is read-only
// (../shared/classify.ts) and as `sh` otherwise; `write` and `edit` ask as `edit` with a unified diff.
// A rejection blocks the tool with the reviewer's reason; without a broker the offline policy decides.
// An approved (or, offline, unsupervised) bash call leaves a grant that the bash tool (bash-tool.ts)
// takes before it runs the command.
import type { ExtensionContext, ToolCallEvent, ToolCallEventResult } from "@mariozechner/pi-coding-agent";
import type { Approval } from "../../protocol/index.js";
import { awaitDecision, notRunReason, type GateOutcome } from "../shared/approval-wait.js";
import { Decisions } from "../shared/decisions.js";
import { bashRequest, fileToolRequest, type GateRequest } from "../shared/requests.js";
import type { PiConnection } from "./connection.js";
import type { PiOffline } from "./offline.js";
import type { PiSession } from "./session.js";

export type Grant = { kind: "approved"; approval: Approval; action: "sh" | "env"; command: string } | { kind: "unsupervised" };

export class PiGate {
  private readonly grants = new Map<string, Grant>();
  /** approval_resolved pushes not yet waited for, and the waits in progress, by approval id. */
  readonly decisions = new Decisions();

  constructor(
    private readonly session: PiSession,
    private readonly conn: PiConnection,
    private readonly offline: PiOffline,
  ) {}

  async onToolCall(event: ToolCallEvent, ctx: ExtensionContext): Promise<ToolCallEventResult | undefined> {
    const name = event.toolName;
    if (name !== "bash" && name !== "write" && name !== "edit") return undefined;
    this.session.log(`tool_call ${name} ${event.toolCallId}`);
    this.session.ctx = ctx;
    const input = event.input as Record<string, unknown>;
    const command = typeof input.command === "string" ? input.command : "";
    const request: GateRequest =
      name === "bash" ? bashRequest(command, ctx.cwd, typeof input.timeout === "number" ? input.timeout : undefined) : await fileToolRequest(name, input, ctx.cwd);
    const outcome = await this.ask(request, event.toolCallId, ctx.signal);
    switch (outcome.kind) {
      case "approved":
        if (name === "bash") this.grants.set(event.toolCallId, { kind: "approved", approval: outcome.approval, action: request.action === "env" ? "env" : "sh", command });
        return undefined;
      case "offline": {
        const verdict = this.offline.verdict(outcome.why);
        if ("block" in verdict) return { block: true, reason: verdict.block };
        if (name === "bash") this.grants.set(event.toolCallId, { kind: "unsupervised" });
        return undefined;
      }
      default:
        return { block: true, reason: notRunReason(outcome) };
    }
  }

  /** The grant for a bash call, taken once. */
  takeGrant(toolCallId: string): Grant | undefined {
    const grant = this.grants.get(toolCallId);
    this.grants.delete(toolCallId);
    return grant;
  }

  forget(toolCallId: string): void {
    this.grants.delete(toolCallId);
  }

  /** Asks and waits for the decision; survives a broker restart (the approval is journaled). */
  private async ask(req: GateRequest, toolCallId: string, signal: AbortSignal | undefined): Promise<GateOutcome> {
    const client = await this.conn.ensureClient(signal);
    if (signal?.aborted) return { kind: "aborted" };
    const endpointId = this.conn.endpointId;
    if (!client || !endpointId) return { kind: "offline", why: this.offline.reason };
    // Already found the broker gone, and it is not back: do not make every call wait again.
    if (this.offline.announced && client.phase !== "connected") return { kind: "offline", why: this.offline.reason };
    return awaitDecision({
      client,
      endpointId,
      request: req,
      idempotencyKey: (attempt) => `pi-${process.pid}-${toolCallId}-${attempt}`,
      timeoutMs: this.session.settings.approvalTimeoutMs,
      lostGraceMs: this.session.options.lostGraceMs ?? 15_000,
      decisions: this.decisions,
      signal,
      track: (p) => this.session.track(p),
      log: (m) => this.session.log(m),
    });
  }
}
