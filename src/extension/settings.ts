// Typed access to the `switchboard.*` settings: VS Code's configuration, checked by parseSettings
// (settings-parse.ts, testable without VS Code). Wrong values fall back to defaults with a warning in the log.
import * as vscode from "vscode";
import { log } from "./log.js";
import { parseSettings, type Settings } from "./settings-parse.js";

export type { NotifyLevel, Settings, TerminalPolicy } from "./settings-parse.js";

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration("switchboard");
  return parseSettings(
    (key) => c.get(key),
    (message) => log().warn(message),
  );
}
