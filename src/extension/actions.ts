// What a person can do: approve, reject, route, dismiss, send, reply, stop. Shared by the sidebar,
// the command palette and notifications. Each returns a confirmation sentence or throws an Error whose
// message explains what happened and what to do.
import * as vscode from "vscode";
import { BrokerError } from "../client/index.js";
import { visibleLine, type Approval, type EndpointView, type UndispatchedItem } from "../protocol/index.js";
import type { Switchboard } from "./controller.js";
import type { EditorRunner } from "./editor-exec.js";
import { log } from "./log.js";

export class Actions {
  constructor(
    private readonly sb: Switchboard,
    private readonly runner: EditorRunner,
    private readonly onApproved: (approvalId: string) => void = () => {},
  ) {}

  /** How this window signs its decisions (shown in the audit log and to other windows). */
  get decider(): string {
    return `${this.sb.sessionName} (VS Code, pid ${process.pid})`;
  }

  pendingApprovals(): Approval[] {
    return this.sb.state().approvals;
  }

  async approve(approvalId: string, decidedBy = this.decider): Promise<string> {
    const api = await this.sb.api("approvals_v1");
    // Marked before asking: the agent may start its stream before our answer comes back.
    this.onApproved(approvalId);
    const decided = await explain(api.decide(approvalId, { decision: "approve", decided_by: decidedBy }));
    log().info(`approved ${approvalId} (${decided.action}: ${decided.command ?? decided.summary})`);
    // An editor-executed request runs in the window whose decision won, and only there.
    if (decided.execute === "editor" && decided.decided_by === decidedBy) {
      void this.runner.run(decided).catch((e: Error) => void vscode.window.showErrorMessage(`Could not run the approved command: ${e.message}`));
      return `Approved; running \`${visibleLine(decided.command ?? "", 120)}\` in this window.`;
    }
    return `Approved: ${visibleLine(decided.summary, 120)}`;
  }

  async reject(approvalId: string, reason?: string): Promise<string> {
    const api = await this.sb.api("approvals_v1");
    const decided = await explain(api.decide(approvalId, { decision: "reject", decided_by: this.decider, ...(reason ? { reason } : {}) }));
    log().info(`rejected ${approvalId}${reason ? `: ${reason}` : ""}`);
    return `Rejected: ${visibleLine(decided.summary, 120)}`;
  }

  async route(itemId: string, endpointId?: string): Promise<string | undefined> {
    const item = this.sb.state().inbox.find((i) => i.id === itemId);
    if (!item) throw new Error("This message is no longer in the inbox; another window may have routed or dismissed it.");
    const target = endpointId ? this.session(endpointId) : await this.pickSession(`Route "${preview(item.content)}" to…`);
    if (!target) return undefined;
    const api = await this.sb.api("dispatch_any_v1");
    const res = await explain(api.dispatch(item.id, target.endpoint_id));
    log().info(`routed ${item.id} to ${target.endpoint_id}`);
    return res.status === "delivered" ? `Delivered to ${target.label}.` : `Routed to ${target.label}; it will be delivered when that session reconnects.`;
  }

  async dismiss(itemId: string): Promise<string> {
    const api = await this.sb.api("undispatched_dismiss_v1");
    await explain(api.dismiss(itemId, `dismissed in ${this.sb.sessionName}`));
    return "Dismissed.";
  }

  async sendTo(endpointId?: string): Promise<string | undefined> {
    const target = endpointId ? this.session(endpointId) : await this.pickSession("Send a message to…");
    if (!target) return undefined;
    const text = await vscode.window.showInputBox({ title: `Message to ${visibleLine(target.label, 60)}`, prompt: `Sent to ${visibleLine(target.kind, 30)} session ${visibleLine(target.label, 60)}`, ignoreFocusOut: true });
    if (!text) return undefined;
    const api = await this.sb.api();
    const self = this.sb.selfEndpointId;
    const res = self
      ? await explain(api.send({ endpoint_id: self, to: target.endpoint_id, content: text }))
      : await explain(api.ingress({ from: this.sb.sessionName, to: target.endpoint_id, content: text }));
    return res.status === "delivered" ? `Sent to ${target.label}.` : `Stored for ${target.label} until it reconnects.`;
  }

