// The sidebar: a WebviewView that renders the state the extension host sends it, and turns the
// user's clicks into actions. Strict CSP (nonce scripts, no eval), resources only from media/.
// Time to usable: the page paints the last state it kept at once; the host sends the live state as
// soon as it has it (without waiting for the page's "ready", VS Code holds messages until the page
// loads) and the first one without the update throttle.
import { randomBytes } from "node:crypto";
import { appendFile, readFile } from "node:fs/promises";
import * as v from "valibot";
import * as vscode from "vscode";
import { WebviewToHost, type HostToWebview } from "../protocol/index.js";
import type { Actions } from "./actions.js";
import type { BrokerLink } from "./broker-link.js";
import { log } from "./log.js";
import { sidebarHtml, type SidebarAssets } from "./sidebar-html.js";

export const SIDEBAR_VIEW = "switchboard.sidebar";

/** The Policy section's actions (PolicyUi). */
export interface SidebarPolicy {
  removeByKey(key: string): Promise<string>;
  openFileByKey(key: string): Promise<void>;
  openUserRules(): Promise<void>;
  acceptByRoot(root: string): Promise<void>;
  allowForSession(approvalId: string): Promise<string | undefined>;
}
const STATE_THROTTLE_MS = 50;

export class Sidebar implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastPush = 0;
  /** Date.now() of the page's milestones since activation (the time-to-usable log line and bench). */
  readonly marks: Record<string, number> = {};
  private readonly subscriptions: vscode.Disposable[] = [];
  /** Read while the extension activates, so that the page is ready to send when VS Code asks for it. */
  private readonly assets: Promise<SidebarAssets>;

  /** `activatedAt`: Date.now() when activate() began, for the time-to-usable log line. */
  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly sb: BrokerLink,
    private readonly actions: Actions,
    private readonly openStream: (streamId: string) => void,
    private readonly activatedAt = Date.now(),
    private readonly allowSimilar: (approvalId: string) => void = () => {},
    private readonly policy?: SidebarPolicy,
  ) {
    this.subscriptions.push(sb.onDidChange(() => this.schedule()));
    const media = (f: string) => readFile(vscode.Uri.joinPath(extensionUri, "media", f).fsPath, "utf8");
    this.assets = Promise.all([media("sidebar.css"), media("sidebar.js"), media("codicon.css")]).then(([css, js, codicons]) => ({ css, js, codicons }));
    this.assets.catch(() => {}); // reported when the view asks for its page
  }

  async resolveWebviewView(view: vscode.WebviewView): Promise<void> {
    this.marks.resolve ??= Date.now();
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, "media");
    view.webview.options = { enableScripts: true, localResourceRoots: [media] };
    this.subscriptions.push(
      view.webview.onDidReceiveMessage((raw) => void this.onMessage(raw)),
      // A hidden webview misses updates; it gets the whole state again when it shows.
      view.onDidChangeVisibility(() => view.visible && this.push()),
      view.onDidDispose(() => (this.view = undefined)),
    );
    this.updateBadge();
    try {
      view.webview.html = sidebarHtml({
        cspSource: view.webview.cspSource,
        nonce: randomBytes(16).toString("base64"),
        codiconFont: view.webview.asWebviewUri(vscode.Uri.joinPath(media, "codicon.ttf")).toString(),
        assets: await this.assets,
      });
    } catch (err) {
      log().error(`the sidebar's page could not be built: ${(err as Error).message}`);
      view.webview.html = `<!DOCTYPE html><html lang="en"><body><p>The Agent Switchboard sidebar could not load (${escapeHtml((err as Error).message)}). Reinstall the extension.</p></body></html>`;
      return;
    }
    this.marks.html ??= Date.now();
    // Held by VS Code until the page has loaded: it arrives right after the last known state is painted.
    if (this.sb.isConnected) this.push();
  }

  /** Reveals the sidebar, optionally focusing a section. */
  async reveal(section?: Extract<HostToWebview, { type: "focus" }>["section"], id?: string): Promise<void> {
    await vscode.commands.executeCommand(`${SIDEBAR_VIEW}.focus`);
    if (section) this.post({ type: "focus", section, ...(id ? { id } : {}) });
  }

  /** At most one update per STATE_THROTTLE_MS; the first after a quiet spell goes at once. */
  private schedule(): void {
    this.updateBadge();
    if (this.timer) return;
    const wait = this.lastPush + STATE_THROTTLE_MS - Date.now();
    if (wait <= 0) return this.push();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.push();
    }, wait);
  }

  private push(): void {
    if (!this.view?.visible) return;
    this.lastPush = Date.now();
    const state = this.sb.state();
    if (state.connection.phase === "connected") this.marks.live ??= this.lastPush;
    this.post({ type: "state", state });
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
    if (m.type === "ready") {
      this.marks.ready ??= Date.now();
      return this.push();
    }
    if (m.type === "painted") {
      if (m.script !== undefined) this.marks.script ??= m.script;
      if (m.loaded !== undefined) this.marks.loaded ??= m.loaded;
      return this.painted(m.live, m.at);
    }
    if (m.type === "openStream") return this.openStream(m.streamId);
    if (m.type === "showDiff") return void this.actions.showDiff(m.approvalId).catch((e: Error) => vscode.window.showErrorMessage(e.message));
    if (m.type === "allowSimilar") return this.allowSimilar(m.approvalId);
    if (m.type === "command") return void vscode.commands.executeCommand(`switchboard.${m.command}`);
    const failed = (e: Error) => void vscode.window.showErrorMessage(e.message);
    if (m.type === "openRuleFile") return void this.policy?.openFileByKey(m.key).catch(failed);
    if (m.type === "openUserRules") return void this.policy?.openUserRules().catch(failed);
    if (m.type === "acceptWorkspaceRules") return void this.policy?.acceptByRoot(m.root).catch(failed);
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
        case "allowForSession":
          return this.policy ? this.policy.allowForSession(m.approvalId) : Promise.reject(new Error("The approval rules are not available in this window."));
        case "removeRule":
          return this.policy ? this.policy.removeByKey(m.key) : Promise.reject(new Error("The approval rules are not available in this window."));
      }
    };
    try {
      const message = await run();
      this.post({ type: "result", requestId: m.requestId, ok: true, message: message ?? "" });
    } catch (err) {
      this.post({ type: "result", requestId: m.requestId, ok: false, message: (err as Error).message });
    }
  }

  /** The page painted its last known state or the first live one: log how long after activation. */
  private painted(live: boolean, at: number): void {
    const since = (t: number | undefined) => (t === undefined ? "-" : `${t - this.activatedAt}`);
    log().info(
      `sidebar showed ${live ? "the live state" : "the last known state"} ${at - this.activatedAt} ms after activation ` +
        `(ms since activation: activate() returned ${since(this.marks.activated)}, view resolved ${since(this.marks.resolve)}, page sent ${since(this.marks.html)}, its script ran ${since(this.marks.script)}, ` +
        `it loaded ${since(this.marks.loaded)}, its ready came ${since(this.marks.ready)}, ` +
        `live state sent ${since(this.marks.live)})`,
    );
    const file = process.env.SWITCHBOARD_TIMING_FILE;
    if (file) {
      const line = { ext: "switchboard", pid: process.pid, activated: this.activatedAt, [live ? "live" : "last"]: at, marks: this.marks };
      void appendFile(file, JSON.stringify(line) + "\n").catch(() => {});
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
  }
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
