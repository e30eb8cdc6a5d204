// The text of an approval notification. Pure (no vscode), so it is tested without VS Code.
// VS Code turns `[label](command:…)` in a notification's text into a link that runs the command, so
// agent text must never form one, nor take part in one of ours (an unclosed `[` would swallow our
// "[Approve]" into a label of its choosing): control and bidi characters become visible escapes, and
// its square brackets are shown as fullwidth ［ ］. Only our own action links stay links.
import type { Approval } from "../protocol/index.js";
import { visibleText } from "./terminal-format.js";

const MAX_COMMAND = 120;

/** Agent text as plain notification text: visible control characters, no link syntax. */
export function notificationSafe(text: string): string {
  return visibleText(text).replace(/\[/g, "［").replace(/\]/g, "］");
}

/**
 * `title`: "demo asks to run (sh): `make deploy`"; `actions`: the Approve · Reject… · Show links,
 * each running `command` with `[approvalId, "approve" | "reject" | "show"]`.
 */
export function notificationText(a: Pick<Approval, "approval_id" | "session" | "action" | "command" | "summary">, command = ""): { title: string; actions: string } {
  const cmd = a.command && a.command.length > MAX_COMMAND ? a.command.slice(0, MAX_COMMAND - 1) + "…" : a.command;
  const what = cmd ? `\`${notificationSafe(cmd)}\`` : notificationSafe(a.summary);
  const link = (label: string, what: string) => `[${label}](command:${command}?${encodeURIComponent(JSON.stringify([a.approval_id, what]))})`;
  return {
    title: `${notificationSafe(a.session)} asks to run (${a.action}): ${what}`,
    actions: `${link("Approve", "approve")} · ${link("Reject…", "reject")} · ${link("Show", "show")}`,
  };
}
