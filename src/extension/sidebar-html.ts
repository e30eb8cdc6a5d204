// The sidebar webview's HTML. Pure (no vscode): the webview test harness builds the very same page.
//
// Time to first paint: the style sheet and the script are inlined (each file fetched through the
// webview's service worker costs a round trip, and far more while VS Code is starting), carrying the
// CSP nonce like everything else. The codicon style sheet stays a link (the @vscode-elements icon
// component looks it up by id and loads it into its own shadow roots) but does not hold up the first
// paint: it starts as media="print" and the page's script switches it on.

export interface SidebarAssets {
  /** media/sidebar.css */
  css: string;
  /** media/sidebar.js */
  js: string;
}

export interface SidebarPage {
  /** The webview's cspSource (the origin its resources are served from). */
  cspSource: string;
  nonce: string;
  /** URL of media/codicon.css as the webview loads it. */
  codiconCss: string;
  assets: SidebarAssets;
}

export const SIDEBAR_CSP = (cspSource: string, nonce: string) =>
  [
    "default-src 'none'",
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    `script-src 'nonce-${nonce}'`,
  ].join("; ");

/** "</" in an inlined text could close its element: the bundles are written so that it cannot. */
function inline(text: string, tag: "style" | "script"): string {
  if (new RegExp(`</${tag}`, "i").test(text)) throw new Error(`media/sidebar.${tag === "style" ? "css" : "js"} contains </${tag}: it cannot be inlined`);
  return text;
}

export function sidebarHtml(p: SidebarPage): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${SIDEBAR_CSP(p.cspSource, p.nonce)};">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${p.codiconCss}" nonce="${p.nonce}" id="vscode-codicon-stylesheet" media="print">
<style nonce="${p.nonce}">${inline(p.assets.css, "style")}</style>
<title>Agent Switchboard</title></head>
<body><div id="app" role="application" aria-label="Agent Switchboard"></div>
<script nonce="${p.nonce}">${inline(p.assets.js, "script")}</script></body></html>`;
}
