// One pending request as a Quick Pick row. Pure (no vscode), so it is tested without VS Code.
// Everything in it comes from the agent: control and bidi characters become visible escapes (a
// command cannot hide a part of itself or reorder what is shown), and `$(` cannot turn into an icon.
import type { Approval } from "../protocol/index.js";
import { visibleText } from "../protocol/visible-text.js";

const ICON: Record<string, string> = { sh: "terminal", env: "eye", edit: "edit", tool: "tools" };

/** Agent text for a Quick Pick label, description or detail. */
export function pickSafe(text: string): string {
  return visibleText(text).replace(/\$\(/g, "\\$(");
}

/**
 * label: "$(terminal) sh · demo session"; description: the summary (when the command does not say it
 * all); detail: the full command (or, for an edit, the summary), then "in <cwd>".
 */
export function approvalPickItem(a: Pick<Approval, "action" | "session" | "summary" | "command" | "cwd">): { label: string; description: string; detail: string } {
  const what = a.command ?? a.summary;
  return {
    label: `$(${ICON[a.action] ?? "question"}) ${a.action} · ${pickSafe(a.session)}`,
    description: a.command && a.summary !== a.command ? pickSafe(a.summary) : "",
    detail: `${a.command ? "$ " : ""}${pickSafe(what)}${a.cwd ? `   in ${pickSafe(a.cwd)}` : ""}`,
  };
}
