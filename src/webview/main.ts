// Entry point of the sidebar webview bundle (media/sidebar.js, built by scripts/build.mjs).
// Only the @vscode-elements components that the sidebar uses are imported, to keep the bundle small.
import "@vscode-elements/elements/dist/vscode-badge/index.js";
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-textfield/index.js";
import { App } from "./app.js";
import { Host } from "./vscode.js";

const root = document.getElementById("app");
if (root) new App(new Host(), root).start();
// The icon font's style sheet comes in as "print" so that it does not hold up the first paint (see
// src/extension/sidebar-html.ts); now that the first state is on screen it applies.
document.getElementById("vscode-codicon-stylesheet")?.setAttribute("media", "all");
