// The sidebar: renders the full state the extension host sends, keeps UI-only state (folded sections,
// expanded items, reject drafts, scroll, focus) across re-renders, and posts the user's intents back.
import { html, render, type TemplateResult } from "lit";
import { ref } from "lit/directives/ref.js";
import { repeat } from "lit/directives/repeat.js";
import type { HostToWebview, SidebarState } from "../protocol/webview.js";
import { headerView, icon, noticesView, type Notice } from "./chrome.js";
import { derive, type Derived } from "./derive.js";
import { Intents } from "./intents.js";
import { approvalItem, inboxItem, messageItem, sessionItem, streamItem, type ItemContext } from "./items.js";
import { policyNotes, ruleItem, type PolicyContext } from "./policy-item.js";
import { ESTIMATES, TITLES, countText, emptyView, sectionActions } from "./sections.js";
import { captureAnchor, keepAnchor } from "./anchor.js";
import { VirtualList } from "./virtual-list.js";
import { SECTIONS, asHostMessage, lastKnown, type Host, type SectionId } from "./vscode.js";
import { visibleState } from "./visible-state.js";

interface FocusContext {
  section: SectionId;
  key: string;
  index: number;
}

const NOTICE_MS = 5_000;
/** Ages are re-rendered this often; every second while an approval is about to time out. */
const TICK_MS = 15_000;
const FAST_TICK_MS = 1_000;
/** After the page's load event, how long a live state may take to arrive before the last known one is painted. */
const LAST_STATE_GRACE_MS = 30;
/** The last live state is saved (for the next load to paint at once) at most this often. */
const SAVE_LAST_MS = 1_000;

/** Estimated heights used to place lists that are not laid out yet (first render). */
const SECTION_HEADER_PX = 27;
const EMPTY_PX = 60;

/** When the page's script began and its load event fired (Date.now()), reported with the paints. */
export const pageMarks: { script?: number; loaded?: number } = {};

export class App extends Intents implements ItemContext, PolicyContext {
  private state: SidebarState | null = null;
  private derived: Derived | null = null;
  private clockSkew = 0;
  private readonly expanded: Set<string>;
  private notices: Notice[] = [];
  private noticeSeq = 0;
  private readonly lists: Record<SectionId, VirtualList>;
  private frame = 0;
  private rendering = false;
  private tickTimer: ReturnType<typeof setTimeout> | undefined;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private scrollRestored = false;
  /** Showing the last known state from the previous load, until the host sends the live one. */
  private stale = false;
  private painted = { last: false, live: false };
  private saveLastTimer: ReturnType<typeof setTimeout> | undefined;
  /** While rendering: the list item kept still at the viewport's top, if any (see captureAnchor). */
  private anchor: { section: SectionId; key: string; within: number } | null = null;
  private pendingFocus: { section: SectionId; id: string | undefined } | null = null;
  /** While building the view: the estimated viewport-relative y where the next section starts. */
  private cursor = 0;
  nowMs = Date.now();
  selfId: string | null = null;

  constructor(
    host: Host,
    private readonly root: HTMLElement,
  ) {
    super(host, host.loadUi());
    this.expanded = new Set(this.ui.expanded);
    const onMeasured = () => this.schedule();
    this.lists = {
      approvals: new VirtualList(ESTIMATES.approvals, onMeasured),
      inbox: new VirtualList(ESTIMATES.inbox, onMeasured),
      sessions: new VirtualList(ESTIMATES.sessions, onMeasured),
      streams: new VirtualList(ESTIMATES.streams, onMeasured),
      messages: new VirtualList(ESTIMATES.messages, onMeasured),
      policy: new VirtualList(ESTIMATES.policy, onMeasured),
    };
  }

