// The sidebar: a WebviewView that renders the state the extension host sends it, and turns the
// user's clicks into actions. Strict CSP (nonce scripts, no eval), resources only from media/.
import { randomBytes } from "node:crypto";
import * as v from "valibot";
import * as vscode from "vscode";
import { WebviewToHost, type HostToWebview } from "../protocol/index.js";
import type { Actions } from "./actions.js";
import type { Switchboard } from "./controller.js";
import { log } from "./log.js";

export const SIDEBAR_VIEW = "switchboard.sidebar";
const STATE_THROTTLE_MS = 50;

export class Sidebar implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly sb: Switchboard,
    private readonly actions: Actions,
    private readonly openStream: (streamId: string) => void,
    private readonly allowSimilar: (approvalId: string) => void = () => {},
  ) {
    this.subscriptions.push(sb.onDidChange(() => this.schedule()));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, "media");
    view.webview.options = { enableScripts: true, localResourceRoots: [media] };
    view.webview.html = this.html(view.webview, media);
    this.subscriptions.push(
      view.webview.onDidReceiveMessage((raw) => void this.onMessage(raw)),
      // A hidden webview misses updates; it gets the whole state again when it shows.
      view.onDidChangeVisibility(() => view.visible && this.push()),
      view.onDidDispose(() => (this.view = undefined)),
    );
    this.updateBadge();
  }

  /** Reveals the sidebar, optionally focusing a section. */
  async reveal(section?: Extract<HostToWebview, { type: "focus" }>["section"], id?: string): Promise<void> {
    await vscode.commands.executeCommand(`${SIDEBAR_VIEW}.focus`);
    if (section) this.post({ type: "focus", section, ...(id ? { id } : {}) });
  }

  private schedule(): void {
    this.updateBadge();
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.push();
    }, STATE_THROTTLE_MS);
  }

  private push(): void {
    if (this.view?.visible) this.post({ type: "state", state: this.sb.state() });
  }

  private post(message: HostToWebview): void {
    void this.view?.webview.postMessage(message);
  }

  private updateBadge(): void {
    if (!this.view) return;
    const n = this.sb.pendingCount();
    this.view.badge = n ? { value: n, tooltip: `${n} approval${n === 1 ? "" : "s"} waiting` } : undefined;
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = v.safeParse(WebviewToHost, raw);
    if (!parsed.success) {
      log().warn(`ignored a malformed message from the sidebar: ${JSON.stringify(raw).slice(0, 200)}`);
      return;
    }
    const m = parsed.output;
    if (m.type === "ready") return this.push();
    if (m.type === "openStream") return this.openStream(m.streamId);
    if (m.type === "showDiff") return void this.actions.showDiff(m.approvalId).catch((e: Error) => vscode.window.showErrorMessage(e.message));
    if (m.type === "allowSimilar") return this.allowSimilar(m.approvalId);
    if (m.type === "command") return void vscode.commands.executeCommand(`switchboard.${m.command}`);
    const run = (): Promise<string | undefined> => {
      switch (m.type) {
        case "approve":
          return this.actions.approve(m.approvalId);
        case "reject":
          return this.actions.reject(m.approvalId, m.reason);
        case "route":
          return this.actions.route(m.itemId, m.endpointId);
        case "dismiss":
          return this.actions.dismiss(m.itemId);
        case "sendTo":
          return this.actions.sendTo(m.endpointId);
        case "reply":
          return this.actions.reply(m.messageId);
        case "stopStream":
          return this.actions.stopStream(m.streamId);
      }
    };
    try {
      const message = await run();
      this.post({ type: "result", requestId: m.requestId, ok: true, message: message ?? "" });
    } catch (err) {
      this.post({ type: "result", requestId: m.requestId, ok: false, message: (err as Error).message });
    }
  }

  private html(webview: vscode.Webview, media: vscode.Uri): string {
    const nonce = randomBytes(16).toString("base64");
    const uri = (file: string) => webview.asWebviewUri(vscode.Uri.joinPath(media, file)).toString();
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource} 'nonce-${nonce}'`,
      `font-src ${webview.cspSource}`,
      `img-src ${webview.cspSource} data:`,
      `script-src 'nonce-${nonce}'`,
    ].join("; ");
    return `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp};">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${uri("codicon.css")}" nonce="${nonce}" id="vscode-codicon-stylesheet">
<link rel="stylesheet" href="${uri("sidebar.css")}" nonce="${nonce}">
<title>Agent Switchboard</title></head>
<body><div id="app" role="application" aria-label="Agent Switchboard"></div>
<script nonce="${nonce}" src="${uri("sidebar.js")}"></script></body></html>`;
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
  }
}
