// A window that finds no broker, in a REAL VS Code (code-server + Chromium) with the packaged VSIX:
// with `switchboard.broker.autoStart` off and no broker running, the sidebar shows the "Not connected"
// banner with the reason and its Reconnect / Restart broker buttons, and the status bar item says
// disconnected. A broker started afterwards from outside is found without a click (the window tries
// again on the timer of the client's first-connect policy, src/client/connect-retry.ts: 2 s, 5 s,
// 10 s, then every 30 s), and the window becomes a session of it.
//
//   npm run build && npm run package && node --import tsx --test test/ui/switchboard-connect.test.ts
import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Dialog } from "playwright-core";
import { runCommand, screenshot, startVsCode, type VsCodeSession } from "../support/vscode/workbench.js";
import { BrokerApi, VSIX, cleanupOnExit, cliSync, endSuite, readRecord, sidebar, until, waitGone, waitVisible, withFailureShots } from "./switchboard-helpers.js";

const SETTINGS = { "switchboard.notifications.approvals": "off", "switchboard.broker.autoStart": false };

describe("Agent Switchboard without a broker, in a real VS Code", { timeout: 600_000 }, () => {
  let vscode: VsCodeSession | undefined;
  const home = mkdtempSync(join(tmpdir(), "sb-uic-home-"));
  const workspace = mkdtempSync(join(tmpdir(), "sb-uic-ws-"));
  const onDialog = (d: Dialog) => void d.dismiss().catch(() => {});
  const page = () => vscode!.page;
  const pages = () => [vscode?.page];
  const cancelExitHook = cleanupOnExit(home, [home, workspace]);

  before(
    async () => {
      assert.ok(existsSync(VSIX), `${VSIX} is missing: run npm run package`);
      vscode = await startVsCode({ vsix: VSIX, workspace, settings: SETTINGS, env: { SWITCHBOARD_HOME: home }, workbenchTimeoutMs: 60_000 });
      vscode.page.on("dialog", onDialog);
    },
    { timeout: 240_000 },
  );

  after(() => endSuite({ vscode: () => vscode, home, folders: [workspace, home], cancelExitHook }), { timeout: 60_000 });

  it("no broker: the banner says so with the reason, offers Reconnect and Restart broker; the status bar says disconnected", { timeout: 120_000 }, async () => {
    await withFailureShots(pages, "connect-1", async () => {
      await page().locator('.part.activitybar .action-item .action-label[aria-label^="Agent Switchboard"]').first().waitFor({ timeout: 45_000 });
      await runCommand(page(), "Switchboard: Open Sidebar");
      const frame = sidebar(page());
      const banner = frame.locator(".banner").filter({ hasText: "Not connected to the broker" });
      // The window tries again now and then (briefly "connecting"): look for everything at one moment.
      const seen = await until(
        "the Not connected banner with its reason, Reconnect and Restart broker, and a disconnected status bar",
        async () => {
          if ((await frame.locator("header.topbar.phase-disconnected").count()) !== 1) return undefined;
          const reason = ((await banner.locator(".banner-reason").textContent({ timeout: 1000 })) ?? "").trim();
          const reconnect = await banner.getByRole("button", { name: "Reconnect" }).count();
          const restart = await banner.getByRole("button", { name: "Restart broker" }).count();
          const status = await page().locator('.part.statusbar [aria-label^="Agent Switchboard: disconnected"]').count();
          return reason && reconnect === 1 && restart === 1 && status > 0 ? { reason } : undefined;
        },
        60_000,
        200,
      );
      console.log(`the banner's reason: ${seen.reason}`);
      assert.equal(readRecord(home), undefined, "with autoStart off, the window started no broker");
      await screenshot(page(), "connect-1-no-broker");
    });
  });

  it("a broker started later is found without a click: the banner goes and the window is a session of it", { timeout: 180_000 }, async () => {
    await withFailureShots(pages, "connect-2", async () => {
      cliSync(["broker"], { home, cwd: workspace, env: { SWITCHBOARD_IDLE_EXIT_MINUTES: "10" } });
      const record = readRecord(home);
      assert.ok(record, "a discovery record after `switchboard broker`");
      const api = new BrokerApi(record);
      // Retries are at most 30 s apart: well within this bound, with no click in between.
      const self = await until(
        "this window registered at the broker started after it",
        async () => (await api.endpoints()).find((e) => e.kind === "vscode" && e.session_name === basename(workspace)),
        90_000,
        250,
      );
      const frame = sidebar(page());
      await waitVisible(frame, frame.locator(`article.card.session.self[data-id="${self.endpoint_id}"]`), "this window's own session card", 30_000);
      await waitGone(frame, frame.locator(".banner").filter({ hasText: "Not connected to the broker" }), "the Not connected banner", 15_000);
      await frame.locator("header.topbar.phase-connected").waitFor({ timeout: 15_000 });
      await page().locator('.part.statusbar [aria-label^="Agent Switchboard: connected"]').first().waitFor({ timeout: 15_000 });
      await screenshot(page(), "connect-2-connected");
    });
  });
});
