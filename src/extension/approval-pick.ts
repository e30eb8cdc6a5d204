// Keyboard decisions (Ctrl+Alt+Shift+Y / N) show what they decide before they decide it: a Quick Pick
// of the pending requests, oldest first and highlighted, each with its session, action, full command
// (or summary) and folder; Enter decides the highlighted one, Escape decides nothing.
import * as vscode from "vscode";
import type { Approval } from "../protocol/index.js";
import type { Actions } from "./actions.js";
import { approvalPickItem } from "./approval-pick-item.js";

type Item = vscode.QuickPickItem & { approval: Approval };

const DIFF_BUTTON: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon("diff"), tooltip: "Show the diff" };

/** Lets the person pick the request to approve (or reject); undefined if they pressed Escape. */
export function pickApproval(actions: Actions, verb: "approve" | "reject"): Promise<Approval | undefined> {
  const pending = actions.pendingApprovals();
  if (!pending.length) return Promise.reject(new Error("No approval is waiting."));
  const qp = vscode.window.createQuickPick<Item>();
  qp.title = verb === "approve" ? "Approve: Enter approves the highlighted request" : "Reject: Enter asks for a reason, then rejects the highlighted request";
  qp.placeholder = `${pending.length} pending, oldest first; type to filter by session, action or command`;
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  qp.items = pending.map((a) => ({ ...approvalPickItem(a), approval: a, buttons: a.diff ? [DIFF_BUTTON] : [] }));
  qp.activeItems = qp.items.slice(0, 1);
  return new Promise((resolve) => {
    let picked: Approval | undefined;
    qp.onDidTriggerItemButton((e) => void actions.showDiff(e.item.approval.approval_id).catch((err: Error) => void vscode.window.showErrorMessage(err.message)));
    qp.onDidAccept(() => {
      picked = qp.activeItems[0]?.approval;
      qp.hide();
    });
    qp.onDidHide(() => {
      qp.dispose();
      resolve(picked);
    });
    qp.show();
  });
}
