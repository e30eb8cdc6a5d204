// Templates for one item of each list. Every piece of agent-supplied text goes through a lit text or
// attribute binding (textContent / setAttribute): never innerHTML, never unsafeHTML.
import { html, nothing, type TemplateResult } from "lit";
import { live } from "lit/directives/live.js";
import type { Approval } from "../protocol/approvals.js";
import type { EndpointView, UndispatchedItem } from "../protocol/schemas.js";
import { sessionRepeatsCommand } from "../protocol/naming.js";
import type { StreamView } from "../protocol/streams.js";
import type { WindowMessage } from "../protocol/webview.js";
import {
  absoluteTime,
  actionInfo,
  approvalSubject,
  classifyDiffLine,
  diffLines,
  expiresIn,
  inboxReason,
  breakPoints,
  foldCommand,
  isLong,
  kindIcon,
  plural,
  previewText,
  relativeAge,
  sessionState,
  shortLabel,
  squashSpace,
  streamStatus,
  workspaceText,
} from "./format.js";

/** Diff lines shown while a diff is folded, and at most when it is unfolded (the rest: "Open diff"). */
export const DIFF_FOLDED_LINES = 12;
export const DIFF_MAX_LINES = 2000;
/** A command is folded to this many lines (the CSS clamps wrapped lines to the same number). */
export const COMMAND_FOLDED_LINES = 4;

export interface ItemContext {
  readonly nowMs: number;
  readonly selfId: string | null;
  /** Showing the last known state until the live one arrives: buttons are disabled. */
  readonly readOnly: boolean;
  isExpanded(key: string): boolean;
  toggleExpanded(key: string): void;
  isBusy(key: string): boolean;
  rejectDraft(approvalId: string): string | undefined;
  approve(a: Approval): void;
  startReject(a: Approval): void;
  setRejectDraft(a: Approval, text: string): void;
  confirmReject(a: Approval): void;
  cancelReject(a: Approval): void;
  showDiff(a: Approval): void;
  allowSimilar(a: Approval): void;
  route(item: UndispatchedItem): void;
  dismiss(item: UndispatchedItem): void;
  sendTo(ep: EndpointView): void;
  openStream(s: StreamView): void;
  stopStream(s: StreamView): void;
  reply(m: WindowMessage): void;
}

