// The sidebar: renders the full state the extension host sends, keeps UI-only state (folded sections,
// expanded items, reject drafts, scroll, focus) across re-renders, and posts the user's intents back.
import { html, nothing, render, type TemplateResult } from "lit";
import { ref } from "lit/directives/ref.js";
import { repeat } from "lit/directives/repeat.js";
import type { Approval } from "../protocol/approvals.js";
import type { EndpointView, UndispatchedItem } from "../protocol/schemas.js";
import type { StreamView } from "../protocol/streams.js";
import type { HostToWebview, SidebarState, WebviewToHost, WindowMessage } from "../protocol/webview.js";
import { plural } from "./format.js";
import { approvalItem, buttonIcon, inboxItem, messageItem, sessionItem, streamItem, type ItemContext } from "./items.js";
import { VirtualList } from "./virtual-list.js";
import { SECTIONS, asHostMessage, lastKnown, newRequestId, type Host, type PersistedUi, type SectionId } from "./vscode.js";
import { visibleState } from "./visible-state.js";

type Command = Extract<WebviewToHost, { type: "command" }>["command"];

interface Derived {
  approvals: Approval[];
  inbox: UndispatchedItem[];
  sessions: EndpointView[];
  streams: StreamView[];
  messages: WindowMessage[];
  keys: Record<SectionId, string[]>;
}

interface Notice {
  id: number;
  ok: boolean;
  text: string;
}

interface FocusContext {
  section: SectionId;
  key: string;
  index: number;
}

/** How long an action's buttons stay disabled waiting for the host's result. */
const BUSY_TIMEOUT_MS = 20_000;
const NOTICE_MS = 5_000;
/** Ages are re-rendered this often; every second while an approval is about to expire. */
const TICK_MS = 15_000;
const FAST_TICK_MS = 1_000;
/** After the page's load event, how long a live state may take to arrive before the last known one is painted. */
const LAST_STATE_GRACE_MS = 30;
/** The last live state is saved (for the next load to paint at once) at most this often. */
const SAVE_LAST_MS = 1_000;

const TITLES: Record<SectionId, string> = {
  approvals: "Approvals",
  inbox: "Inbox",
  sessions: "Sessions",
  streams: "Streams",
  messages: "Messages",
};

/** Initial per-item height guesses (px) until items are measured. */
const ESTIMATES: Record<SectionId, number> = { approvals: 170, inbox: 110, sessions: 110, streams: 52, messages: 90 };

/** Estimated heights used to place lists that are not laid out yet (first render). */
const SECTION_HEADER_PX = 27;
const EMPTY_PX = 60;

/** When the page's script began and its load event fired (Date.now()), reported with the paints. */
export const pageMarks: { script?: number; loaded?: number } = {};

const icon = (name: string, extra = "") => html`<span class="codicon codicon-${name} ${extra}" aria-hidden="true"></span>`;

function dedupe<T>(items: readonly T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const it of items) {
    const k = key(it);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(it);
  }
  return out;
}

function derive(s: SidebarState): Derived {
  const approvals = dedupe(
    s.approvals.filter((a) => a.state === "pending"),
    (a) => a.approval_id,
  );
  const inbox = dedupe(s.inbox, (i) => i.id);
  const sessions = dedupe(
    s.sessions.filter((e) => e.state !== "closed"),
    (e) => e.endpoint_id,
  );
  const all = dedupe(s.streams, (x) => x.stream_id);
  const streams = [...all.filter((x) => x.state === "streaming"), ...all.filter((x) => x.state !== "streaming")];
  const messages = dedupe(s.messages, (m) => m.id);
  return {
    approvals,
    inbox,
    sessions,
    streams,
    messages,
    keys: {
      approvals: approvals.map((a) => a.approval_id),
      inbox: inbox.map((i) => i.id),
      sessions: sessions.map((e) => e.endpoint_id),
      streams: streams.map((x) => x.stream_id),
      messages: messages.map((m) => m.id),
    },
  };
}

