// Switchboard: New pi Session: a terminal in the workspace running pi with the Switchboard adapter
// (dist/pi-extension.js), so the session registers, asks for approvals and streams its commands.
import { join } from "node:path";
import { findExecutable } from "../platform/executable.js";
import * as vscode from "vscode";
import type { Settings } from "./settings.js";

export function openPiSession(extensionPath: string, settings: Settings): vscode.Terminal {
  const pi = findExecutable(settings.piCommand);
  if (!pi)
    throw new Error(
      `pi was not found (setting switchboard.pi.command is "${settings.piCommand}"). Install it with \`npm install -g @mariozechner/pi-coding-agent\`, or point the setting at its path.`,
    );
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const terminal = vscode.window.createTerminal({
    name: "pi · Switchboard",
    shellPath: pi,
    shellArgs: ["-e", join(extensionPath, "dist", "pi-extension.js"), ...settings.piArgs],
    ...(cwd ? { cwd } : {}),
    // The adapter must reach the same broker as this window.
    env: settings.brokerHome ? { SWITCHBOARD_HOME: settings.brokerHome } : {},
    iconPath: new vscode.ThemeIcon("hubot"),
  });
  terminal.show();
  return terminal;
}
