// What the user asks for from the sidebar, posted to the extension host: approve, reject (with a
// draft kept across re-renders), route, dismiss, stop, remove a rule… With a busy key, that item's
// buttons are disabled until the host's result arrives (or a timeout). The rendering is App's (app.ts).
import type { Approval } from "../protocol/approvals.js";
import { ruleKey, type RuleView } from "../protocol/policy.js";
import type { EndpointView, UndispatchedItem } from "../protocol/schemas.js";
import type { StreamView } from "../protocol/streams.js";
import type { WebviewToHost, WindowMessage } from "../protocol/webview.js";
import type { Command } from "./chrome.js";
import { newRequestId, type Host, type PersistedUi, type SectionId } from "./vscode.js";

/** How long an action's buttons stay disabled waiting for the host's result. */
const BUSY_TIMEOUT_MS = 20_000;

export abstract class Intents {
  protected readonly busy = new Map<string, string>();
  protected readonly pending = new Map<string, { key: string | null; timer: ReturnType<typeof setTimeout> }>();

  protected constructor(
    protected readonly host: Host,
    protected readonly ui: PersistedUi,
  ) {}

  abstract renderNow(): void;
  protected abstract saveSoon(): void;
  protected abstract itemElement(section: SectionId, key: string): HTMLElement | null;

  /** Posts a request; with a busy key, that item's buttons are disabled until the result (or a timeout). */
  protected request(make: (requestId: string) => WebviewToHost, busyKey: string | null): void {
    const requestId = newRequestId();
    if (busyKey !== null) this.busy.set(busyKey, requestId);
    const timer = setTimeout(() => {
      this.pending.delete(requestId);
      if (busyKey !== null && this.busy.get(busyKey) === requestId) {
        this.busy.delete(busyKey);
        this.renderNow();
      }
    }, BUSY_TIMEOUT_MS);
    this.pending.set(requestId, { key: busyKey, timer });
    this.host.post(make(requestId));
    if (busyKey !== null) this.renderNow();
  }

  protected command(command: Command): void {
    this.host.post({ type: "command", command });
  }

  approve(a: Approval): void {
    if (this.busy.has(`approval:${a.approval_id}`)) return;
    this.request((requestId) => ({ type: "approve", requestId, approvalId: a.approval_id }), `approval:${a.approval_id}`);
  }

  startReject(a: Approval): void {
    if (!Object.hasOwn(this.ui.rejecting, a.approval_id)) this.ui.rejecting[a.approval_id] = "";
    this.saveSoon();
    this.renderNow();
    const tf = this.itemElement("approvals", a.approval_id)?.querySelector<HTMLElement & { updateComplete?: Promise<unknown> }>("vscode-textfield");
    if (tf) void (tf.updateComplete ?? Promise.resolve()).then(() => tf.focus());
  }

  setRejectDraft(a: Approval, text: string): void {
    if (!Object.hasOwn(this.ui.rejecting, a.approval_id)) return;
    this.ui.rejecting[a.approval_id] = text.slice(0, 2000);
    this.saveSoon();
  }

  confirmReject(a: Approval): void {
    const key = `approval:${a.approval_id}`;
    if (this.busy.has(key)) return;
    const reason = (this.ui.rejecting[a.approval_id] ?? "").trim().slice(0, 2000);
    this.request((requestId) => (reason ? { type: "reject", requestId, approvalId: a.approval_id, reason } : { type: "reject", requestId, approvalId: a.approval_id }), key);
  }

  cancelReject(a: Approval): void {
    delete this.ui.rejecting[a.approval_id];
    this.saveSoon();
    this.renderNow();
    // A new vscode-button gets its tabindex when it first renders (a microtask later).
    const btn = this.itemElement("approvals", a.approval_id)?.querySelector<HTMLElement & { updateComplete?: Promise<unknown> }>("vscode-button.reject");
    if (btn) void (btn.updateComplete ?? Promise.resolve()).then(() => btn.focus());
  }

  showDiff(a: Approval): void {
    this.host.post({ type: "showDiff", approvalId: a.approval_id });
  }

  allowForSession(a: Approval): void {
    const key = `approval:${a.approval_id}`;
    if (this.busy.has(key)) return;
    this.request((requestId) => ({ type: "allowForSession", requestId, approvalId: a.approval_id }), key);
  }

  allowSimilar(a: Approval): void {
    this.host.post({ type: "allowSimilar", approvalId: a.approval_id });
  }

  route(item: UndispatchedItem): void {
    this.request((requestId) => ({ type: "route", requestId, itemId: item.id }), null);
  }

  dismiss(item: UndispatchedItem): void {
    if (this.busy.has(`inbox:${item.id}`)) return;
    this.request((requestId) => ({ type: "dismiss", requestId, itemId: item.id }), `inbox:${item.id}`);
  }

  sendTo(ep: EndpointView): void {
    this.request((requestId) => ({ type: "sendTo", requestId, endpointId: ep.endpoint_id }), null);
  }

  openStream(s: StreamView): void {
    this.host.post({ type: "openStream", streamId: s.stream_id });
  }

  stopStream(s: StreamView): void {
    if (this.busy.has(`stream:${s.stream_id}`)) return;
    this.request((requestId) => ({ type: "stopStream", requestId, streamId: s.stream_id }), `stream:${s.stream_id}`);
  }

  reply(m: WindowMessage): void {
    this.request((requestId) => ({ type: "reply", requestId, messageId: m.id }), null);
  }

  removeRule(r: RuleView): void {
    const key = ruleKey(r);
    if (this.busy.has(`rule:${key}`)) return;
    this.request((requestId) => ({ type: "removeRule", requestId, key }), `rule:${key}`);
  }

  openRuleFile(r: RuleView): void {
    this.host.post({ type: "openRuleFile", key: ruleKey(r) });
  }

  acceptWorkspaceRules(root: string): void {
    this.host.post({ type: "acceptWorkspaceRules", root });
  }
}
