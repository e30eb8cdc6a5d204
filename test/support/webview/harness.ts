// Runs the built sidebar (media/sidebar.js + media/sidebar.css) in a plain Chromium page that reproduces
// the extension host's webview HTML: the same CSP with a per-load nonce, the same links and script tag.
// A nonce'd stub of acquireVsCodeApi records what the webview posts and keeps its setState across
// reloads; the test sends host messages with window.postMessage(data, "*"), as VS Code does.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import type { HostToWebview, SidebarState } from "../../../src/protocol/webview.js";
import { THEMES, type ThemeKind } from "./themes.js";
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from "../../../scripts/vscode/server.js";
import { sidebarHtml } from "../../../src/extension/sidebar-html.js";
import { ROOT } from "../paths.js";

/** The repository root (test/support/paths.ts ROOT; the old name, kept for the webview suites). */
export const REPO_ROOT = ROOT;
const MEDIA = join(REPO_ROOT, "media");
export { CHROMIUM_PATH };
export const CHROMIUM_ARGS = [...CHROMIUM_FLAGS];

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".ttf": "font/ttf",
  ".svg": "image/svg+xml",
  ".map": "application/json",
};

/** The parts of VS Code's own default webview stylesheet that matter here (it is injected before ours). */
const VSCODE_DEFAULT_STYLES = `
html { scrollbar-color: var(--vscode-scrollbarSlider-background) var(--vscode-editor-background); }
body { overscroll-behavior-x: none; background-color: transparent; color: var(--vscode-editor-foreground);
  font-family: var(--vscode-font-family); font-weight: var(--vscode-font-weight); font-size: var(--vscode-font-size);
  margin: 0; padding: 0 20px; }
a, a code { color: var(--vscode-textLink-foreground); }
code { font-family: var(--monaco-monospace-font); color: var(--vscode-textPreformat-foreground);
  background-color: var(--vscode-textPreformat-background); padding: 1px 3px; border-radius: 4px; }
::-webkit-scrollbar { width: 10px; height: 10px; }
::-webkit-scrollbar-thumb { background-color: var(--vscode-scrollbarSlider-background); }
`;

