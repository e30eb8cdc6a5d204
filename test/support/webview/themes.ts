// The --vscode-* variables VS Code 1.139 gives a webview in Light Modern, Dark Modern and Dark High
// Contrast, set on <html> the way VS Code does. They were read from the real VS Code by
// test/ui/switchboard-looks.test.ts, which writes them to test-artifacts/ui/theme-vars-*.json on
// every run: copy those over test/support/webview/themes/*.json to refresh them.
import { readFileSync } from "node:fs";

export type ThemeKind = "dark" | "light" | "hc";

const load = (name: string) => JSON.parse(readFileSync(new URL(`./themes/${name}.json`, import.meta.url), "utf8")) as Record<string, string>;

export const THEMES: Record<ThemeKind, { name: string; bodyClass: string; vars: Record<string, string> }> = {
  dark: { name: "Dark Modern", bodyClass: "vscode-dark", vars: load("dark-modern") },
  light: { name: "Light Modern", bodyClass: "vscode-light", vars: load("light-modern") },
  hc: { name: "Dark High Contrast", bodyClass: "vscode-high-contrast", vars: load("dark-hc") },
};
