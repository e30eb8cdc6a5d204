// `npm start -- --check`: does in the real VS Code what the README asks a new user to do. Opens the
// workbench in headless Chromium, clicks the Switchboard icon in the activity bar, approves the demo
// request on its card, and waits until the approved command's output and exit code are in its
// terminal. Every wait is bounded and fails with a sentence that says what was (not) seen; a
// screenshot of the moment is kept.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { FrameLocator, Page } from "playwright-core";
import { REPO_ROOT, launchChromium } from "./server.js";

export const EXTENSION_ID = "agent-switchboard.agent-switchboard";
/** Settings check mode adds: xterm's DOM renderer, so the terminal's rows can be read. */
export const CHECK_SETTINGS = { "terminal.integrated.gpuAcceleration": "off" } as const;

export interface CheckOptions {
  /** The workbench URL (with the demo folder). */
  url: string;
  approvalId: string;
  /** Lines the approved command prints, each expected as a row of its terminal. */
  lines: string[];
  /** The terminal's footer once the command ended (e.g. /\bexit 0 after \d/). */
  footer: RegExp;
  /** Where a screenshot goes when something is not seen. */
  artifactsDir?: string;
  log?: (text: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Drives the workbench through the demo; resolves with the milestones in ms since navigation. */
export async function checkInWorkbench(o: CheckOptions): Promise<Array<[string, number]>> {
  const log = o.log ?? (() => {});
  const chrome = await launchChromium();
  const page = await chrome.browser.newPage({ viewport: { width: 1280, height: 800 } });
  const t0 = Date.now();
  const marks: Array<[string, number]> = [];
  const mark = (what: string) => {
    marks.push([what, Date.now() - t0]);
    log(`${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  };
  try {
    await page.goto(o.url, { timeout: 60_000 });
    await seen(page, page.locator(".monaco-workbench .part.statusbar"), "the VS Code workbench", 60_000);
    mark("workbench shown");
    const icon = page.locator('.part.activitybar .action-item .action-label[aria-label^="Agent Switchboard"]').first();
    await seen(page, icon, "the Agent Switchboard icon in the activity bar (the extension did not load)", 60_000);
    await icon.click();
    const frame = sidebar(page);
    await seen(page, frame.locator("header.topbar.phase-connected"), 'the Switchboard sidebar saying "Connected"', 45_000, frame);
    mark("sidebar connected");
    const card = frame.locator(`article.card.approval[data-id="${o.approvalId}"]`);
    await seen(page, card, `the card of the demo request ${o.approvalId}`, 30_000, frame);
    await card.locator(".approve").first().click();
    mark("approved in the sidebar");
    const rows = page.locator(".terminal-wrapper.active .xterm-rows").first();
    await seen(page, rows, "a terminal for the approved command", 30_000);
    let last: string[] = [];
    const deadline = Date.now() + 60_000;
    for (;;) {
      last = await rows.evaluate((el) => [...el.children].map((r) => (r.textContent ?? "").trimEnd()).filter(Boolean)).catch(() => last);
      if (o.lines.every((l) => last.includes(l)) && last.some((r) => o.footer.test(r))) break;
      if (Date.now() > deadline) {
        throw new Error(`the terminal did not show the demo's output and exit code within 60 s; it shows: ${JSON.stringify(last)}${await shot(page, o)}`);
      }
      await sleep(200);
    }
    mark(`terminal shows the output and "${last.find((r) => o.footer.test(r))}"`);
    return marks;
  } finally {
    await chrome.stop();
  }

  async function seen(p: Page, loc: ReturnType<Page["locator"]>, what: string, timeoutMs: number, frame?: FrameLocator): Promise<void> {
    try {
      await loc.waitFor({ state: "visible", timeout: timeoutMs });
    } catch {
      const text = frame
        ? await frame
            .locator("body")
            .innerText({ timeout: 2000 })
            .catch(() => "")
        : "";
      throw new Error(`${what} did not show within ${timeoutMs / 1000} s${text ? `; the sidebar shows: ${JSON.stringify(text.slice(0, 600))}` : ""}${await shot(p, o)}`);
    }
  }
}

function sidebar(page: Page): FrameLocator {
  return page.locator(`iframe.webview.ready[src*="extensionId=${EXTENSION_ID}"]`).last().contentFrame().locator("#active-frame").contentFrame();
}

async function shot(page: Page, o: CheckOptions): Promise<string> {
  const dir = o.artifactsDir ?? join(REPO_ROOT, "test-artifacts/check");
  const file = join(dir, `check-failure-${new Date().toISOString().replace(/[:.]/g, "-")}.png`);
  try {
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: file, timeout: 10_000 });
    return ` (screenshot: ${file})`;
  } catch {
    return "";
  }
}
