// Playwright helpers for driving a REAL VS Code workbench (code-server 4.139.1 = VS Code 1.139.1)
// in headless Debian Chromium. Needs `bash scripts/vscode/install.sh` once per machine.
//
//   const vscode = await startVsCode({ vsix, workspace });        // server + browser + workbench
//   await runCommand(vscode.page, "Hello Fixture: Say Hello");    // F1, type, pick
//   await waitForNotification(vscode.page, "Hello, world!");
//   const panel = webviewFrame(vscode.page);                      // iframe.webview.ready -> #active-frame
//   await screenshot(vscode.page, "after-hello");                 // test-artifacts/ui/after-hello.png
//   const second = await openSecondWindow(vscode);                // another page on the same server
//   await vscode.stop();                                          // kills server + browser
//
// Every wait is bounded and fails with a message that names the server log.
import "../env.js"; // hermetic: no SWITCHBOARD_*/PI_*/XDG_* of the caller reaches VS Code
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, FrameLocator, Locator, Page } from "playwright-core";
import { REPO_ROOT, launchChromium, startServer, type LaunchedChromium, type VsCodeServer } from "../../../scripts/vscode/server.js";

export const ARTIFACTS_DIR = join(REPO_ROOT, "test-artifacts/ui");
const VIEWPORT = { width: 1280, height: 800 };

/** Server of each page, so that errors can point at its log. */
const serverOf = new WeakMap<Page, VsCodeServer>();
const where = (page: Page) => {
  const s = serverOf.get(page);
  return s ? `; server log at ${s.logFile}` : "";
};

export interface StartVsCodeOptions {
  /** Folder the workbench opens. */
  workspace: string;
  /** VSIX file(s) to install into the fresh extensions dir (see test/support/vscode/vsix.ts to make one). */
  vsix?: string | string[];
  /** User settings, merged over the offline defaults (scripts/vscode/server.ts OFFLINE_SETTINGS). */
  settings?: Record<string, unknown>;
  /** Extra environment for the server and its extension host. */
  env?: Record<string, string>;
  viewport?: { width: number; height: number };
  /** Bound on the workbench shell appearing; default 60 s (a loaded 2-core machine has taken 10 s). */
  workbenchTimeoutMs?: number;
}

