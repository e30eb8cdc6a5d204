// The Policy section's pieces: one rule in force (its decision, pattern, scope and source, with
// Remove and Open file), and the notes above the list (the built-in guards, workspace rules files
// waiting to be accepted). Rule text comes from files anyone may have written: text bindings only.
import { html, nothing, type TemplateResult } from "lit";
import type { PolicyView, RuleView } from "../protocol/policy.js";
import { icon } from "./chrome.js";
import { buttonIcon } from "./items.js";

export interface PolicyContext {
  readonly readOnly: boolean;
  isBusy(key: string): boolean;
  removeRule(r: RuleView): void;
  openRuleFile(r: RuleView): void;
  acceptWorkspaceRules(root: string): void;
}

const DECISIONS = {
  allow: { icon: "check", text: "allow" },
  ask: { icon: "question", text: "ask" },
  deny: { icon: "circle-slash", text: "deny" },
} as const;

/** The scope in words, and whether the rule counts. */
function scopeText(r: RuleView): string {
  switch (r.scope) {
    case "session":
      return "this session only";
    case "workspace":
      return r.active ? "workspace (accepted)" : "workspace (not accepted: ignored)";
    case "user":
      return "all my sessions";
    case "builtin":
      return "built-in";
    case "file":
      return "file";
  }
}

/** Where its file is, when it has one to open. */
export function ruleHasFile(r: RuleView): boolean {
  return r.scope === "user" || r.scope === "workspace";
}

export function ruleItem(r: RuleView, key: string, ctx: PolicyContext): TemplateResult {
  const d = DECISIONS[r.rule.decision];
  const pattern = r.rule.command !== undefined ? r.rule.command : `edit ${r.rule.edit ?? ""}`;
  const busy = ctx.isBusy(`rule:${key}`);
  const label = `Rule ${r.rule.id}: ${d.text} ${pattern}, ${scopeText(r)}`;
  return html`<article class="card rule decision-${r.rule.decision} ${r.active ? "" : "inactive"}" tabindex="-1" data-id=${key} aria-label=${label}>
    <div class="card-head">
      <span class="decision-badge decision-${r.rule.decision}">${icon(d.icon)}<span>${d.text}</span></span>
      <code class="rule-pattern" title=${pattern}>${pattern}</code>
    </div>
    <div class="rule-meta">
      <span class="rule-id">${r.rule.id}</span>
      <span class="rule-scope scope-${r.scope}">${scopeText(r)}</span>
      <span class="rule-where" title=${r.where}>${r.where}</span>
    </div>
    ${r.rule.note ? html`<p class="rule-note">${r.rule.note}</p>` : nothing}
    ${
      r.scope === "builtin"
        ? html`<p class="rule-note">On because of the setting <code>switchboard.approvals.autoApproveEnv</code>.</p>`
        : html`<div class="actions">
          <vscode-button class="remove-rule" secondary ?disabled=${busy || ctx.readOnly} aria-label=${`Remove rule ${r.rule.id}`} @click=${() => ctx.removeRule(r)}
            >${buttonIcon("trash")}${busy ? "Removing…" : "Remove"}</vscode-button
          >
          ${
            ruleHasFile(r)
              ? html`<vscode-button class="open-rule-file" secondary ?disabled=${ctx.readOnly} aria-label=${`Open the file of rule ${r.rule.id}`} @click=${() => ctx.openRuleFile(r)}
                  >${buttonIcon("go-to-file")}Open file</vscode-button
                >`
              : nothing
          }
        </div>`
    }
  </article>`;
}

/** What the list does not show: the guards that are always on, and workspace files to accept. */
export function policyNotes(view: PolicyView | null | undefined, ctx: PolicyContext): TemplateResult | typeof nothing {
  if (!view) return nothing;
  const guards = view.rules.filter((r) => r.scope === "builtin" && r.rule.decision === "ask").length;
  const waiting = view.workspaces.filter((w) => !w.accepted && w.sha256);
  const broken = view.workspaces.filter((w) => w.error);
  return html`<div class="policy-notes">
    ${guards ? html`<p class="policy-note">${icon("shield")} ${guards} built-in guards always ask (options that make a read-only program write or run others).</p>` : nothing}
    ${waiting.map(
      (w) => html`<p class="policy-note workspace-waiting">
        ${icon("warning")} The allow rules of <code title=${w.file}>${w.file}</code> are ignored until you accept this exact file.
        <button class="link-btn inline accept-workspace" ?disabled=${ctx.readOnly} @click=${() => ctx.acceptWorkspaceRules(w.root)}>Review and accept…</button>
      </p>`,
    )}
    ${broken.map((w) => html`<p class="policy-note workspace-error">${icon("error")} ${w.error}</p>`)}
    ${view.user_error ? html`<p class="policy-note user-error">${icon("error")} ${view.user_error}; until it is fixed, none of its allow rules apply (its deny and ask rules stay).</p>` : nothing}
  </div>`;
}