export class App implements ItemContext {
  private state: SidebarState | null = null;
  private derived: Derived | null = null;
  private clockSkew = 0;
  private readonly ui: PersistedUi;
  private readonly expanded: Set<string>;
  private readonly busy = new Map<string, string>();
  private readonly pending = new Map<string, { key: string | null; timer: ReturnType<typeof setTimeout> }>();
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
    private readonly host: Host,
    private readonly root: HTMLElement,
  ) {
    this.ui = host.loadUi();
    this.expanded = new Set(this.ui.expanded);
    const onMeasured = () => this.schedule();
    this.lists = {
      approvals: new VirtualList(ESTIMATES.approvals, onMeasured),
      inbox: new VirtualList(ESTIMATES.inbox, onMeasured),
      sessions: new VirtualList(ESTIMATES.sessions, onMeasured),
      streams: new VirtualList(ESTIMATES.streams, onMeasured),
      messages: new VirtualList(ESTIMATES.messages, onMeasured),
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

  private itemElement(section: SectionId, key: string): HTMLElement | null {
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
      const anchor = this.captureAnchor();
      this.anchor = anchor && "section" in anchor ? anchor : null;
      render(this.view(), this.root);
      for (const l of Object.values(this.lists)) l.afterRender();
      if (!this.keepAnchor(anchor)) break;
    }
    if (active && active !== document.body && !active.isConnected) this.restoreFocus(focus);
  }

  /**
   * What is at the top of the viewport before a re-render. New estimates of unrendered items' heights,
   * items added above, or folded text change what lies above it; the page is scrolled afterwards so
   * that it stays where it was. (At the very top nothing is kept: new approvals should come into view.)
   */
  private captureAnchor(): { section: SectionId; key: string; within: number } | { el: Element; top: number } | null {
    if (window.scrollY <= 0 || !this.derived) return null;
    for (const id of SECTIONS) {
      const a = this.lists[id].anchor();
      if (a) return { section: id, ...a };
    }
    for (const el of this.root.querySelectorAll("section.section")) {
      const r = el.getBoundingClientRect();
      if (r.bottom > 0) return { el, top: r.top };
    }
    return null;
  }

  /** Scrolls so the anchor is where it was; true when it had moved. */
  private keepAnchor(anchor: ReturnType<App["captureAnchor"]>): boolean {
    if (!anchor) return false;
    let delta = 0;
    if ("el" in anchor) {
      if (anchor.el.isConnected) delta = anchor.el.getBoundingClientRect().top - anchor.top;
    } else {
      const top = this.lists[anchor.section].topOf(anchor.key);
      if (top !== null) delta = top + anchor.within;
    }
    if (Math.abs(delta) < 1) return false;
    const before = window.scrollY;
    window.scrollBy(0, delta);
    return window.scrollY !== before;
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
    const c = this.state?.connection;
    const phase = c?.phase ?? "connecting";
    const spec = {
      connected: { icon: "pass-filled", spin: false, text: "Connected" },
      connecting: { icon: "loading", spin: true, text: "Connecting…" },
      reconnecting: { icon: "sync", spin: true, text: "Reconnecting…" },
      disconnected: { icon: "debug-disconnect", spin: false, text: "Disconnected" },
    }[phase] ?? { icon: "question", spin: false, text: String(phase) };
    // Broker version and address as separate pieces that wrap to a second line in a narrow sidebar
    // rather than being cut off. (Reconnect and Show Logs are in the view's own title bar.)
    let details: string[] = [];
    if (phase === "connected") {
      details = [c?.broker_version ? `broker ${c.broker_version}` : "", c?.broker_url ? c.broker_url.replace(/^https?:\/\//, "") : ""].filter(Boolean);
    } else if (c?.reason) details = [c.reason];
    else if (this.stale) details = ["showing the last known state"];
    return html`<header class="topbar phase-${phase}">
        <h1 class="sr-only">Agent Switchboard</h1>
        <div class="conn" role="status" aria-live="polite" title=${c?.broker_url ?? ""}>
          <span class="conn-state"><span class="conn-icon">${icon(spec.icon, spec.spin ? "codicon-modifier-spin" : "")}</span><span class="conn-phase">${spec.text}</span></span>
          ${
            details.length
              ? html`<span class="conn-detail">${details.map((d, i) => html`${i ? html`<span class="sep" aria-hidden="true"> · </span>` : nothing}<span class="conn-part">${d}</span>`)}</span>`
              : nothing
          }
        </div>
      </header>
      ${
        phase === "disconnected"
          ? html`<div class="banner" role="region" aria-label="Connection problem">
            <p>${icon("warning")} Not connected to the broker: what you see may be out of date.</p>
            ${c?.reason ? html`<p class="banner-reason">${c.reason}</p>` : nothing}
            <div class="actions">
              <vscode-button class="banner-reconnect" @click=${() => this.command("reconnect")}>${buttonIcon("refresh")}Reconnect</vscode-button>
              <vscode-button class="banner-restart" secondary @click=${() => this.command("restartBroker")}>Restart broker</vscode-button>
            </div>
          </div>`
          : nothing
      }
      ${(this.state?.warnings ?? []).map((w) => html`<div class="banner broker-warning" role="alert"><p>${icon("warning")} ${w}</p></div>`)}`;
  }

  private section(id: SectionId, d: Derived): TemplateResult {
    const collapsed = this.ui.collapsed.includes(id);
    const n = d.keys[id].length;
    this.cursor += SECTION_HEADER_PX;
    if (!collapsed && n === 0) this.cursor += EMPTY_PX;
    const countText = this.countText(id, d);
    return html`<section class="section sec-${id}" data-section=${id} aria-labelledby=${`h-${id}`}>
      <div class="section-header">
        <h2 class="section-title" id=${`h-${id}`}>
          <button class="section-toggle" data-section=${id} aria-expanded=${collapsed ? "false" : "true"} aria-controls=${`body-${id}`} @click=${() => this.toggleSection(id)}>
            ${icon(collapsed ? "chevron-right" : "chevron-down")}
            <span class="section-name">${TITLES[id]}</span>
            <vscode-badge variant="counter" class="count ${id === "approvals" && n > 0 ? "attention" : ""}" aria-hidden="true">${n}</vscode-badge>
            <span class="sr-only">, ${countText}</span>
          </button>
        </h2>
        ${this.sectionActions(id)}
      </div>
      <div class="section-body" id=${`body-${id}`} ?hidden=${collapsed}>${collapsed ? nothing : n === 0 ? this.empty(id) : this.list(id, d)}</div>
    </section>`;
  }

  private countText(id: SectionId, d: Derived): string {
    const n = d.keys[id].length;
    switch (id) {
      case "approvals":
        return `${n} waiting`;
      case "inbox":
        return plural(n, "message");
      case "sessions":
        return plural(n, "open session");
      case "streams": {
        const running = d.streams.filter((s) => s.state === "streaming").length;
        return `${plural(n, "stream")}, ${running} running`;
      }
      case "messages":
        return plural(n, "message");
    }
  }

  private sectionActions(id: SectionId): TemplateResult | typeof nothing {
    if (id !== "sessions") return nothing;
    return html`<div class="section-actions">
      <button class="icon-btn" data-command="newPiSession" aria-label="New pi session" title="New pi session" @click=${() => this.command("newPiSession")}>${icon("add")}</button>
    </div>`;
  }

  private empty(id: SectionId): TemplateResult {
    const selfName = this.state?.self?.session_name;
    switch (id) {
      case "approvals":
        return html`<p class="empty">No approvals waiting. Agents ask here before running commands; try <code>switchboard run -- echo hello</code> in a terminal.</p>`;
      case "inbox":
        return html`<p class="empty">No undelivered messages. Messages sent without a recipient wait here (<code>switchboard send "…"</code>) until you route them to a session.</p>`;
      case "sessions":
        return html`<p class="empty">
          No open sessions. Start an agent session
          (<button class="link-btn inline" @click=${() => this.command("newPiSession")}>Switchboard: New pi Session</button>) or run
          <code>switchboard run</code>.
        </p>`;
      case "streams":
        return html`<p class="empty">No output streams yet. Approved commands stream their output here; try <code>switchboard run -- ls</code> and open it to watch it in a terminal.</p>`;
      case "messages":
        return html`<p class="empty">No messages for this window. Sessions reach it with <code>switchboard send --to ${selfName || "NAME"} "…"</code>.</p>`;
    }
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
    const label = TITLES[id];
    switch (id) {
      case "approvals":
        return html`<ol class="vlist" aria-label=${label} ${ref(vl.ref)}>${repeat(
          d.approvals.slice(w.start, w.end),
          (a) => a.approval_id,
          (a, i) => row(a.approval_id, w.start + i + 1, approvalItem(a, this)),
        )}</ol>`;
      case "inbox":
        return html`<ol class="vlist" aria-label=${label} ${ref(vl.ref)}>${repeat(
          d.inbox.slice(w.start, w.end),
          (x) => x.id,
          (x, i) => row(x.id, w.start + i + 1, inboxItem(x, this)),
        )}</ol>`;
      case "sessions":
        return html`<ol class="vlist" aria-label=${label} ${ref(vl.ref)}>${repeat(
          d.sessions.slice(w.start, w.end),
          (x) => x.endpoint_id,
          (x, i) => row(x.endpoint_id, w.start + i + 1, sessionItem(x, this)),
        )}</ol>`;
      case "streams":
        return html`<ol class="vlist" aria-label=${label} ${ref(vl.ref)}>${repeat(
          d.streams.slice(w.start, w.end),
          (x) => x.stream_id,
          (x, i) => row(x.stream_id, w.start + i + 1, streamItem(x, this)),
        )}</ol>`;
      case "messages":
        return html`<ol class="vlist" aria-label=${label} ${ref(vl.ref)}>${repeat(
          d.messages.slice(w.start, w.end),
          (x) => x.id,
          (x, i) => row(x.id, w.start + i + 1, messageItem(x, this)),
        )}</ol>`;
    }
  }

  private noticesView(): TemplateResult {
    const ok = this.notices.filter((n) => n.ok);
    const errors = this.notices.filter((n) => !n.ok);
    const one = (n: Notice) => html`<div class="notice ${n.ok ? "ok" : "error"}">
      ${icon(n.ok ? "check" : "error")}<span class="notice-text">${n.text}</span>
      <button class="icon-btn" aria-label="Close this notice" title="Close" @click=${() => this.closeNotice(n.id)}>${icon("close")}</button>
    </div>`;
    return html`<div class="notices">
      <div class="notice-region" role="alert">${repeat(errors, (n) => n.id, one)}</div>
      <div class="notice-region" role="status" aria-live="polite">${repeat(ok, (n) => n.id, one)}</div>
    </div>`;
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

  private saveSoon(): void {
    if (this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.ui.expanded = [...this.expanded];
      this.ui.scrollY = window.scrollY;
      this.host.saveUi(this.ui);
    }, 250);
  }

  // ---- intents ---------------------------------------------------------------------------------

  /** Posts a request; with a busy key, that item's buttons are disabled until the result (or a timeout). */
  private request(make: (requestId: string) => WebviewToHost, busyKey: string | null): void {
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

  private command(command: Command): void {
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
}
