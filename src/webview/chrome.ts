// The sidebar's frame around the sections: the connection header (and its banners) and the notices
// that confirm or explain the user's actions.
import { html, nothing, type TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import type { SidebarState, WebviewToHost } from "../protocol/webview.js";
import { buttonIcon } from "./items.js";

export type Command = Extract<WebviewToHost, { type: "command" }>["command"];

export interface Notice {
  id: number;
  ok: boolean;
  text: string;
}

export const icon = (name: string, extra = "") => html`<span class="codicon codicon-${name} ${extra}" aria-hidden="true"></span>`;

const PHASES: Record<string, { icon: string; spin: boolean; text: string }> = {
  connected: { icon: "pass-filled", spin: false, text: "Connected" },
  connecting: { icon: "loading", spin: true, text: "Connecting…" },
  reconnecting: { icon: "sync", spin: true, text: "Reconnecting…" },
  disconnected: { icon: "debug-disconnect", spin: false, text: "Disconnected" },
};

/** The connection line, the "not connected" banner and the broker's warnings. */
export function headerView(state: SidebarState | null, stale: boolean, command: (c: Command) => void): TemplateResult {
  const c = state?.connection;
  const phase = c?.phase ?? "connecting";
  const spec = PHASES[phase] ?? { icon: "question", spin: false, text: String(phase) };
  // Broker version and address as separate pieces that wrap to a second line in a narrow sidebar
  // rather than being cut off. (Reconnect and Show Logs are in the view's own title bar.)
  let details: string[] = [];
  if (phase === "connected") {
    details = [c?.broker_version ? `broker ${c.broker_version}` : "", c?.broker_url ? c.broker_url.replace(/^https?:\/\//, "") : ""].filter(Boolean);
  } else if (c?.reason) details = [c.reason];
  else if (stale) details = ["showing the last known state"];
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
            <vscode-button class="banner-reconnect" @click=${() => command("reconnect")}>${buttonIcon("refresh")}Reconnect</vscode-button>
            <vscode-button class="banner-restart" secondary @click=${() => command("restartBroker")}>Restart broker</vscode-button>
          </div>
        </div>`
        : nothing
    }
    ${(state?.warnings ?? []).map((w) => html`<div class="banner broker-warning" role="alert"><p>${icon("warning")} ${w}</p></div>`)}`;
}

/** Errors (until closed) above confirmations (which fade). */
export function noticesView(notices: Notice[], close: (id: number) => void): TemplateResult {
  const ok = notices.filter((n) => n.ok);
  const errors = notices.filter((n) => !n.ok);
  const one = (n: Notice) => html`<div class="notice ${n.ok ? "ok" : "error"}">
    ${icon(n.ok ? "check" : "error")}<span class="notice-text">${n.text}</span>
    <button class="icon-btn" aria-label="Close this notice" title="Close" @click=${() => close(n.id)}>${icon("close")}</button>
  </div>`;
  return html`<div class="notices">
    <div class="notice-region" role="alert">${repeat(errors, (n) => n.id, one)}</div>
    <div class="notice-region" role="status" aria-live="polite">${repeat(ok, (n) => n.id, one)}</div>
  </div>`;
}