function json(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** The stub VS Code API and theme switcher, run before the sidebar's own script. */
function stubScript(theme: ThemeKind): string {
  return `(() => {
  const THEMES = ${json(THEMES)};
  const sb = (window.__sb = { posted: [], violations: [], setStateCalls: 0, acquireCalls: 0 });
  document.addEventListener("securitypolicyviolation", (e) => {
    sb.violations.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, source: e.sourceFile + ":" + e.lineNumber });
  });
  let saved;
  try { saved = JSON.parse(sessionStorage.getItem("sb-webview-state") || "null") ?? undefined; } catch { saved = undefined; }
  window.acquireVsCodeApi = () => {
    sb.acquireCalls++;
    if (sb.acquireCalls > 1) throw new Error("An instance of the VS Code API has already been acquired");
    return Object.freeze({
      postMessage: (m) => { sb.posted.push(JSON.parse(JSON.stringify(m))); },
      getState: () => saved,
      setState: (s) => { sb.setStateCalls++; saved = s; sessionStorage.setItem("sb-webview-state", JSON.stringify(s)); return s; },
    });
  };
  sb.send = (data) => window.postMessage(data, "*");
  sb.setTheme = (kind) => {
    const t = THEMES[kind];
    const root = document.documentElement.style;
    for (const name of Array.from(root)) if (name.startsWith("--vscode-")) root.removeProperty(name);
    for (const [k, v] of Object.entries(t.vars)) root.setProperty(k, v);
    root.setProperty("background-color", t.vars["--vscode-sideBar-background"]);
    const apply = () => {
      document.body.classList.remove("vscode-dark", "vscode-light", "vscode-high-contrast");
      document.body.classList.add(t.bodyClass);
      document.body.dataset.vscodeThemeKind = t.bodyClass;
    };
    if (document.body) apply(); else document.addEventListener("DOMContentLoaded", apply, { once: true });
  };
  sb.setTheme(${json(theme)});
})();`;
}

/**
 * The extension host's HTML (src/extension/sidebar-html.ts, the same function with the built
 * media/sidebar.css and media/sidebar.js), with VS Code's default styles and the stub script put first
 * in its head, as VS Code puts its own there.
 */
export function pageHtml(origin: string, nonce: string, theme: ThemeKind): string {
  const page = sidebarHtml({
    cspSource: origin,
    nonce,
    codiconFont: `${origin}/media/codicon.ttf`,
    assets: {
      css: readFileSync(join(MEDIA, "sidebar.css"), "utf8"),
      js: readFileSync(join(MEDIA, "sidebar.js"), "utf8"),
      codicons: readFileSync(join(MEDIA, "codicon.css"), "utf8"),
    },
  });
  const injected = `<style nonce="${nonce}" id="_defaultStyles">${VSCODE_DEFAULT_STYLES}</style>\n<script nonce="${nonce}">${stubScript(theme)}</script>\n`;
  return page.replace("<head>", `<head>${injected}`);
}

export interface StaticServer {
  origin: string;
  close(): Promise<void>;
}

/** A tiny static server on 127.0.0.1: "/?theme=dark" is the page, "/media/*" the built assets. */
export async function startServer(): Promise<StaticServer> {
  if (!existsSync(join(MEDIA, "sidebar.js"))) throw new Error("media/sidebar.js is missing: run `npm run build` first");
  let origin = "";
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", origin);
    if (url.pathname === "/" || url.pathname === "/index.html") {
      const theme = (url.searchParams.get("theme") ?? "dark") as ThemeKind;
      const nonce = randomBytes(16).toString("base64");
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(pageHtml(origin, nonce, theme in THEMES ? theme : "dark"));
      return;
    }
    if (url.pathname === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    const m = /^\/media\/([A-Za-z0-9._-]+)$/.exec(url.pathname);
    const file = m ? join(MEDIA, m[1]!) : null;
    if (!file || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Debian Chromium, headless, with a fresh user-data-dir that is deleted afterwards. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} not found: apt-get install -y chromium`);
  const userDataDir = await mkdtemp(join(tmpdir(), "sb-webview-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 360, height: 900 },
    reducedMotion: "reduce",
  });
  // tsx (esbuild keepNames) wraps named functions inside page.evaluate callbacks in __name(...).
  await context.addInitScript(() => {
    (globalThis as { __name?: unknown }).__name = (f: unknown) => f;
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

export interface Posted {
  type: string;
  [k: string]: unknown;
}

export interface ConsoleEntry {
  type: string;
  text: string;
}

/** One sidebar page. Console messages and page errors are collected for the CSP/no-error checks. */
export class Sidebar {
  readonly console: ConsoleEntry[] = [];
  readonly pageErrors: string[] = [];
  /** Set by a test that provokes console errors on purpose. */
  expectConsoleErrors = false;
  constructor(readonly page: Page) {
    page.on("console", (m) => this.console.push({ type: m.type(), text: m.text() }));
    page.on("pageerror", (e) => this.pageErrors.push(String(e)));
  }

  /** `clock`: install Playwright's fake clock first (timers then run only when the test says). */
  static async open(browser: Browser, server: StaticServer, opts: { theme?: ThemeKind; width?: number; height?: number; clock?: boolean } = {}): Promise<Sidebar> {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: opts.width ?? 360, height: opts.height ?? 900 });
    if (opts.clock) await page.clock.install();
    const sb = new Sidebar(page);
    await page.goto(`${server.origin}/?theme=${opts.theme ?? "dark"}`);
    await page.waitForFunction(() => (window as unknown as SbWindow).__sb.posted.some((m) => m.type === "ready"));
    return sb;
  }

  async send(msg: HostToWebview): Promise<void> {
    await this.page.evaluate((m) => (window as unknown as SbWindow).__sb.send(m), msg as unknown);
    // postMessage is delivered as a task; a round trip through another task lets it (and lit's updates) run.
    await this.page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
  }

  async state(state: SidebarState): Promise<void> {
    await this.send({ type: "state", state });
  }

  async posted(): Promise<Posted[]> {
    return this.page.evaluate(() => (window as unknown as SbWindow).__sb.posted);
  }

  async clearPosted(): Promise<void> {
    await this.page.evaluate(() => {
      (window as unknown as SbWindow).__sb.posted.length = 0;
    });
  }

  /** Waits until the webview posted a message of `type` (after the last clearPosted) and returns it. */
  async waitForPost(type: string): Promise<Posted> {
    const handle = await this.page.waitForFunction((t) => (window as unknown as SbWindow).__sb.posted.find((m) => m.type === t), type, { timeout: 5000 });
    return (await handle.jsonValue()) as Posted;
  }

  async violations(): Promise<unknown[]> {
    return this.page.evaluate(() => (window as unknown as SbWindow).__sb.violations);
  }

  async setTheme(kind: ThemeKind): Promise<void> {
    await this.page.evaluate((k) => (window as unknown as SbWindow).__sb.setTheme(k), kind);
  }

  /** A short description of the focused element: its aria-label, else its text. */
  async focused(): Promise<string> {
    return this.page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return "<body>";
      return `${el.tagName.toLowerCase()}:${el.getAttribute("aria-label") ?? el.textContent?.trim().slice(0, 60) ?? ""}`;
    });
  }

  /** Presses Tab until the focused element's description matches, returning how many presses it took. */
  async tabTo(match: RegExp | string, max = 80, key = "Tab"): Promise<number> {
    for (let i = 1; i <= max; i++) {
      await this.page.keyboard.press(key);
      const f = await this.focused();
      if (typeof match === "string" ? f.includes(match) : match.test(f)) return i;
    }
    throw new Error(`${key} never reached ${String(match)} (last: ${await this.focused()})`);
  }
}

export interface SbWindow {
  __sb: {
    posted: Posted[];
    violations: unknown[];
    setStateCalls: number;
    acquireCalls: number;
    send(m: unknown): void;
    setTheme(kind: ThemeKind): void;
  };
  __xss?: unknown;
}
