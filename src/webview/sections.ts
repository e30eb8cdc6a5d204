// Each section's fixed words: its title, what its count means, what it says when empty, the buttons in
// its header, and the initial height guess of its items.
import { html, nothing, type TemplateResult } from "lit";
import type { SidebarState } from "../protocol/webview.js";
import { icon, type Command } from "./chrome.js";
import type { Derived } from "./derive.js";
import { plural } from "./format.js";
import type { SectionId } from "./vscode.js";

export const TITLES: Record<SectionId, string> = {
  approvals: "Approvals",
  inbox: "Inbox",
  sessions: "Sessions",
  streams: "Streams",
  messages: "Messages",
  policy: "Policy",
};

/** Initial per-item height guesses (px) until items are measured. */
export const ESTIMATES: Record<SectionId, number> = { approvals: 170, inbox: 110, sessions: 110, streams: 52, messages: 90, policy: 64 };

export function countText(id: SectionId, d: Derived): string {
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
    case "policy":
      return plural(n, "rule");
  }
}

/** The buttons in a section's header. */
export function sectionActions(id: SectionId, command: (c: Command) => void, openUserRules: () => void): TemplateResult | typeof nothing {
  if (id === "sessions")
    return html`<div class="section-actions">
      <button class="icon-btn" data-command="newPiSession" aria-label="New pi session" title="New pi session" @click=${() => command("newPiSession")}>${icon("add")}</button>
    </div>`;
  if (id === "policy")
    return html`<div class="section-actions">
      <button class="icon-btn open-user-rules" aria-label="Open the user rules file" title="Open the user rules file" @click=${openUserRules}>${icon("go-to-file")}</button>
    </div>`;
  return nothing;
}

export function emptyView(id: SectionId, state: SidebarState | null, command: (c: Command) => void): TemplateResult {
  const selfName = state?.self?.session_name;
  switch (id) {
    case "approvals":
      return html`<p class="empty">No approvals waiting. Agents ask here before running commands; try <code>switchboard run -- echo hello</code> in a terminal.</p>`;
    case "inbox":
      return html`<p class="empty">No undelivered messages. Messages sent without a recipient wait here (<code>switchboard send "…"</code>) until you route them to a session.</p>`;
    case "sessions":
      return html`<p class="empty">
        No open sessions. Start an agent session
        (<button class="link-btn inline" @click=${() => command("newPiSession")}>Switchboard: New pi Session</button>) or run
        <code>switchboard run</code>.
      </p>`;
    case "streams":
      return html`<p class="empty">No output streams yet. Approved commands stream their output here; try <code>switchboard run -- ls</code> and open it to watch it in a terminal.</p>`;
    case "messages":
      return html`<p class="empty">No messages for this window. Sessions reach it with <code>switchboard send --to ${selfName || "NAME"} "…"</code>.</p>`;
    case "policy":
      if (!state?.policy) return html`<p class="empty">The approval rules in force show here once the broker has sent them.</p>`;
      return html`<p class="empty">
        No approval rules: every request asks you. Save one with <strong>Allow similar…</strong> on an approval, or run <code>switchboard policy add</code>.
      </p>`;
  }
}