  start(): void {
    window.addEventListener("message", (e: MessageEvent) => this.onMessage(e.data));
    window.addEventListener(
      "scroll",
      () => {
        this.schedule();
        this.saveSoon();
      },
      { passive: true },
    );
    // Keyboard focus moving through a list (Tab scrolls the focused item into view) re-renders the
    // window at once, so the next Tab finds the next item rendered rather than jumping past the list.
    this.root.addEventListener("focusin", (e) => {
      if ((e.target as Element | null)?.closest?.("li[data-key]")) this.renderNow();
    });
    window.addEventListener("resize", () => {
      for (const l of Object.values(this.lists)) l.invalidate();
      this.schedule();
    });
    this.tick();
    this.renderNow();
    this.host.post({ type: "ready" });
    // The last known state (buttons disabled, "Connecting…") until the live one comes. VS Code shows
    // the page, and hands it the messages sent so far, at its load event: a live state the host sent
    // early arrives right then, so the last known one is painted only if none came just after it.
    const last = this.ui.last;
    if (!last) return;
    const paintLast = () => {
      if (this.state) return;
      this.stale = true;
      // Kept by this page, but read back from storage: agent text is made visible again.
      this.setState(visibleState({ ...last, connection: { ...last.connection, phase: "connecting", reason: null }, now: new Date().toISOString() }));
    };
    const soon = () => setTimeout(paintLast, LAST_STATE_GRACE_MS);
    if (document.readyState === "complete") soon();
    else window.addEventListener("load", soon, { once: true });
  }

  /** The local clock: ages ("2 m ago") and deadlines move on between states. Re-armed on each state. */
  private tick(): void {
    clearTimeout(this.tickTimer);
    const soon = this.derived?.approvals.some((a) => {
      const t = a.expires_at === null ? NaN : Date.parse(a.expires_at);
      return t - this.nowMs < 120_000 && t - this.nowMs > -5_000;
    });
    this.tickTimer = setTimeout(
      () => {
        if (this.state && !document.hidden) this.renderNow();
        this.tick();
      },
      soon ? FAST_TICK_MS : TICK_MS,
    );
  }

  // ---- messages from the host ------------------------------------------------------------------

  onMessage(data: unknown): void {
    const msg = asHostMessage(data);
    if (!msg) return;
    switch (msg.type) {
      case "state":
        this.stale = false;
        this.setState(visibleState(msg.state)); // agent text with hidden characters made visible
        if (msg.state.connection.phase === "connected") this.saveLastSoon();
        break;
      case "result":
        this.onResult(msg);
        break;
      case "focus":
        this.focusSection(msg.section, msg.id);
        break;
    }
  }

  private setState(state: SidebarState): void {
    this.state = state;
    this.derived = derive(state);
    const now = Date.parse(state.now);
    this.clockSkew = Number.isNaN(now) ? 0 : now - Date.now();
    this.selfId = state.self?.endpoint_id ?? null;
    // Reject drafts for approvals that are no longer pending are moot.
    const pendingIds = new Set(this.derived.keys.approvals);
    let dropped = false;
    for (const id of Object.keys(this.ui.rejecting)) {
      if (!pendingIds.has(id)) {
        delete this.ui.rejecting[id];
        dropped = true;
      }
    }
    if (dropped) this.saveSoon();
    this.renderNow();
    this.tick();
    if (!this.scrollRestored) {
      this.scrollRestored = true;
      if (this.ui.scrollY > 0) {
        window.scrollTo(0, this.ui.scrollY);
        this.renderNow();
      }
    }
    if (this.pendingFocus) {
      const { section, id } = this.pendingFocus;
      this.pendingFocus = null;
      this.focusSection(section, id);
    }
    this.reportPaint();
  }

  /** Tells the host (once per load) when the last known state and the first live state were painted. */
  private reportPaint(): void {
    const live = !this.stale && this.state?.connection.phase === "connected";
    const which = this.stale ? "last" : live ? "live" : null;
    if (!which || this.painted[which]) return;
    this.painted[which] = true;
    // The callback of the next animation frame runs before that frame is painted; a task queued
    // from it runs after.
    requestAnimationFrame(() => setTimeout(() => this.host.post({ type: "painted", live, at: Date.now(), ...pageMarks }), 0));
  }

