// Entry point of the sidebar webview bundle (media/sidebar.js, built by scripts/build.mjs).
// Only the @vscode-elements components that the sidebar uses are imported, to keep the bundle small.
import "@vscode-elements/elements/dist/vscode-badge/index.js";
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-textfield/index.js";
import { App, pageMarks } from "./app.js";
import { Host } from "./vscode.js";

pageMarks.script = Date.now();
window.addEventListener("load", () => (pageMarks.loaded = Date.now()), { once: true });
const root = document.getElementById("app");
if (root) new App(new Host(), root).start();

// The icon font, once the page has loaded: VS Code shows the view (and hands it the live state) at
// the load event, which the font would otherwise hold up (see src/extension/sidebar-html.ts).
const font = root?.dataset.codiconFont;
if (font) {
  const addFont = () =>
    void new FontFace("codicon", `url("${font.replace(/["\\]/g, "")}") format("truetype")`, { display: "block" })
      .load()
      .then((f) => document.fonts.add(f))
      .catch((e: Error) => console.error(`Agent Switchboard: the icon font did not load: ${e.message}`));
  if (document.readyState === "complete") addFont();
  else window.addEventListener("load", addFont, { once: true });
}