/** An id usable in id/aria-controls attributes whatever characters the agent's id has. */
export function domId(prefix: string, id: string): string {
  return `${prefix}-${id.replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.charCodeAt(0).toString(16)}`)}`;
}

const icon = (name: string, extra = "") => html`<span class="codicon codicon-${name} ${extra}" aria-hidden="true"></span>`;

/**
 * A button's icon as a codicon in its slot, styled by the page's own codicon rules (the button's
 * `icon` attribute would load the codicon style sheet again into every button's shadow root, each a
 * fetch that holds up the page's load event and so the moment VS Code shows the view).
 */
export const buttonIcon = (name: string) => html`<span class="codicon codicon-${name} button-icon" aria-hidden="true"></span>`;

/** Text with <wbr> break opportunities after separators (text bindings only: still rendered as text). */
function breakable(text: string): TemplateResult[] | string {
  const parts = breakPoints(text);
  return parts.length === 1 ? text : parts.map((p) => html`${p}<wbr>`);
}

function age(iso: string, nowMs: number, prefix = ""): TemplateResult {
  return html`<time class="age" datetime=${iso} title=${absoluteTime(iso)}>${prefix}${relativeAge(iso, nowMs)}</time>`;
}

/** Folded text with a "Show more" toggle; unfolded shows the full text, preserving line breaks. */
function expandableText(key: string, idPrefix: string, id: string, text: string, ctx: ItemContext, what: string): TemplateResult {
  const long = isLong(text);
  const open = long && ctx.isExpanded(key);
  const contentId = domId(idPrefix, id);
  return html`<div class="content ${open ? "expanded" : long ? "folded" : "short"}" id=${contentId} @click=${long && !open ? () => ctx.toggleExpanded(key) : null}>${open ? text : long ? previewText(text) : text}</div>
    ${
      long
        ? html`<button class="link-btn" aria-expanded=${open ? "true" : "false"} aria-controls=${contentId} aria-label=${`${open ? "Show less" : "Show all"} of ${what}`} @click=${() => ctx.toggleExpanded(key)}>
          ${icon(open ? "chevron-up" : "chevron-down")}${open ? "Show less" : "Show more"}
        </button>`
        : nothing
    }`;
}

// ---- approvals ---------------------------------------------------------------------------------

export function approvalItem(a: Approval, ctx: ItemContext): TemplateResult {
  const info = actionInfo(a.action);
  const subject = approvalSubject(a);
  const from = a.session || a.endpoint_id;
  const busy = ctx.isBusy(`approval:${a.approval_id}`);
  const draft = ctx.rejectDraft(a.approval_id);
  const expires = expiresIn(a.expires_at, ctx.nowMs);
  return html`<article class="card approval action-${info.label}" tabindex="-1" data-id=${a.approval_id} aria-label=${`Approval: ${info.label} ${subject} from ${from}`}>
    <div class="card-head">
      <span class="action-badge action-${info.label}" title=${info.title}>${icon(info.icon)}<span>${info.label}</span></span>
      <span class="session-name" title=${from}>${from}</span>
      ${a.session_kind ? html`<span class="session-kind">${a.session_kind}</span>` : nothing}
      ${age(a.created_at, ctx.nowMs)}
    </div>
    ${sameText(a.summary, a.command) ? nothing : html`<p class="summary">${a.summary}</p>`}
    ${a.command !== null && a.command !== "" ? commandBlock(a.approval_id, a.command, ctx) : nothing}
    ${a.cwd ? html`<div class="path-line" title=${a.cwd}>${icon("folder")}<span class="path">${a.cwd}</span></div>` : nothing}
    ${a.detail ? expandableText(`detail:${a.approval_id}`, "detail", a.approval_id, a.detail, ctx, "the details") : nothing}
    ${a.diff ? diffBlock(a, subject, ctx) : nothing}
    ${a.policy && a.policy.decision === "ask" ? html`<div class="policy-line" title="How the approval rules judged it">${icon("law")}<span>${a.policy.reason}</span></div>` : nothing}
    ${
      a.execute === "editor" || expires
        ? html`<div class="meta">
          ${a.execute === "editor" ? html`<span>${icon("terminal")}Runs in this window's terminal</span>` : nothing}
          ${expires ? html`<span class="expires">${icon("clock")}${expires}</span>` : nothing}
        </div>`
        : nothing
    }
    ${
      draft === undefined
        ? html`<div class="actions">
          <vscode-button class="approve" ?disabled=${busy} aria-label=${`Approve ${subject} from ${from}`} @click=${() => ctx.approve(a)}>${buttonIcon("check")}${busy && !ctx.readOnly ? "Sending…" : "Approve"}</vscode-button>
          <vscode-button class="reject" secondary ?disabled=${busy} aria-label=${`Reject ${subject} from ${from}`} @click=${() => ctx.startReject(a)}>${buttonIcon("close")}Reject…</vscode-button>
          ${a.action !== "tool" ? html`<vscode-button class="allow-similar" secondary ?disabled=${busy} aria-label=${`Allow requests similar to ${subject}…`} @click=${() => ctx.allowSimilar(a)}>Allow similar…</vscode-button>` : nothing}
        </div>`
        : html`<div class="reject-form" role="group" aria-label=${`Reject ${subject} from ${from}`}>
          <span class="field-label" aria-hidden="true">Why reject it? The agent is told (optional).</span>
          <vscode-textfield
            class="reason"
            label=${`Reason for rejecting ${subject} (optional)`}
            placeholder="Reason (optional)"
            maxlength="2000"
            .value=${live(draft)}
            @input=${(e: Event) => ctx.setRejectDraft(a, (e.currentTarget as HTMLInputElement).value)}
            @keydown=${(e: KeyboardEvent) => {
              if (e.key === "Enter" && !e.isComposing) {
                e.preventDefault();
                ctx.setRejectDraft(a, (e.currentTarget as HTMLInputElement).value);
                ctx.confirmReject(a);
              } else if (e.key === "Escape") {
                e.preventDefault();
                e.stopPropagation();
                ctx.cancelReject(a);
              }
            }}
          ></vscode-textfield>
          <div class="actions">
            <vscode-button class="confirm-reject" ?disabled=${busy} aria-label=${`Confirm: reject ${subject}`} @click=${() => ctx.confirmReject(a)}>Reject</vscode-button>
            <vscode-button class="cancel-reject" secondary aria-label="Cancel rejecting" @click=${() => ctx.cancelReject(a)}>Cancel</vscode-button>
          </div>
          <div class="hint">Enter rejects, Escape cancels</div>
        </div>`
    }
  </article>`;
}

