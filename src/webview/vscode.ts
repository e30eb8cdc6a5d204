// The one handle on the VS Code webview API. `acquireVsCodeApi` may be called only once per page.
import type { HostToWebview, SidebarState, WebviewToHost } from "../protocol/webview.js";

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState<T>(state: T): T;
}

declare global {
  function acquireVsCodeApi(): VsCodeApi;
}

export const SECTIONS = ["approvals", "inbox", "sessions", "streams", "messages", "policy"] as const;
export type SectionId = (typeof SECTIONS)[number];

/** UI-only state that survives the view being hidden and shown again (vscode.setState). */
export interface PersistedUi {
  v: 1;
  collapsed: SectionId[];
  /** Keys of expanded items ("inbox:ID", "msg:ID", "diff:ID"), newest last, capped. */
  expanded: string[];
  /** Open reject forms: approval id -> reason draft. */
  rejecting: Record<string, string>;
  scrollY: number;
  /** The last live state, trimmed (lastKnown()): painted at once when the page loads again. */
  last?: SidebarState;
}

const MAX_EXPANDED = 200;

export class Host {
  private readonly api: VsCodeApi;
  constructor() {
    this.api = acquireVsCodeApi();
  }
  post(message: WebviewToHost): void {
    this.api.postMessage(message);
  }
  loadUi(): PersistedUi {
    const empty: PersistedUi = { v: 1, collapsed: [], expanded: [], rejecting: {}, scrollY: 0 };
    const s = this.api.getState();
    if (!s || typeof s !== "object") return empty;
    const o = s as Partial<PersistedUi>;
    if (o.v !== 1) return empty;
    const rejecting: Record<string, string> = {};
    if (o.rejecting && typeof o.rejecting === "object") {
      for (const [k, val] of Object.entries(o.rejecting)) if (typeof val === "string") rejecting[k] = val.slice(0, 2000);
    }
    return {
      v: 1,
      collapsed: Array.isArray(o.collapsed) ? o.collapsed.filter((x): x is SectionId => (SECTIONS as readonly string[]).includes(x)) : [],
      expanded: Array.isArray(o.expanded) ? o.expanded.filter((x) => typeof x === "string").slice(-MAX_EXPANDED) : [],
      rejecting,
      scrollY: typeof o.scrollY === "number" && Number.isFinite(o.scrollY) ? o.scrollY : 0,
      ...(isSidebarState(o.last) ? { last: o.last } : {}),
    };
  }
  saveUi(ui: PersistedUi): void {
    this.api.setState({ ...ui, expanded: ui.expanded.slice(-MAX_EXPANDED) });
  }
}

const cut = (s: string | null, max: number) => (s !== null && s.length > max ? s.slice(0, max) : s);

/**
 * What is kept of a state to paint at once next time: capped lists and long texts cut, so that the
 * view's saved state stays small (it is only shown until the live state arrives, a moment later).
 */
export function lastKnown(s: SidebarState): SidebarState {
  const N = 50;
  return {
    ...s,
    approvals: s.approvals.slice(0, N).map((a) => ({ ...a, command: cut(a.command, 4000), detail: cut(a.detail, 2000), diff: cut(a.diff, 4000) })),
    inbox: s.inbox.slice(0, N).map((i) => ({ ...i, content: cut(i.content, 2000)! })),
    sessions: s.sessions.slice(0, 2 * N),
    streams: s.streams.slice(0, N),
    messages: s.messages.slice(0, N).map((m) => ({ ...m, content: cut(m.content, 2000)! })),
  };
}

/** A light shape check of what arrives on `message`: the host validates, but this is a trust boundary. */
export function asHostMessage(data: unknown): HostToWebview | null {
  if (!data || typeof data !== "object") return null;
  const m = data as { type?: unknown; state?: unknown; requestId?: unknown; ok?: unknown; message?: unknown; section?: unknown; id?: unknown };
  switch (m.type) {
    case "state":
      return isSidebarState(m.state) ? (data as HostToWebview) : null;
    case "result":
      return typeof m.requestId === "string" && typeof m.ok === "boolean" && typeof m.message === "string" ? (data as HostToWebview) : null;
    case "focus":
      return typeof m.section === "string" && (SECTIONS as readonly string[]).includes(m.section) && (m.id === undefined || typeof m.id === "string")
        ? (data as HostToWebview)
        : null;
    default:
      return null;
  }
}

function isSidebarState(s: unknown): s is SidebarState {
  if (!s || typeof s !== "object") return false;
  const o = s as Record<string, unknown>;
  return (
    !!o.connection &&
    typeof o.connection === "object" &&
    Array.isArray(o.approvals) &&
    Array.isArray(o.inbox) &&
    Array.isArray(o.sessions) &&
    Array.isArray(o.streams) &&
    Array.isArray(o.messages) &&
    typeof o.now === "string"
  );
}

let counter = 0;
export function newRequestId(): string {
  counter += 1;
  const rnd = typeof crypto !== "undefined" && "randomUUID" in crypto ? crypto.randomUUID().slice(0, 8) : Math.random().toString(36).slice(2, 10);
  return `wv-${Date.now().toString(36)}-${counter}-${rnd}`;
}
