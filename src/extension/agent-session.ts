// Switchboard: New Agent Session…: pick an ACP agent (found on PATH, or from `switchboard.agents`)
// and open a terminal running `switchboard acp -- CMD ARGS…` (dist/acp.js, the command's own small
// bundle, on VS Code's own runtime with the flags of node-flags.ts) in the workspace, so the agent
// becomes a session with approvals, streams and messages.
import { join } from "node:path";
import * as vscode from "vscode";
import { acpNodeArgs } from "../adapters/acp/node-flags.js";
import { agentChoices, type AgentChoice } from "./agent-choices.js";
import type { Settings } from "./settings.js";

export async function pickAndOpenAgentSession(extensionPath: string, settings: Settings): Promise<vscode.Terminal | undefined> {
  const choices = agentChoices(settings.agents);
  if (!choices.length)
    throw new Error(
      "No ACP agent was found on PATH (claude-agent-acp, codex-acp, gemini, opencode, qwen, goose). Install one, or add it to the switchboard.agents setting as {name, command, args, env}.",
    );
  const picked = await vscode.window.showQuickPick(
    choices.map((c) => ({
      label: c.name,
      description: [c.command, ...c.args].join(" "),
      detail: c.source === "setting" ? (c.path ? "from switchboard.agents" : "from switchboard.agents (not found on PATH)") : c.path,
      choice: c,
    })),
    { title: "New Agent Session", placeHolder: "Which ACP agent?" },
  );
  return picked ? openAgentSession(extensionPath, settings, picked.choice) : undefined;
}

export function openAgentSession(extensionPath: string, settings: Settings, agent: AgentChoice): vscode.Terminal {
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const terminal = vscode.window.createTerminal({
    name: `${agent.name} · Switchboard`,
    shellPath: process.execPath,
    shellArgs: acpNodeArgs(join(extensionPath, "dist"), agent.path ?? agent.command, agent.args),
    ...(cwd ? { cwd } : {}),
    env: {
      ...agent.env,
      // VS Code's runtime as plain Node (acp-main.ts takes it out of the agent's environment).
      ELECTRON_RUN_AS_NODE: "1",
      // The session must reach the same broker as this window.
      ...(settings.brokerHome ? { SWITCHBOARD_HOME: settings.brokerHome } : {}),
    },
    iconPath: new vscode.ThemeIcon("hubot"),
  });
  terminal.show();
  return terminal;
}
