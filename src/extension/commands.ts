// The commands of the Command Palette and the sidebar's title bar (package.json `contributes.commands`),
// each a small handler: a string it returns is shown in the status bar, an error it throws in a message.
import * as vscode from "vscode";
import { visibleLine } from "../protocol/index.js";
import type { Actions } from "./actions.js";
import { pickAndOpenAgentSession } from "./agent-session.js";
import { pickApproval } from "./approval-pick.js";
import { openClaudeSession } from "./claude-session.js";
import type { BrokerLink } from "./broker-link.js";
import { log } from "./log.js";
import { openPiSession } from "./pi-session.js";
import type { Settings } from "./settings.js";
import type { Sidebar } from "./sidebar.js";

export interface CommandDeps {
  extensionPath: string;
  sb: BrokerLink;
  actions: Actions;
  sidebar: Sidebar;
  /** The settings as they are now (they change while the window runs). */
  settings: () => Settings;
  openStream: (streamId: string) => void;
}

function command(id: string, run: (...args: unknown[]) => unknown): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      const message = await run(...args);
      if (typeof message === "string") vscode.window.setStatusBarMessage(`$(check) ${message}`, 4000);
    } catch (err) {
      void vscode.window.showErrorMessage((err as Error).message);
    }
  });
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const { sb, actions, sidebar, settings, openStream } = deps;
  return [
    command("switchboard.focus", () => sidebar.reveal()),
    command("switchboard.showLogs", () => log().show()),
    command("switchboard.reconnect", () => sb.restart("Switchboard: Reconnect")),
    command("switchboard.restartBroker", async () => {
      const record = sb.brokerRecord;
      if (record) {
        log().info(`stopping the broker (pid ${record.pid}) for a restart`);
        try {
          process.kill(record.pid, "SIGTERM");
        } catch {
          // already gone
        }
      }
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: "Restarting the Switchboard broker…" }, () =>
        sb.restart("Switchboard: Restart Broker"),
      );
      return "Broker restarted.";
    }),
    // By keyboard too, a decision shows what it decides first (a Quick Pick; Enter decides).
    command("switchboard.approveOldest", async () => {
      const a = await pickApproval(actions, "approve");
      return a ? actions.approve(a.approval_id) : undefined;
    }),
    command("switchboard.rejectOldest", async () => {
      const a = await pickApproval(actions, "reject");
      if (!a) return undefined;
      const reason = await vscode.window.showInputBox({ title: `Reject: ${visibleLine(a.summary, 120)}`, prompt: "Reason for the agent (optional)" });
      return reason === undefined ? undefined : actions.reject(a.approval_id, reason || undefined);
    }),
    command("switchboard.routeInboxItem", async () => {
      const item = await actions.pickInboxItem();
      return item ? actions.route(item.id) : undefined;
    }),
    command("switchboard.sendMessage", () => actions.sendTo()),
    command("switchboard.newPiSession", () => void openPiSession(deps.extensionPath, settings())),
    command("switchboard.newClaudeSession", () => void openClaudeSession(deps.extensionPath, settings())),
    command("switchboard.newAgentSession", async () => void (await pickAndOpenAgentSession(deps.extensionPath, settings()))),
    command("switchboard.openStreamTerminal", async (streamId?: unknown) => {
      if (typeof streamId === "string") return openStream(streamId);
      const streams = sb.state().streams;
      if (!streams.length) throw new Error("No output streams yet.");
      const picked = await vscode.window.showQuickPick(
        streams.map((s) => ({
          label: `${s.state === "streaming" ? "$(sync~spin)" : "$(terminal)"} ${visibleLine(s.command, 100)}`,
          description: `${s.action} · ${visibleLine(s.session, 60)}`,
          stream: s,
        })),
        { title: "Open the terminal of an output stream" },
      );
      if (picked) openStream(picked.stream.stream_id);
    }),
  ];
}
