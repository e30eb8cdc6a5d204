// New approvals raise a notification with Approve / Reject… / Show (setting
// switchboard.notifications.approvals), and read-only `env` requests can be approved automatically
// (switchboard.approvals.autoApproveEnv, off by default).
//
// A notification must not outlive its request: once it is decided anywhere (the sidebar, another
// window, the CLI) or withdrawn or expired, it goes away, toast and Notification Center entry alike.
// VS Code closes a notification programmatically only when it is a progress notification whose task
// ends, so each one is a `withProgress` notification whose task waits for the request to leave the
// pending state; its actions are command links in the message. A click that still comes too late
// says what already happened (Actions turns it into "Already approved by …").
import * as vscode from "vscode";
import { visibleLine, type Approval } from "../protocol/index.js";
import type { Actions } from "./actions.js";
import type { Switchboard } from "./controller.js";
import { log } from "./log.js";
import { notificationText } from "./notification-text.js";
import type { Settings } from "./settings.js";

/** The command the notification's links run: `[approvalId, "approve" | "reject" | "show"]`. */
export const NOTIFICATION_COMMAND = "switchboard.approvalNotificationAction";

export function watchApprovals(sb: Switchboard, actions: Actions, settings: () => Settings, show: (id: string) => void): vscode.Disposable {
  /** Open notifications by approval id: calling the value closes that notification. */
  const open = new Map<string, () => void>();
  const closeIfDecided = () => {
    const feed = sb.feed;
    if (!feed) return; // not connected: nothing is known to be decided
    for (const [id, close] of open) if ((feed.approvals.get(id) as { state?: unknown } | undefined)?.state !== "pending") close();
  };

  const notify = (a: Approval) =>
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: notificationText(a).title, cancellable: true }, (progress, token) => {
      progress.report({ message: notificationText(a, NOTIFICATION_COMMAND).actions });
      return new Promise<void>((resolve) => {
        open.set(a.approval_id, resolve);
        token.onCancellationRequested(() => resolve()); // "Cancel" only hides it; the request stays pending
        closeIfDecided(); // decided while this was being built
      }).finally(() => open.delete(a.approval_id));
    });

  const run = async (id: string, what: string) => {
    try {
      if (what === "show") return show(id);
      // The decision is what matters now: close the notification whatever the broker answers.
      const sentence = what === "approve" ? await actions.approve(id) : await rejectWithReason(actions, id);
      if (sentence === undefined) return; // Escape in the reason box: still pending, the notification stays
      open.get(id)?.();
      vscode.window.setStatusBarMessage(`$(check) ${sentence}`, 4000);
    } catch (err) {
      open.get(id)?.();
      void vscode.window.showInformationMessage((err as Error).message);
    }
  };

  return vscode.Disposable.from(
    sb.onNewApprovals((approvals) => {
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
        void notify(a);
      }
    }),
    sb.onDidChange(closeIfDecided),
    vscode.commands.registerCommand(NOTIFICATION_COMMAND, (id: unknown, what: unknown) => {
      if (typeof id === "string" && (what === "approve" || what === "reject" || what === "show")) return run(id, what);
    }),
    {
      dispose: () => {
        for (const close of [...open.values()]) close();
      },
    },
  );
}

async function rejectWithReason(actions: Actions, id: string): Promise<string | undefined> {
  // Said before asking for a reason, so nobody types one for a request that is already decided.
  await actions.assertPending(id);
  const a = actions.pendingApprovals().find((x) => x.approval_id === id);
  const reason = await vscode.window.showInputBox({ title: `Reject: ${visibleLine(a?.summary ?? id, 120)}`, prompt: "Reason for the agent (optional)" });
  return reason === undefined ? undefined : actions.reject(id, reason || undefined);
}