  private saveLastSoon(): void {
    if (this.saveLastTimer !== undefined) return;
    this.saveLastTimer = setTimeout(() => {
      this.saveLastTimer = undefined;
      if (!this.state || this.stale || this.state.connection.phase !== "connected") return;
      this.ui.last = lastKnown(this.state);
      this.ui.expanded = [...this.expanded];
      this.ui.scrollY = window.scrollY;
      this.host.saveUi(this.ui);
    }, SAVE_LAST_MS);
  }

  private onResult(msg: Extract<HostToWebview, { type: "result" }>): void {
    const p = this.pending.get(msg.requestId);
    if (p) {
      clearTimeout(p.timer);
      this.pending.delete(msg.requestId);
      if (p.key !== null && this.busy.get(p.key) === msg.requestId) this.busy.delete(p.key);
    }
    if (msg.message.trim() !== "" || !msg.ok) {
      const n: Notice = { id: ++this.noticeSeq, ok: msg.ok, text: msg.message || "The action failed." };
      // Keep a few: confirmations fade on their own, errors stay until closed.
      this.notices = [...this.notices.filter((x) => !x.ok).slice(-2), ...this.notices.filter((x) => x.ok).slice(-1), n];
      if (msg.ok) setTimeout(() => this.closeNotice(n.id), NOTICE_MS);
    }
    this.renderNow();
    // Notices sit above the lists: an error that arrives while the user is scrolled down is brought into view.
    if (!msg.ok) this.root.querySelector(".notice.error:last-child")?.scrollIntoView({ block: "nearest" });
  }

  private closeNotice(id: number): void {
    const before = this.notices.length;
    this.notices = this.notices.filter((n) => n.id !== id);
    if (this.notices.length !== before) this.renderNow();
  }

  focusSection(section: SectionId, id?: string): void {
    if (!this.derived) {
      // Asked before the first state arrived (the view was just created): do it once it is shown.
      this.pendingFocus = { section, id };
      return;
    }
    if (this.ui.collapsed.includes(section)) {
      this.ui.collapsed = this.ui.collapsed.filter((s) => s !== section);
      this.saveSoon();
    }
    this.renderNow();
    const keys = this.derived?.keys[section] ?? [];
    const idx = id === undefined ? -1 : keys.indexOf(id);
    if (id !== undefined && idx >= 0) {
      const y = this.lists[section].offsetOf(keys, idx);
      if (y !== null) window.scrollTo(0, Math.max(0, y - 32));
      this.renderNow();
      const card = this.itemElement(section, id);
      if (card) {
        card.focus({ preventScroll: true });
        card.scrollIntoView({ block: "nearest" });
        return;
      }
    }
    const toggle = this.root.querySelector<HTMLElement>(`button.section-toggle[data-section="${section}"]`);
    toggle?.focus({ preventScroll: true });
    toggle?.closest("section")?.scrollIntoView({ block: "start" });
  }

  protected itemElement(section: SectionId, key: string): HTMLElement | null {
    return this.root.querySelector<HTMLElement>(`#body-${section} li[data-key="${CSS.escape(key)}"] > article`);
  }

