// The sidebar webview's HTML. Pure (no vscode): the webview test harness builds the very same page.
//
// Time to usable: VS Code shows a webview's frame, and hands it the messages sent so far, when the
// page's load event fires (or 200 ms after its HTML is written). So the page loads nothing before
// that: the style sheets and the script are inlined (carrying the CSP nonce like everything else),
// and the icon font, the one file left, is added by the script once the page has loaded (the
// codicon rules are inlined without their @font-face; icons appear when the font arrives).

export interface SidebarAssets {
  /** media/sidebar.css */
  css: string;
  /** media/sidebar.js */
  js: string;
  /** media/codicon.css */
  codicons: string;
}

export interface SidebarPage {
  /** The webview's cspSource (the origin its resources are served from). */
  cspSource: string;
  nonce: string;
  /** URL of media/codicon.ttf as the webview loads it. */
  codiconFont: string;
  assets: SidebarAssets;
}

export const SIDEBAR_CSP = (cspSource: string, nonce: string) =>
  ["default-src 'none'", `style-src ${cspSource} 'nonce-${nonce}'`, `font-src ${cspSource}`, `img-src ${cspSource} data:`, `script-src 'nonce-${nonce}'`].join("; ");

/** "</" in an inlined text could close its element: the bundles are written so that it cannot. */
function inline(text: string, tag: "style" | "script"): string {
  if (new RegExp(`</${tag}`, "i").test(text)) throw new Error(`media/sidebar.${tag === "style" ? "css" : "js"} contains </${tag}: it cannot be inlined`);
  return text;
}

/** The codicon rules without their @font-face (the page adds the font itself, see above). */
export function codiconRules(css: string): string {
  return css.replace(/@font-face\s*\{[^}]*\}/g, "");
}

export function sidebarHtml(p: SidebarPage): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${SIDEBAR_CSP(p.cspSource, p.nonce)};">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style nonce="${p.nonce}">${inline(codiconRules(p.assets.codicons), "style")}</style>
<style nonce="${p.nonce}">${inline(p.assets.css, "style")}</style>
<title>Agent Switchboard</title></head>
<body><div id="app" role="application" aria-label="Agent Switchboard" data-codicon-font="${attr(p.codiconFont)}"></div>
<script nonce="${p.nonce}">${inline(p.assets.js, "script")}</script></body></html>`;
}

const attr = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
