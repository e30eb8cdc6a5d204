// New approvals raise a notification with Approve / Reject / Show (setting switchboard.notifications.approvals),
// and read-only `env` requests can be approved automatically (switchboard.approvals.autoApproveEnv, off by default).
import * as vscode from "vscode";
import { visibleLine, type Approval } from "../protocol/index.js";
import type { Actions } from "./actions.js";
import type { Switchboard } from "./controller.js";
import { log } from "./log.js";
import type { Settings } from "./settings.js";

export function watchApprovals(sb: Switchboard, actions: Actions, settings: () => Settings, show: (a: Approval) => void): vscode.Disposable {
  return sb.onNewApprovals((approvals) => {
    for (const a of approvals) {
      const s = settings();
      if (a.action === "env" && s.autoApproveEnv) {
        // Every window may do this; the broker keeps exactly one decision, so the race is harmless.
        actions.approve(a.approval_id, `auto-approve env (${actions.decider})`).then(
          () => log().info(`auto-approved env request ${a.approval_id}: ${a.command ?? a.summary}`),
          (e: Error) => log().info(`auto-approve of ${a.approval_id} skipped: ${e.message}`),
        );
        continue;
      }
      if (s.notifications === "off" || (s.notifications === "sh-only" && a.action !== "sh")) continue;
      void notify(a, actions, show);
    }
  });
}

async function notify(a: Approval, actions: Actions, show: (a: Approval) => void): Promise<void> {
  // Agent text with its hidden characters made visible, as in the sidebar and the CLI.
  const what = a.command ? `\`${visibleLine(a.command, 120)}\`` : visibleLine(a.summary, 120);
  const choice = await vscode.window.showWarningMessage(`${visibleLine(a.session, 60)} asks to run (${a.action}): ${what}`, "Approve", "Reject", "Show");
  try {
    if (choice === "Approve") vscode.window.setStatusBarMessage(await actions.approve(a.approval_id), 4000);
    else if (choice === "Reject") {
      const reason = await vscode.window.showInputBox({ title: `Reject: ${visibleLine(a.summary, 120)}`, prompt: "Reason for the agent (optional)" });
      if (reason !== undefined) vscode.window.setStatusBarMessage(await actions.reject(a.approval_id, reason || undefined), 4000);
    } else if (choice === "Show") show(a);
  } catch (err) {
    void vscode.window.showInformationMessage((err as Error).message);
  }
}
