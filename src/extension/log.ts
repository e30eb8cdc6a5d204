// The extension's log: a LogOutputChannel ("Agent Switchboard"), opened by Switchboard: Show Logs.
import * as vscode from "vscode";

let channel: vscode.LogOutputChannel | undefined;

export function log(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel("Agent Switchboard", { log: true });
  return channel;
}
