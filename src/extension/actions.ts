// What a person can do: approve, reject, route, dismiss, send, reply, stop. Shared by the sidebar,
// the command palette and notifications. Each returns a confirmation sentence or throws an Error whose
// message explains what happened and what to do.
import * as vscode from "vscode";
import { BrokerError } from "../client/index.js";
import { timedOutText, visibleLine, type Approval, type EndpointView, type UndispatchedItem } from "../protocol/index.js";
import type { BrokerLink } from "./broker-link.js";
import type { EditorRunner } from "./editor-exec.js";
import { log } from "./log.js";

export class Actions {
  constructor(
    private readonly sb: BrokerLink,
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

  /**
   * Throws the sentence that says what already happened to a request that is no longer pending
   * ("Already approved by …", "Already rejected by …: reason"), so that a late click (a notification,
   * a second window) never reads as if it had decided anything.
   */
  async assertPending(approvalId: string): Promise<void> {
    if (this.sb.feed?.approvals.has(approvalId)) return; // the feed lists pending approvals only
    const api = await this.sb.api("approvals_v1");
    const a = await explain(api.approval(approvalId));
    if (a.state !== "pending") throw new Error(decidedSentence(a));
  }

  async approve(approvalId: string, decidedBy = this.decider): Promise<string> {
    await this.assertPending(approvalId);
    const api = await this.sb.api("approvals_v1");
    // Marked before asking: the agent may start its stream before our answer comes back.
    this.onApproved(approvalId);
    const decided = await explain(api.decide(approvalId, { decision: "approve", decided_by: decidedBy }));
    // The broker answers a repeated winning decision with the first one: someone else was first.
    if (decided.decided_by !== decidedBy) throw new Error(decidedSentence(decided));
    log().info(`approved ${approvalId} (${decided.action}: ${decided.command ?? decided.summary})`);
    // An editor-executed request runs in the window whose decision won, and only there.
    if (decided.execute === "editor" && decided.decided_by === decidedBy) {
      void this.runner.run(decided).catch((e: Error) => void vscode.window.showErrorMessage(`Could not run the approved command: ${e.message}`));
      return `Approved; running \`${visibleLine(decided.command ?? "", 120)}\` in this window.`;
    }
    return `Approved: ${visibleLine(decided.summary, 120)}`;
  }

  async reject(approvalId: string, reason?: string): Promise<string> {
    await this.assertPending(approvalId);
    const api = await this.sb.api("approvals_v1");
    const decided = await explain(api.decide(approvalId, { decision: "reject", decided_by: this.decider, ...(reason ? { reason } : {}) }));
    if (decided.decided_by !== this.decider) throw new Error(decidedSentence(decided));
    log().info(`rejected ${approvalId}${reason ? `: ${reason}` : ""}`);
    return `Rejected: ${visibleLine(decided.summary, 120)}`;
  }

  async route(itemId: string, endpointId?: string): Promise<string | undefined> {
    const item = this.sb.state().inbox.find((i) => i.id === itemId);
    if (!item) throw new Error("This message is no longer in the inbox; another window may have routed or dismissed it.");
    const target = endpointId ? this.session(endpointId, true) : await this.pickSession(`Route "${preview(item.content)}" to…`);
    if (!target) return undefined;
    const api = await this.sb.api("dispatch_any_v1");
    const res = await explain(api.dispatch(item.id, target.endpoint_id));
    log().info(`routed ${item.id} to ${target.endpoint_id} (${res.status})`);
    // The broker answers "delivered" only once the recipient acknowledged the push.
    const to = visibleLine(target.label, 60);
    if (res.status === "delivered") return `Delivered to ${to}.`;
    return target.state === "reconnecting"
      ? `Routed to ${to}; it will be delivered when that session reconnects.`
      : `Routed to ${to}, which has not confirmed it yet; it stays queued there until it does.`;
  }

  async dismiss(itemId: string): Promise<string> {
    const api = await this.sb.api("undispatched_dismiss_v1");
    await explain(api.dismiss(itemId, `dismissed in ${this.sb.sessionName}`));
    return "Dismissed.";
  }

  async sendTo(endpointId?: string): Promise<string | undefined> {
    const target = endpointId ? this.session(endpointId, true) : await this.pickSession("Send a message to…");
    if (!target) return undefined;
    const text = await vscode.window.showInputBox({
      title: `Message to ${visibleLine(target.label, 60)}`,
      prompt: `Sent to ${visibleLine(target.kind, 30)} session ${visibleLine(target.label, 60)}`,
      ignoreFocusOut: true,
    });
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

  /**
   * Stops a running command through the broker, whoever runs it, so that its stream ends the same way
   * everywhere: cancelled, with the reason, the signal and the duration. (A command this window runs
   * stops when the broker's stream_cancelled comes back; without a broker it is stopped here.)
   */
  async stopStream(streamId: string, why = "stopped"): Promise<string> {
    const reason = `${why} in ${this.sb.sessionName}`;
    const here = "Stopping the command (SIGINT, then SIGTERM, then SIGKILL).";
    try {
      const api = await this.sb.api("output_streams_v1");
      await explain(api.cancelStream(streamId, reason));
    } catch (err) {
      if (this.runner.stop(streamId, reason)) return here;
      throw err;
    }
    return this.runner.isRunning(streamId) ? here : "Asked the agent to stop the command.";
  }

  async showDiff(approvalId: string): Promise<void> {
    const a = this.sb.state().approvals.find((x) => x.approval_id === approvalId);
    if (!a?.diff) throw new Error("This approval has no diff.");
    const doc = await vscode.workspace.openTextDocument({ content: a.diff, language: "diff" });
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  private session(endpointId: string, forMessages = false): EndpointView {
    const s = this.sb.state().sessions.find((e) => e.endpoint_id === endpointId);
    if (!s) throw new Error("That session is no longer open.");
    if (forMessages && s.accepts_messages === false) throw new Error(`${visibleLine(s.label, 60)} takes no messages (it only runs a command); pick another session.`);
    return s;
  }

  /** Open sessions that take messages (`switchboard run` sessions don't), for Route to… and Send. */
  async pickSession(title: string): Promise<EndpointView | undefined> {
    const open = this.sb.state().sessions;
    const sessions = open.filter((s) => s.accepts_messages !== false);
    if (!sessions.length)
      throw new Error(open.length ? "No open session takes messages (command runs don't). Start an agent session first." : "No session is open. Start an agent session first.");
    const self = this.sb.selfEndpointId;
    const picked = await vscode.window.showQuickPick(
      sessions.map((s) => ({
        label: `${kindIcon(s.kind)} ${visibleLine(s.label, 80)}`,
        description: `${visibleLine(s.kind, 40)}${s.state === "reconnecting" ? " · reconnecting" : ""}${s.endpoint_id === self ? " · this window" : ""}`,
        detail: [workspaceOf(s), s.task_hint]
          .filter(Boolean)
          .map((t) => visibleLine(t!, 120))
          .join(" — "),
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

/** What happened to a request that is no longer pending, in one sentence. */
export function decidedSentence(a: Pick<Approval, "state" | "decided_by" | "reason"> & Partial<Pick<Approval, "created_at" | "decided_at">>): string {
  const by = a.decided_by ? ` by ${visibleLine(a.decided_by, 80)}` : "";
  switch (a.state) {
    case "approved":
      return `Already approved${by}.`;
    case "rejected":
      return `Already rejected${by}${a.reason ? `: ${visibleLine(a.reason, 200)}` : ""}.`;
    case "expired":
      return `This request was ${timedOutText(a.created_at ? { created_at: a.created_at, decided_at: a.decided_at ?? null } : undefined)}.`;
    case "cancelled":
      return "The agent withdrew this request.";
    default:
      return `This request is ${a.state}.`;
  }
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
      case "approval_expired":
      case "approval_cancelled":
        throw new Error(a ? decidedSentence(a) : err.message);
      case "dispatch_failed":
        throw new Error(`Could not route it: ${err.message}`);
      default:
        throw new Error(err.message);
    }
  }
}