/** A summary that only repeats the command (`switchboard run` without --summary) is not shown twice. */
function sameText(summary: string, command: string | null): boolean {
  return command !== null && squashSpace(summary) === squashSpace(command);
}

/**
 * The command, folded to a few lines with a "Show all" toggle when longer. It wraps at spaces and
 * after separators (/ = & , ; |), breaking inside a word only when one word is wider than the card.
 */
function commandBlock(approvalId: string, command: string, ctx: ItemContext): TemplateResult {
  const key = `cmd:${approvalId}`;
  const { folded, lines } = foldCommand(command, COMMAND_FOLDED_LINES);
  const open = folded !== null && ctx.isExpanded(key);
  const id = domId("cmd", approvalId);
  return html`<pre class="command ${folded !== null && !open ? "folded" : ""}" id=${id} aria-label="Command"><code>${breakable(open || folded === null ? command : folded)}</code></pre>
    ${
      folded !== null
        ? html`<button class="link-btn show-all" aria-expanded=${open ? "true" : "false"} aria-controls=${id} aria-label=${open ? "Show less of the command" : "Show all of the command"} @click=${() => ctx.toggleExpanded(key)}>
          ${icon(open ? "chevron-up" : "chevron-down")}${open ? "Show less" : lines > COMMAND_FOLDED_LINES ? `Show all ${lines} lines` : "Show all"}
        </button>`
        : nothing
    }`;
}

function diffBlock(a: Approval, subject: string, ctx: ItemContext): TemplateResult {
  const key = `diff:${a.approval_id}`;
  const open = ctx.isExpanded(key);
  const { lines, total } = diffLines(a.diff ?? "", open ? DIFF_MAX_LINES : DIFF_FOLDED_LINES);
  const id = domId("diff", a.approval_id);
  let added = 0;
  let removed = 0;
  if (total <= DIFF_MAX_LINES) {
    for (const l of (a.diff ?? "").split("\n")) {
      const k = classifyDiffLine(l);
      if (k === "add") added++;
      else if (k === "del") removed++;
    }
  }
  return html`<div class="diff" role="group" aria-label=${`Proposed changes, ${plural(total, "line")}`}>
    <div class="diff-lines ${open ? "open" : ""}" id=${id}>${lines.map((l) => html`<div class="dl dl-${classifyDiffLine(l)}">${l === "" ? " " : l}</div>`)}</div>
    ${open && total > lines.length ? html`<div class="hint">${plural(total - lines.length, "more line")}: open the diff to see them.</div>` : nothing}
    <div class="diff-actions">
      ${
        total > DIFF_FOLDED_LINES
          ? html`<button class="link-btn" aria-expanded=${open ? "true" : "false"} aria-controls=${id} @click=${() => ctx.toggleExpanded(key)}>
            ${icon(open ? "chevron-up" : "chevron-down")}${open ? "Show less" : `Show all ${total} lines`}
          </button>`
          : nothing
      }
      ${added || removed ? html`<span class="diff-stat"><span class="plus">+${added}</span> <span class="minus">−${removed}</span></span>` : nothing}
      <vscode-button class="open-diff" secondary aria-label=${`Open diff of ${subject}`} @click=${() => ctx.showDiff(a)}>${buttonIcon("diff")}Open diff</vscode-button>
    </div>
  </div>`;
}

