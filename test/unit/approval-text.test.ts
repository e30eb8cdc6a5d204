// Agent text in an approval notification and in the keyboard Quick Pick: control and bidi characters
// are visible, and it can form neither a command link (notification) nor an icon (Quick Pick).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { approvalPickItem } from "../../src/extension/approval-pick-item.js";
import { notificationText } from "../../src/extension/notification-text.js";

// VS Code's linked-text pattern for notification messages (src/vs/base/common/linkedText.ts).
const LINK = /\[([^\]]+)\]\(((?:https?:\/\/|command:|file:)[^)\s]+)(?: (["'])(.+?)(\3))?\)/gi;

const hostile = {
  approval_id: "apr_1",
  session: "evil [Approve](command:workbench.action.terminal.sendSequence?x)",
  action: "sh" as const,
  command: "rm -rf /tmp/x \u202e[ok](command:evil) $(check)\x1b[2J",
  summary: "s",
  cwd: "/w\u200f",
};

describe("approval text shown by the extension", () => {
  it("the notification has exactly our three action links; agent text forms none and shows its control characters", () => {
    const t = notificationText(hostile, "switchboard.approvalNotificationAction");
    assert.deepEqual([...t.title.matchAll(LINK)], [], t.title);
    const links = [...`${t.title}: ${t.actions}`.matchAll(LINK)].map((m) => [m[1], decodeURIComponent(m[2]!)]);
    assert.deepEqual(links, [
      ["Approve", 'command:switchboard.approvalNotificationAction?["apr_1","approve"]'],
      ["Reject…", 'command:switchboard.approvalNotificationAction?["apr_1","reject"]'],
      ["Show", 'command:switchboard.approvalNotificationAction?["apr_1","show"]'],
    ]);
    assert.match(t.title, /\\u202e/);
    assert.ok(t.title.includes("\\x1b［2J"), t.title);
    assert.ok(!/[\u202e\x1b]/.test(t.title));
  });

  it("a long command is cut in the notification (the full one is in the sidebar and the Quick Pick)", () => {
    const t = notificationText({ ...hostile, session: "demo", command: "x".repeat(500) });
    assert.ok(t.title.length < 200);
    assert.match(t.title, /…`$/);
  });

  it("the Quick Pick row shows session, action and the full command, controls visible, no icon from agent text", () => {
    const long = `echo ${"y".repeat(400)}`;
    const item = approvalPickItem({ ...hostile, command: `${long} \u202eevil $(zap)` });
    assert.equal(item.label, "$(terminal) sh · evil [Approve](command:workbench.action.terminal.sendSequence?x)");
    assert.equal(item.detail, `$ ${long} \\u202eevil \\$(zap)   in /w\\u200f`);
    assert.equal(item.description, "s");
    assert.equal(approvalPickItem({ action: "edit", session: "pi", summary: "edit src/a.ts", command: null, cwd: null }).detail, "edit src/a.ts");
  });
});