export interface VsCodeSession {
  /** Workbench URL (with the workspace folder). */
  url: string;
  server: VsCodeServer;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  chromium: LaunchedChromium;
  /** Timings in ms: server (spawn to healthy, incl. VSIX install), chromium launch, workbench shell after navigation. */
  timings: { serverMs: number; chromiumMs: number; workbenchMs: number };
  /** Closes every page and context, the browser and the server. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startVsCode(o: StartVsCodeOptions): Promise<VsCodeSession> {
  const t0 = Date.now();
  const server = await startServer({
    flavor: "code-server",
    workspace: o.workspace,
    ...(o.vsix ? { vsix: o.vsix } : {}),
    ...(o.settings ? { settings: o.settings } : {}),
    ...(o.env ? { env: o.env } : {}),
  });
  const serverMs = Date.now() - t0;
  let chromium: LaunchedChromium | undefined;
  try {
    const t1 = Date.now();
    chromium = await launchChromium();
    const chromiumMs = Date.now() - t1;
    const context = await chromium.browser.newContext({ viewport: o.viewport ?? VIEWPORT });
    const page = await context.newPage();
    serverOf.set(page, server);
    const url = server.workbenchUrl();
    const workbenchMs = await openWorkbench(page, { url, timeoutMs: o.workbenchTimeoutMs });
    const launched = chromium;
    let stopped: Promise<void> | undefined;
    return {
      url,
      server,
      browser: launched.browser,
      context,
      page,
      chromium: launched,
      timings: { serverMs, chromiumMs, workbenchMs },
      stop() {
        stopped ??= (async () => {
          await launched.stop();
          await server.stop();
        })();
        return stopped;
      },
    };
  } catch (err) {
    await chromium?.stop();
    await server.stop();
    throw err;
  }
}

/**
 * Waits until the workbench shell is there (status bar and editor area); navigates to `url` first
 * if given. Returns the milliseconds it took.
 */
export async function openWorkbench(page: Page, o: { url?: string; timeoutMs?: number | undefined } = {}): Promise<number> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const t0 = Date.now();
  if (o.url) await page.goto(o.url, { timeout: timeoutMs });
  try {
    await page.locator(".monaco-workbench .part.statusbar").waitFor({ state: "visible", timeout: Math.max(1000, timeoutMs - (Date.now() - t0)) });
    await page.locator(".monaco-workbench .part.editor").waitFor({ state: "visible", timeout: 5000 });
  } catch {
    throw new Error(`workbench did not appear within ${Math.round(timeoutMs / 1000)} s${where(page)}`);
  }
  return Date.now() - t0;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Runs a command through the command palette (F1), by its full title as the palette shows it
 * ("Category: Title"). Retries while the palette does not list it yet (the extension host is
 * still starting: "No matching commands"). Bounded by `timeoutMs` (default 30 s).
 */
export async function runCommand(page: Page, title: string, o: { timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const widget = page.locator(".quick-input-widget");
  const input = widget.locator("input.input").first();
  const row = widget
    .locator(".monaco-list-row")
    .filter({ has: page.locator(".label-name", { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) })
    .first();
  while (true) {
    if (!(await input.isVisible())) {
      await page.keyboard.press("F1");
    }
    try {
      await input.waitFor({ state: "visible", timeout: Math.max(500, Math.min(5000, deadline - Date.now())) });
      await input.fill(`>${title}`);
      await row.waitFor({ state: "visible", timeout: Math.max(500, Math.min(3000, deadline - Date.now())) });
      await row.click();
      await input.waitFor({ state: "hidden", timeout: 5000 }).catch(() => {});
      return;
    } catch {
      if (Date.now() >= deadline) {
        await page.keyboard.press("Escape").catch(() => {});
        throw new Error(`command "${title}" did not show in the command palette within ${Math.round(timeoutMs / 1000)} s${where(page)}`);
      }
      await page.keyboard.press("Escape").catch(() => {});
      await page.waitForTimeout(500);
    }
  }
}

/** Waits for a notification toast containing `text`; returns its locator. Default bound 15 s. */
export async function waitForNotification(page: Page, text: string | RegExp, o: { timeoutMs?: number } = {}): Promise<Locator> {
  const timeoutMs = o.timeoutMs ?? 15_000;
  const toast = page.locator(".notifications-toasts .notification-toast", { hasText: text }).first();
  try {
    await toast.waitFor({ state: "visible", timeout: timeoutMs });
  } catch {
    const shown = await page
      .locator(".notifications-toasts .notification-toast")
      .allInnerTexts()
      .catch(() => []);
    throw new Error(`no notification with ${String(text)} within ${Math.round(timeoutMs / 1000)} s (showing: ${JSON.stringify(shown)})${where(page)}`);
  }
  return toast;
}

/** Dismisses every notification (so the next screenshot or waitForNotification starts clean). */
export async function clearNotifications(page: Page): Promise<void> {
  await runCommand(page, "Notifications: Clear All Notifications");
  await page
    .locator(".notifications-toasts .notification-toast")
    .first()
    .waitFor({ state: "hidden", timeout: 5000 })
    .catch(() => {});
}

/**
 * An activity-bar entry by the start of its label (e.g. "Explorer", or an extension's view
 * container title). Waiting for an extension's own entry is the surest sign that its
 * contributions are loaded before using the command palette.
 */
export function activityBarItem(page: Page, label: string): Locator {
  return page.locator(`.part.activitybar .action-item .action-label[aria-label^="${label.replace(/"/g, '\\"')}"]`).first();
}

/**
 * The content frame of a webview: `iframe.webview.ready` -> `#active-frame`. `viewSelector` narrows
 * which webview when several are open: a CSS selector for an element that contains the webview
 * iframe, or attribute filters for the iframe itself when it starts with "[" (e.g.
 * '[src*="extensionId=publisher.name"]'). VS Code puts webview iframes in an overlay outside the
 * view's DOM, so filtering the iframe by its src (which carries extensionId and purpose) is the
 * reliable way. With several matches, the last one opened is used.
 */
export function webviewFrame(page: Page, viewSelector?: string): FrameLocator {
  let iframe: Locator;
  if (viewSelector?.startsWith("[")) iframe = page.locator(`iframe.webview.ready${viewSelector}`);
  else if (viewSelector) iframe = page.locator(viewSelector).locator("iframe.webview.ready");
  else iframe = page.locator("iframe.webview.ready");
  return iframe.last().contentFrame().locator("#active-frame").contentFrame();
}

/** Saves a full-window PNG to test-artifacts/ui/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = join(ARTIFACTS_DIR, `${name.replace(/[^\w.-]+/g, "_")}.png`);
  // "disabled" finishes CSS transitions (e.g. a notification fading in) before the capture.
  await page.screenshot({ path: file, timeout: 10_000, animations: "disabled" });
  return file;
}

/**
 * Opens the same workbench in a second window against the same server (a second person, or a
 * second window of the same one). By default in a new browser context (own storage, like another
 * browser profile); `sameContext: true` shares the first window's storage. Closed by stop().
 */
export async function openSecondWindow(session: VsCodeSession, o: { sameContext?: boolean; timeoutMs?: number } = {}): Promise<Page> {
  const context = o.sameContext ? session.context : await session.browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  serverOf.set(page, session.server);
  await openWorkbench(page, { url: session.url, timeoutMs: o.timeoutMs });
  return page;
}
