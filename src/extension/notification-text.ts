// The text of an approval notification. Pure (no vscode), so it is tested without VS Code.
// VS Code turns `[label](command:…)` in a notification's text into a link that runs the command, so
// agent text must never form one, nor take part in one of ours (an unclosed `[` would swallow our
// "[Approve]" into a label of its choosing): control and bidi characters become visible escapes, and
// its square brackets are shown as fullwidth ［ ］. Only our own action links stay links.
import type { Approval } from "../protocol/index.js";
import { visibleLine, visibleText } from "../protocol/visible-text.js";

const MAX_COMMAND = 120;

/** Square brackets shown as fullwidth ［ ］, so that text cannot open or close a link. */
const noLinks = (text: string) => text.replace(/\[/g, "［").replace(/\]/g, "］");

/** Agent text as plain notification text: visible control characters, no link syntax. */
export function notificationSafe(text: string): string {
  return noLinks(visibleText(text));
}

/**
 * `title`: "demo asks to run (sh): `make deploy`"; `actions`: the Approve · Reject… · Show links,
 * each running `command` with `[approvalId, "approve" | "reject" | "show"]`.
 */
export function notificationText(a: Pick<Approval, "approval_id" | "session" | "action" | "command" | "summary">, command = ""): { title: string; actions: string } {
  const what = a.command ? `\`${noLinks(visibleLine(a.command, MAX_COMMAND))}\`` : noLinks(visibleLine(a.summary, MAX_COMMAND));
  const link = (label: string, what: string) => `[${label}](command:${command}?${encodeURIComponent(JSON.stringify([a.approval_id, what]))})`;
  return {
    title: `${noLinks(visibleLine(a.session, 60))} asks to run (${a.action}): ${what}`,
    actions: `${link("Approve", "approve")} · ${link("Reject…", "reject")} · ${link("Show", "show")}`,
  };
}
