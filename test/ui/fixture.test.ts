// Proof of the UI harness on test/fixtures/hello-ext, packaged as a VSIX and installed into a real
// VS Code (code-server): node --import tsx --test test/ui/fixture.test.ts
// Screenshots land in test-artifacts/ui/.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { packageVsix } from "../support/vscode/vsix.js";
import {
  activityBarItem,
  clearNotifications,
  openSecondWindow,
  runCommand,
  screenshot,
  startVsCode,
  waitForNotification,
  webviewFrame,
  type VsCodeSession,
} from "../support/vscode/workbench.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/hello-ext/", import.meta.url));

describe("hello-ext in a real VS Code workbench", { timeout: 180_000 }, () => {
  let vscode: VsCodeSession | undefined;
  let vsix: string | undefined;
  const workspace = mkdtempSync(join(tmpdir(), "sb-hello-ui-ws-"));

  before(async () => {
    cpSync(join(FIXTURE, "workspace"), workspace, { recursive: true });
    const t0 = Date.now();
    vsix = await packageVsix(FIXTURE);
    const packMs = Date.now() - t0;
    vscode = await startVsCode({ vsix, workspace });
    const t = vscode.timings;
    console.log(`timings: vsce package ${packMs} ms, server (install VSIX + start) ${t.serverMs} ms, ` + `chromium ${t.chromiumMs} ms, workbench shell ${t.workbenchMs} ms`);
  });

  after(async () => {
    await vscode?.stop();
    rmSync(workspace, { recursive: true, force: true });
    if (vsix) rmSync(dirname(vsix), { recursive: true, force: true });
  });

  it("runs the fixture's command from the palette and shows its notification", async () => {
    const { page } = vscode!;
    await activityBarItem(page, "Explorer").waitFor({ timeout: 10_000 });
    const t0 = Date.now();
    await runCommand(page, "Hello Fixture: Say Hello");
    const toast = await waitForNotification(page, "Hello, world! (from hello-ext)");
    console.log(`command palette -> notification in ${Date.now() - t0} ms (includes the extension host starting)`);
    assert.match(await toast.innerText(), /Hello, world! \(from hello-ext\)/);
    await screenshot(page, "hello-ext-notification");
  });

  it("opens the fixture's webview and round-trips a message through it", async () => {
    const { page } = vscode!;
    await clearNotifications(page);
    await runCommand(page, "Hello Fixture: Open Panel");
    const frame = webviewFrame(page, '[src*="extensionId=switchboard-fixtures.hello-ext"]');
    await frame.locator("#title", { hasText: "Hello from the webview" }).waitFor({ timeout: 15_000 });
    await frame.locator("#ping").click();
    await frame.locator("#reply", { hasText: "pong #1" }).waitFor({ timeout: 10_000 });
    await waitForNotification(page, "Webview says: hello from the panel");
    await screenshot(page, "hello-ext-webview");
  });

  it("a second window on the same server runs the command too", async () => {
    const second = await openSecondWindow(vscode!);
    await runCommand(second, "Hello Fixture: Say Hello");
    await waitForNotification(second, "Hello, world! (from hello-ext)");
    await screenshot(second, "hello-ext-second-window");
  });
});