  // ---- rendering -------------------------------------------------------------------------------

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.renderNow();
    });
  }

  renderNow(): void {
    if (this.frame) {
      cancelAnimationFrame(this.frame);
      this.frame = 0;
    }
    if (this.rendering) {
      // Re-entered (a focus change during a render): render again on the next frame.
      this.schedule();
      return;
    }
    this.rendering = true;
    try {
      this.renderPasses();
    } catch (e) {
      // A state the view cannot show must not leave a dead sidebar: say so, keep the header working.
      console.error("Agent Switchboard: could not render the sidebar", e);
      render(
        html`${this.header()}
          <p class="render-error" role="alert">
            The sidebar could not show the latest state.
            <button class="link-btn inline" @click=${() => this.command("showLogs")}>Show the logs</button> for details.
          </p>`,
        this.root,
      );
    } finally {
      this.rendering = false;
    }
  }

  private renderPasses(): void {
    this.nowMs = Date.now() + this.clockSkew;
    const active = document.activeElement as HTMLElement | null;
    const focus = this.focusContext(active);
    // A scroll to keep the anchor still moves the windows: render again at once rather than show a
    // frame of blank padding (at most a few passes; each settles more of the estimates).
    for (let pass = 0; pass < 3; pass++) {
      const anchor = this.derived ? captureAnchor(this.lists, this.root) : null;
      this.anchor = anchor && "section" in anchor ? anchor : null;
      render(this.view(), this.root);
      for (const l of Object.values(this.lists)) l.afterRender();
      if (!keepAnchor(this.lists, anchor)) break;
    }
    if (active && active !== document.body && !active.isConnected) this.restoreFocus(focus);
  }

  private focusContext(el: Element | null): FocusContext | null {
    const li = el?.closest?.("li[data-key]") as HTMLElement | null | undefined;
    const section = li?.closest("section[data-section]")?.getAttribute("data-section") as SectionId | null | undefined;
    if (!li || !section) return null;
    const key = li.dataset.key ?? "";
    return { section, key, index: this.derivedKeys(section).indexOf(key) };
  }

  /** The focused item went away (e.g. its approval was decided): focus its neighbour, else the heading. */
  private restoreFocus(ctx: FocusContext | null): void {
    if (!ctx) return;
    const keys = this.derivedKeys(ctx.section);
    const still = keys.includes(ctx.key) ? ctx.key : keys[Math.min(Math.max(ctx.index, 0), keys.length - 1)];
    const target = still === undefined ? null : this.itemElement(ctx.section, still);
    const el = target ?? this.root.querySelector<HTMLElement>(`button.section-toggle[data-section="${ctx.section}"]`);
    el?.focus({ preventScroll: true });
  }

  private derivedKeys(section: SectionId): string[] {
    return this.derived?.keys[section] ?? [];
  }

  private view(): TemplateResult {
    const d = this.derived;
    const top = this.root.getBoundingClientRect?.().top;
    this.cursor = (Number.isFinite(top) ? top : 0) + (this.state?.connection.phase === "disconnected" ? 110 : 30);
    // Notices sit in the page's flow under the header (never over the list); their height moves the
    // estimated start of the sections.
    this.cursor += this.notices.length * 34;
    return html`${this.header()} ${this.noticesView()}
      <main class="sections" aria-label="Agent Switchboard">
        ${d ? SECTIONS.map((id) => this.section(id, d)) : html`<p class="loading">${icon("loading", "codicon-modifier-spin")} Waiting for the extension…</p>`}
      </main>`;
  }

  private header(): TemplateResult {
    return headerView(this.state, this.stale, (c) => this.command(c));
  }
  private section(id: SectionId, d: Derived): TemplateResult {
    const collapsed = this.ui.collapsed.includes(id);
    const n = d.keys[id].length;
    this.cursor += SECTION_HEADER_PX;
    if (!collapsed && n === 0) this.cursor += EMPTY_PX;
    const count = countText(id, d);
    return html`<section class="section sec-${id}" data-section=${id} aria-labelledby=${`h-${id}`}>
      <div class="section-header">
        <h2 class="section-title" id=${`h-${id}`}>
          <button class="section-toggle" data-section=${id} aria-expanded=${collapsed ? "false" : "true"} aria-controls=${`body-${id}`} @click=${() => this.toggleSection(id)}>
            ${icon(collapsed ? "chevron-right" : "chevron-down")}
            <span class="section-name">${TITLES[id]}</span>
            <vscode-badge variant="counter" class="count ${id === "approvals" && n > 0 ? "attention" : ""}" aria-hidden="true">${n}</vscode-badge>
            <span class="sr-only">, ${count}</span>
          </button>
        </h2>
        ${sectionActions(
          id,
          (c) => this.command(c),
          () => this.host.post({ type: "openUserRules" }),
        )}
      </div>
      <div class="section-body" id=${`body-${id}`} ?hidden=${collapsed}>${collapsed ? "" : this.body(id, d, n)}</div>
    </section>`;
  }

  private body(id: SectionId, d: Derived, n: number): TemplateResult {
    const notes = id === "policy" ? policyNotes(this.state?.policy, this) : "";
    // The notes above the policy list move where its items start (an estimate, corrected once laid out).
    if (id === "policy" && this.state?.policy) this.cursor += 30 * (1 + this.state.policy.workspaces.filter((w) => !w.accepted || w.error).length);
    return html`${notes}${n === 0 ? emptyView(id, this.state, (c) => this.command(c)) : this.list(id, d)}`;
  }

  private list(id: SectionId, d: Derived): TemplateResult {
    const keys = d.keys[id];
    const vl = this.lists[id];
    const focusedKey = (document.activeElement?.closest?.("li[data-key]") as HTMLElement | null | undefined)?.dataset.key;
    const focusedSection = document.activeElement?.closest?.("section[data-section]")?.getAttribute("data-section");
    const keep = focusedKey !== undefined && focusedSection === id ? keys.indexOf(focusedKey) : -1;
    const w = vl.compute(keys, keep, this.cursor, this.anchor?.section === id ? this.anchor : null);
    this.cursor = w.top + w.height + 12;
    const total = keys.length;
    const row = (key: string, pos: number, body: TemplateResult) => html`<li class="vitem" data-key=${key} aria-setsize=${total} aria-posinset=${pos}>${body}</li>`;
    const item = (key: string, i: number): TemplateResult => {
      switch (id) {
        case "approvals":
          return approvalItem(d.approvals[i]!, this);
        case "inbox":
          return inboxItem(d.inbox[i]!, this);
        case "sessions":
          return sessionItem(d.sessions[i]!, this);
        case "streams":
          return streamItem(d.streams[i]!, this);
        case "messages":
          return messageItem(d.messages[i]!, this);
        case "policy":
          return ruleItem(d.policy[i]!, key, this);
      }
    };
    return html`<ol class="vlist" aria-label=${TITLES[id]} ${ref(vl.ref)}>${repeat(
      keys.slice(w.start, w.end),
      (key) => key,
      (key, i) => row(key, w.start + i + 1, item(key, w.start + i)),
    )}</ol>`;
  }

  private noticesView(): TemplateResult {
    return noticesView(this.notices, (id) => this.closeNotice(id));
  }

  // ---- UI-only state ---------------------------------------------------------------------------

  private toggleSection(id: SectionId): void {
    this.ui.collapsed = this.ui.collapsed.includes(id) ? this.ui.collapsed.filter((s) => s !== id) : [...this.ui.collapsed, id];
    this.saveSoon();
    this.renderNow();
  }

  isExpanded(key: string): boolean {
    return this.expanded.has(key);
  }

  toggleExpanded(key: string): void {
    if (this.expanded.has(key)) this.expanded.delete(key);
    else this.expanded.add(key);
    this.saveSoon();
    this.renderNow();
  }

  get readOnly(): boolean {
    return this.stale;
  }

  isBusy(key: string): boolean {
    // The last known state is for reading only: its buttons wait for the live state.
    return this.stale || this.busy.has(key);
  }

  rejectDraft(approvalId: string): string | undefined {
    return Object.hasOwn(this.ui.rejecting, approvalId) ? this.ui.rejecting[approvalId] : undefined;
  }

  protected saveSoon(): void {
    if (this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.ui.expanded = [...this.expanded];
      this.ui.scrollY = window.scrollY;
      this.host.saveUi(this.ui);
    }, 250);
  }
}