  async reply(messageId: string): Promise<string | undefined> {
    const m = this.sb.message(messageId);
    if (!m) throw new Error("That message is no longer listed.");
    const self = this.sb.selfEndpointId;
    if (!self) throw new Error("This window is not connected to the broker yet.");
    const text = await vscode.window.showInputBox({ title: `Reply to ${visibleLine(m.from, 60)}`, prompt: preview(m.content, 80), ignoreFocusOut: true });
    if (!text) return undefined;
    const to = m.source_endpoint_id ?? m.from;
    const api = await this.sb.api();
    await explain(api.send({ endpoint_id: self, to, content: text, metadata: { in_reply_to: m.correlation_id ?? m.id } }));
    this.sb.markReplied(messageId);
    return `Replied to ${visibleLine(m.from, 60)}.`;
  }

  async stopStream(streamId: string): Promise<string> {
    if (this.runner.stop(streamId, "stopped from the sidebar")) return "Stopping the command (SIGINT, then SIGTERM, then SIGKILL).";
    const api = await this.sb.api("output_streams_v1");
    await explain(api.cancelStream(streamId, `stopped in ${this.sb.sessionName}`));
    return "Asked the agent to stop the command.";
  }

  async showDiff(approvalId: string): Promise<void> {
    const a = this.sb.state().approvals.find((x) => x.approval_id === approvalId);
    if (!a?.diff) throw new Error("This approval has no diff.");
    const doc = await vscode.workspace.openTextDocument({ content: a.diff, language: "diff" });
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  private session(endpointId: string): EndpointView {
    const s = this.sb.state().sessions.find((e) => e.endpoint_id === endpointId);
    if (!s) throw new Error("That session is no longer open.");
    return s;
  }

  async pickSession(title: string): Promise<EndpointView | undefined> {
    const sessions = this.sb.state().sessions;
    if (!sessions.length) throw new Error("No session is open. Start an agent session first.");
    const self = this.sb.selfEndpointId;
    const picked = await vscode.window.showQuickPick(
      sessions.map((s) => ({
        label: `${kindIcon(s.kind)} ${visibleLine(s.label, 80)}`,
        description: `${visibleLine(s.kind, 40)}${s.state === "reconnecting" ? " · reconnecting" : ""}${s.endpoint_id === self ? " · this window" : ""}`,
        detail: [workspaceOf(s), s.task_hint].filter(Boolean).map((t) => visibleLine(t!, 120)).join(" — "),
        session: s,
      })),
      { title, matchOnDescription: true, matchOnDetail: true, placeHolder: "Open sessions: name, kind and workspace" },
    );
    return picked?.session;
  }

  async pickInboxItem(): Promise<UndispatchedItem | undefined> {
    const inbox = this.sb.state().inbox;
    if (!inbox.length) throw new Error("The inbox is empty.");
    const picked = await vscode.window.showQuickPick(
      inbox.map((i) => ({ label: preview(i.content, 80), description: `from ${visibleLine(i.sender_address, 60)}`, detail: i.reason.replace(/_/g, " "), item: i })),
      { title: "Route an inbox message", matchOnDescription: true },
    );
    return picked?.item;
  }
}

export function kindIcon(kind: string): string {
  return kind === "vscode" ? "$(vscode)" : kind === "pi" ? "$(hubot)" : kind === "cli" ? "$(terminal)" : "$(circle-outline)";
}

function workspaceOf(s: EndpointView): string {
  const w = s.workspace;
  return !w ? "" : typeof w === "string" ? w : (w.cwd ?? w.root);
}

/** One line of agent text with its hidden characters (line breaks too) made visible, cut to `max`. */
export function preview(text: string, max = 40): string {
  return visibleLine(text.trim(), max);
}

/** Turns broker refusals into sentences a person can act on. */
async function explain<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (!(err instanceof BrokerError)) throw err;
    const a = err.extra.approval as Approval | undefined;
    switch (err.code) {
      case "approval_already_decided":
        throw new Error(`Already ${a?.state ?? "decided"}${a?.decided_by ? ` by ${a.decided_by}` : ""}.`);
      case "approval_expired":
        throw new Error("This approval expired before it was decided.");
      case "approval_cancelled":
        throw new Error("The agent withdrew this request.");
      case "dispatch_failed":
        throw new Error(`Could not route it: ${err.message}`);
      default:
        throw new Error(err.message);
    }
  }
}
