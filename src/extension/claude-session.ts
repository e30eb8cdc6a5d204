// Switchboard: New Claude Code Session: a terminal in the workspace running `claude` with Switchboard's
// hooks passed through `--settings` (nothing in the user's or the project's settings changes), so the
// session registers, asks for approval before Bash/Write/Edit calls and streams approved commands.
// And: a notification naming a session when it starts waiting for its user (Claude's Notification hook).
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import { hookCommand, switchboardHooks } from "../adapters/claude/install.js";
import { findExecutable } from "../platform/executable.js";
import { visibleText } from "../protocol/visible-text.js";
import type { Switchboard } from "./controller.js";
import type { Settings } from "./settings.js";

/** The `--settings` JSON for a Claude Code started from this window. */
export function claudeHookSettings(extensionPath: string, settings: Settings): string {
  const dist = join(extensionPath, "dist");
  const shellEntry = join(dist, "claude-hook.sh");
  // Inside VS Code desktop the runtime is Electron: run it as Node, as the broker is run.
  const electron = typeof process.versions.electron === "string";
  const command = hookCommand({
    hookEntry: join(dist, "claude-hook.js"),
    node: process.execPath,
    home: settings.brokerHome,
    ...(electron ? { envPrefix: "ELECTRON_RUN_AS_NODE=1" } : {}),
    ...(process.platform !== "win32" && existsSync(shellEntry) ? { shellEntry } : {}),
  });
  return JSON.stringify({ hooks: switchboardHooks(command) });
}

export function openClaudeSession(extensionPath: string, settings: Settings): vscode.Terminal {
  const claude = findExecutable(settings.claudeCommand);
  if (!claude)
    throw new Error(
      `Claude Code was not found (setting switchboard.claude.command is "${settings.claudeCommand}"). Install it with \`npm install -g @anthropic-ai/claude-code\`, or point the setting at its path.`,
    );
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const terminal = vscode.window.createTerminal({
    name: "Claude Code · Switchboard",
    shellPath: claude,
    shellArgs: ["--settings", claudeHookSettings(extensionPath, settings), ...settings.claudeArgs],
    ...(cwd ? { cwd } : {}),
    // The hooks must reach the same broker as this window.
    env: settings.brokerHome ? { SWITCHBOARD_HOME: settings.brokerHome } : {},
    iconPath: new vscode.ThemeIcon("sparkle"),
  });
  terminal.show();
  return terminal;
}

/** "Claude Code session <name> is waiting for you: <what it said>", with a button to open the sidebar. */
export function watchWaitingSessions(sb: Switchboard): vscode.Disposable {
  return sb.onSessionsWaiting((sessions) => {
    for (const ep of sessions) {
      const what = /^\[waiting for you(?::\s*(.*?))?\]/.exec(ep.task_hint ?? "")?.[1];
      // Agent text (the session name, Claude's message) with control and bidi characters made visible.
      const who = ep.kind === "claude-code" ? `Claude Code session "${visibleText(ep.label)}"` : `Session "${visibleText(ep.label)}"`;
      void vscode.window.showInformationMessage(`${who} is waiting for you${what ? `: ${visibleText(what)}` : "."}`, "Show").then((choice) => {
        if (choice === "Show") void vscode.commands.executeCommand("switchboard.focus");
      });
    }
  });
}
