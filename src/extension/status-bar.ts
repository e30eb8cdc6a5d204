// The status-bar item: broker state and pending approvals; clicking it opens the sidebar.
import * as vscode from "vscode";
import type { BrokerLink } from "./broker-link.js";

export function statusBar(sb: BrokerLink): vscode.Disposable {
  const item = vscode.window.createStatusBarItem("switchboard.status", vscode.StatusBarAlignment.Left, 50);
  item.name = "Agent Switchboard";
  item.command = "switchboard.focus";
  const render = () => {
    const n = sb.pendingCount();
    const phase = sb.connectionPhase;
    const icon = phase === "connected" ? "$(radio-tower)" : phase === "disconnected" ? "$(debug-disconnect)" : "$(sync~spin)";
    item.text = `${icon} Switchboard${n ? ` $(bell-dot) ${n}` : ""}`;
    item.tooltip =
      phase === "connected"
        ? `Agent Switchboard: connected${n ? `, ${n} approval${n === 1 ? "" : "s"} waiting` : ""}. Click to open the sidebar.`
        : `Agent Switchboard: ${phase}${sb.connectionReason ? ` (${sb.connectionReason})` : ""}. Click to open the sidebar.`;
    item.backgroundColor = n
      ? new vscode.ThemeColor("statusBarItem.warningBackground")
      : phase === "disconnected"
        ? new vscode.ThemeColor("statusBarItem.errorBackground")
        : undefined;
    item.accessibilityInformation = { label: item.tooltip as string };
  };
  render();
  item.show();
  const sub = sb.onDidChange(render);
  return { dispose: () => (sub.dispose(), item.dispose()) };
}