// ---- inbox -------------------------------------------------------------------------------------

export function inboxItem(item: UndispatchedItem, ctx: ItemContext): TemplateResult {
  const busy = ctx.isBusy(`inbox:${item.id}`);
  const sender = item.sender_address || "unknown sender";
  return html`<article class="card inbox-item" tabindex="-1" data-id=${item.id} aria-label=${`Message from ${sender}`}>
    <div class="card-head">
      ${icon("mail")}
      <span class="sender" title=${sender}>${sender}</span>
      ${age(item.arrived_at, ctx.nowMs)}
    </div>
    <div class="reason">${inboxReason(item.reason)}${item.content_type && item.content_type !== "text/plain" && item.content_type !== "text" ? html` · <span class="ctype">${item.content_type}</span>` : nothing}</div>
    ${expandableText(`inbox:${item.id}`, "inbox", item.id, item.content, ctx, `the message from ${sender}`)}
    <div class="actions">
      <vscode-button class="route" ?disabled=${busy} aria-label=${`Route the message from ${sender} to a session…`} @click=${() => ctx.route(item)}>Route to…</vscode-button>
      <vscode-button class="dismiss" secondary ?disabled=${busy} aria-label=${`Dismiss the message from ${sender}`} @click=${() => ctx.dismiss(item)}>Dismiss</vscode-button>
    </div>
  </article>`;
}

// ---- sessions ----------------------------------------------------------------------------------

export function sessionItem(ep: EndpointView, ctx: ItemContext): TemplateResult {
  const self = ep.endpoint_id === ctx.selfId;
  const ws = workspaceText(ep.workspace);
  const label = ep.label || ep.session_name || ep.endpoint_id;
  const state = sessionState(ep.state);
  return html`<article class="card session state-${ep.state} ${self ? "self" : ""}" tabindex="-1" data-id=${ep.endpoint_id}
      aria-label=${`Session ${label}, ${ep.kind}, ${state.text}${self ? ", this window" : ""}`}>
    <div class="card-head">
      <span class="kind-icon" title=${`kind: ${ep.kind}`}>${icon(kindIcon(ep.kind))}</span>
      <span class="session-label" title=${label}>${label}</span>
    </div>
    <div class="meta">
      <span class="session-state state-${ep.state}">${icon(state.icon, ep.state === "reconnecting" ? "codicon-modifier-spin" : "")}${state.text}</span>
      ${self ? html`<span class="self-tag" title="This VS Code window">this window</span>` : nothing}
      <span class="kind">${ep.kind}</span>
      ${ep.session_name && ep.session_name !== label ? html`<span>${ep.session_name}</span>` : nothing}
      ${ep.state === "active" ? nothing : html`<span>${age(ep.last_seen_at, ctx.nowMs, "seen ")}</span>`}
      ${ep.buffered_count > 0 ? html`<span class="buffered">${icon("mail")}${plural(ep.buffered_count, "message")} waiting</span>` : nothing}
    </div>
    ${
      ws
        ? html`<div class="path-line" title=${ws.path}>${icon("folder")}<span class="path">${ws.path}</span>${ws.branch ? html`<span class="branch">${icon("git-branch")}${ws.branch}</span>` : nothing}</div>`
        : nothing
    }
    ${ep.task_hint ? html`<div class="task" title=${ep.task_hint.slice(0, 500)}>${icon("tasklist")}<span>${previewText(ep.task_hint, 200)}</span></div>` : nothing}
    ${
      self || ep.accepts_messages === false // (a command run takes no messages)
        ? nothing
        : html`<div class="actions">
          <vscode-button class="send" secondary ?disabled=${ep.state === "closed" || ctx.readOnly} aria-label=${`Send a message to ${label}…`} @click=${() => ctx.sendTo(ep)}>${buttonIcon("send")}Send message…</vscode-button>
        </div>`
    }
  </article>`;
}

