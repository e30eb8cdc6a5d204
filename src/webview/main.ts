// Entry point of the sidebar webview bundle (media/sidebar.js, built by scripts/build.mjs).
// Only the @vscode-elements components that the sidebar uses are imported, to keep the bundle small.
import "@vscode-elements/elements/dist/vscode-badge/index.js";
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-textfield/index.js";
import { App } from "./app.js";
import { Host } from "./vscode.js";

const root = document.getElementById("app");
if (root) new App(new Host(), root).start();