// ---- streams -----------------------------------------------------------------------------------

/** The status's first word kept whole, the rest free to end in an ellipsis in a narrow sidebar. */
function statusWords(text: string): TemplateResult {
  const cut = text.search(/[\s:]/);
  return cut <= 0
    ? html`<span class="status-head" title=${text}>${text}</span>`
    : html`<span class="status-head" title=${text}>${text.slice(0, cut)}</span><span class="status-rest" title=${text}>${text.slice(cut)}</span>`;
}

export function streamItem(s: StreamView, ctx: ItemContext): TemplateResult {
  const st = streamStatus(s);
  const cmd = shortLabel(s.command, 80);
  const busy = ctx.isBusy(`stream:${s.stream_id}`);
  return html`<article class="row stream tone-${st.tone}" tabindex="-1" data-id=${s.stream_id} aria-label=${`Stream ${cmd}, ${st.text}`}
      @click=${(e: Event) => {
        if (!(e.target as Element).closest("vscode-button, button")) ctx.openStream(s);
      }}>
    <span class="status-icon tone-${st.tone}" title=${st.text}>${icon(st.icon, st.running ? "codicon-modifier-spin" : "")}</span>
    <div class="row-main">
      <button class="stream-open" title=${s.command.slice(0, 500)} aria-label=${`Open the terminal of ${cmd} (${st.text})`} @click=${() => ctx.openStream(s)}>${cmd}</button>
      <div class="meta">
        <span class="status tone-${st.tone}">${statusWords(st.text)}</span>
        ${sessionRepeatsCommand(s.session, s.command) ? nothing : html`<span class="session-name" title=${s.session || s.endpoint_id}>${s.session || s.endpoint_id}</span>`}
        ${age(s.ended_at ?? s.created_at, ctx.nowMs)}
      </div>
    </div>
    ${
      // A copy of a command the agent runs itself (cancellable: false): nothing here can stop it, so no Stop.
      st.running && s.cancellable !== false
        ? html`<vscode-button class="stop" secondary ?disabled=${busy} aria-label=${`Stop ${cmd}`} @click=${() => ctx.stopStream(s)}>${buttonIcon("debug-stop")}Stop</vscode-button>`
        : nothing
    }
  </article>`;
}

// ---- messages ----------------------------------------------------------------------------------

export function messageItem(m: WindowMessage, ctx: ItemContext): TemplateResult {
  const from = m.from || "unknown sender";
  const canReply = m.correlation_id !== null || m.source_endpoint_id !== null;
  const busy = ctx.isBusy(`msg:${m.id}`);
  return html`<article class="card message ${m.replied ? "replied" : ""}" tabindex="-1" data-id=${m.id} aria-label=${`Message from ${from}`}>
    <div class="card-head">
      ${icon("comment")}
      <span class="sender" title=${from}>${from}</span>
      ${m.replied ? html`<span class="tag">${icon("check")}replied</span>` : nothing}
      ${age(m.received_at, ctx.nowMs)}
    </div>
    ${expandableText(`msg:${m.id}`, "msg", m.id, m.content, ctx, `the message from ${from}`)}
    ${
      canReply
        ? html`<div class="actions">
          <vscode-button class="reply" secondary ?disabled=${busy} aria-label=${`Reply to ${from}…`} @click=${() => ctx.reply(m)}>${buttonIcon("reply")}Reply…</vscode-button>
        </div>`
        : nothing
    }
  </article>`;
}
