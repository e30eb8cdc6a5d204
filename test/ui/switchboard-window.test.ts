// Issue 11 §2.1–2.5 in a REAL VS Code (code-server + Chromium), through its UI, with the packaged VSIX:
// approval notifications that close when decided anywhere, Route to… offering only sessions that take
// messages, one wording for a stopped command in the terminal footer / sidebar / CLI, keyboard
// approval through a Quick Pick, and stream terminals that come back after a window reload.
//
//   npm run build && npm run package && node --import tsx --test test/ui/switchboard-window.test.ts
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { visibleText } from "../../src/protocol/visible-text.js";
import { openWorkbench, runCommand, screenshot } from "../support/vscode/workbench.js";
import {
  uiSuite,
  type BrokerApi,
  approvalCard,
  cliSync,
  inboxCard,
  killAllChildren,
  openSidebar,
  readRecord,
  rowTexts,
  sidebar,
  startPeer,
  terminalNames,
  until,
  waitForApproval,
  waitForTerminalRows,
  waitGone,
  waitVisible,
  withFailureShots,
  type Peer,
} from "./switchboard-helpers.js";

const SETTINGS = {
  "switchboard.notifications.approvals": "all",
  "terminal.integrated.gpuAcceleration": "off",
};

describe("Agent Switchboard window behaviour in a real VS Code (issue 11 §2)", { timeout: 900_000 }, () => {
  const suite = uiSuite("uiw");
  const { home, workspace, page, pages, cli } = suite;
  let api: BrokerApi;
  const toast = (text: string) => page().locator(".notifications-toasts .notification-toast", { hasText: text });

  before(
    async () => {
      ({ api } = await suite.open({ settings: SETTINGS, shotName: "window-0-startup" }));
    },
    { timeout: 240_000 },
  );

  afterEach(() => killAllChildren(), { timeout: 15_000 });

  after(() => suite.end(), { timeout: 60_000 });

  it("1. an approval notification goes away when the request is decided elsewhere (CLI), toast and Notification Center alike; its Approve link approves", {
    timeout: 180_000,
  }, async () => {
    await withFailureShots(pages, "window-1", async () => {
      const tag = `notify-${Date.now()}`;
      const known = new Set((await api.approvals("pending")).map((a) => a.approval_id));
      const first = cli(["run", "--no-start", "--", "echo", `${tag}-a`]);
      const { approval: a1 } = await waitForApproval(api, (a) => a.command === `echo ${tag}-a`, { known });
      const t1 = toast(`${tag}-a`).first();
      await t1.waitFor({ state: "visible", timeout: 15_000 });
      assert.ok((await t1.innerText()).includes(`${a1.session} asks to run (sh)`), `the toast names the session and action: ${await t1.innerText()}`);
      assert.equal(await t1.locator("a", { hasText: "Approve" }).count(), 1, "an Approve link in the toast");
      await screenshot(page(), "window-1-notification");

      // Decided somewhere else (the CLI): the toast goes, and nothing of it stays in the Notification Center.
      cliSync(["approvals", "reject", a1.approval_id, "--reason", "not now"], { home, cwd: workspace });
      await t1.waitFor({ state: "detached", timeout: 15_000 }).catch(() => {
        throw new Error("the notification of a request rejected in the CLI is still shown");
      });
      assert.equal((await first.exit(15_000)).code, 126);
      await runCommand(page(), "Notifications: Show Notifications");
      const center = page().locator(".notifications-center");
      await center.waitFor({ state: "visible", timeout: 10_000 });
      assert.equal(await center.locator(".notification-list-item", { hasText: `${tag}-a` }).count(), 0, `the Notification Center still lists it: ${await center.innerText()}`);
      await page().keyboard.press("Escape");

      // Its own Approve link decides it, and then it goes too.
      const second = cli(["run", "--no-start", "--", "echo", `${tag}-b`]);
      const { approval: a2 } = await waitForApproval(api, (a) => a.command === `echo ${tag}-b`, { known });
      const t2 = toast(`${tag}-b`).first();
      await t2.waitFor({ state: "visible", timeout: 15_000 });
      await t2.locator("a", { hasText: "Approve" }).click();
      const exit = await second.exit(30_000);
      assert.equal(exit.code, 0, `stderr: ${second.stderr()}`);
      assert.equal(second.stdout(), `${tag}-b\n`);
      assert.equal((await api.approval(a2.approval_id)).state, "approved");
      await t2.waitFor({ state: "detached", timeout: 15_000 });
    });
  });

  it("2. Route to… offers only sessions that take messages; the broker refuses a `switchboard run` session and the item stays in the inbox", { timeout: 180_000 }, async () => {
    let peer: Peer | undefined;
    try {
      await withFailureShots(pages, "window-2", async () => {
        const frame = sidebar(page());
        peer = await startPeer(readRecord(home)!, "message-taker", workspace);
        const known = new Set((await api.approvals("pending")).map((a) => a.approval_id));
        const run = cli(["run", "--no-start", "--", "sleep", "1"]);
        const { approval } = await waitForApproval(api, (a) => a.command === "sleep 1", { known });
        const runEp = (await api.endpoints()).find((e) => e.endpoint_id === approval.endpoint_id)!;
        assert.equal(runEp.accepts_messages, false, "switchboard run declares that it takes no messages");
        await waitVisible(frame, frame.locator(`article.card.session[data-id="${runEp.endpoint_id}"]`), "the run session's card");
        assert.equal(await frame.locator(`article.card.session[data-id="${runEp.endpoint_id}"] vscode-button.send`).count(), 0, "no Send message… on a session that takes none");

        const content = `route me ${Date.now()}`;
        const sent = JSON.parse(cliSync(["send", "--json", "--from", "ci-bot", content], { home, cwd: workspace })) as { undispatched_id?: string; messageId: string };
        const itemId = sent.undispatched_id ?? sent.messageId;
        const card = inboxCard(frame, itemId);
        await waitVisible(frame, card, "the inbox card");
        await card.locator("vscode-button.route").click();
        const quick = page().locator(".quick-input-widget");
        await quick.locator(".monaco-list-row", { hasText: "message-taker" }).first().waitFor({ state: "visible", timeout: 15_000 });
        const rows = await quick.locator(".monaco-list-row").allInnerTexts();
        assert.ok(!rows.some((r) => r.includes(runEp.label)), `Route to… must not offer "${runEp.label}": ${JSON.stringify(rows)}`);
        await screenshot(page(), "window-2-route-pick");
        await page().keyboard.press("Escape");

        await assert.rejects(api.dispatch(itemId, runEp.endpoint_id), (e: any) => e.code === "recipient_takes_no_messages" && e.status === 409);
        assert.ok(
          (await api.undispatched(process.pid)).some((i) => i.id === itemId),
          "the item stays in the broker's inbox",
        );
        assert.ok(await card.isVisible(), "and in the sidebar's Inbox");

        cliSync(["approvals", "reject", approval.approval_id], { home, cwd: workspace });
        await run.exit(15_000);
        await card.locator("vscode-button.dismiss").click();
        await waitGone(frame, card, "the dismissed inbox card");
      });
    } finally {
      await peer?.stop();
    }
  });

  it("3. keyboard approval (Ctrl+Alt+Shift+Y) shows the session, action and full command, control characters visible, before Enter approves", { timeout: 180_000 }, async () => {
    await withFailureShots(pages, "window-3", async () => {
      const tag = `kbd-${Date.now()}`;
      const known = new Set((await api.approvals("pending")).map((a) => a.approval_id));
      // A right-to-left override in the command: shown as \u202e, not obeyed.
      const run = cli(["run", "--no-start", "--session", `keys ${tag}`, "--", "echo", `${tag} safe\u202eevil`]);
      const { approval } = await waitForApproval(api, (a) => !!a.command?.includes(tag), { known });
      await toast(tag).first().waitFor({ state: "visible", timeout: 15_000 });

      await page()
        .locator(".part.editor")
        .click({ position: { x: 50, y: 50 } })
        .catch(() => {});
      await page().keyboard.press("Control+Alt+Shift+KeyY");
      const quick = page().locator(".quick-input-widget");
      const row = quick.locator(".monaco-list-row", { hasText: tag }).first();
      await row.waitFor({ state: "visible", timeout: 15_000 }).catch(() => {
        throw new Error("Ctrl+Alt+Shift+Y did not show the request in a Quick Pick");
      });
      const text = await row.innerText();
      assert.ok(text.includes(`sh · ${visibleText(approval.session)}`), `the session and action: ${JSON.stringify(text)}`);
      assert.ok(text.includes(`$ echo '${tag} safe\\u202eevil'`), `the full command with the bidi control made visible: ${JSON.stringify(text)}`);
      assert.ok(!text.includes("\u202e"), "no raw bidi control in the Quick Pick");
      assert.equal((await api.approval(approval.approval_id)).state, "pending", "nothing is approved before Enter");
      await screenshot(page(), "window-3-keyboard-pick");

      await page().keyboard.press("Enter");
      const exit = await run.exit(30_000);
      assert.equal(exit.code, 0, `stderr: ${run.stderr()}`);
      const decided = await api.approval(approval.approval_id);
      assert.equal(decided.state, "approved");
      assert.match(decided.decided_by ?? "", /VS Code/);
      await toast(tag).first().waitFor({ state: "detached", timeout: 15_000 });
    });
  });

  it("4. Stop in the sidebar: the terminal footer, the sidebar and the CLI say the same thing, with the signal and the duration", { timeout: 180_000 }, async () => {
    await withFailureShots(pages, "window-4", async () => {
      const frame = sidebar(page());
      const tag = `stop-${Date.now()}`;
      const known = new Set((await api.approvals("pending")).map((a) => a.approval_id));
      const run = cli(["run", "--no-start", "--", "sh", "-c", `echo ${tag}; sleep 60`]);
      const { approval } = await waitForApproval(api, (a) => !!a.command?.includes(tag), { known });
      const card = approvalCard(frame, approval.approval_id);
      await waitVisible(frame, card, "the approval card");
      await card.locator("vscode-button.approve").click();
      await waitForTerminalRows(page(), "the command's output in its terminal", (rows) => rows.some((r) => r.text.trim() === tag));

      const streamId = await until("the stream id", async () => (await api.approval(approval.approval_id)).stream_id);
      const row = frame.locator(`article.row.stream[data-id="${streamId}"]`);
      await waitVisible(frame, row, "the running stream's row");
      await row.locator("vscode-button.stop").click();
      const rows = await waitForTerminalRows(page(), "the footer", (rs) => rs.some((r) => /cancelled \(/.test(r.text)), 20_000);
      const footer = rows
        .find((r) => /cancelled \(/.test(r.text))!
        .text.replace(/^\s*──\s*/, "")
        .trim();
      assert.match(footer, /^cancelled \(killed by SIGINT\) after [\d.]+ (ms|s): stopped in /, `the footer: ${JSON.stringify(rowTexts(rows))}`);
      const squash = (t: string) => t.replace(/\s+/g, " ").trim(); // the sidebar may wrap it
      await until("the sidebar to show the same outcome", async () => squash(await row.locator(".status").innerText()) === footer, 10_000).catch(async (e: Error) => {
        throw new Error(`${e.message}: sidebar "${await row.locator(".status").innerText()}", footer "${footer}"`);
      });
      const listed = cliSync(["streams"], { home, cwd: workspace });
      assert.ok(listed.includes(footer), `switchboard streams says the same: ${listed}`);
      const exit = await run.exit(15_000);
      assert.equal(exit.code, 130, `sh dies of the SIGINT; stderr: ${run.stderr()}`);
      await screenshot(page(), "window-4-stopped");
    });
  });

  it("5. after a window reload, the terminal of a still-running stream reopens (replayed, then live) and no stray shell terminal opens", { timeout: 240_000 }, async () => {
    await withFailureShots(pages, "window-5", async () => {
      const frame = sidebar(page());
      // Start from a panel that holds only stream terminals (test 4's, ended).
      const tag = `reload-${Date.now()}`;
      const known = new Set((await api.approvals("pending")).map((a) => a.approval_id));
      // It prints once, then waits for a file this test creates after the reload, then prints again.
      const flag = join(workspace, `${tag}.flag`);
      const run = cli(["run", "--no-start", "--", "sh", "-c", `echo ${tag}-before; while [ ! -e ${flag} ]; do sleep 0.1; done; echo ${tag}-after; sleep 120`]);
      const { approval } = await waitForApproval(api, (a) => !!a.command?.includes(tag), { known });
      await approvalCard(frame, approval.approval_id).locator("vscode-button.approve").click();
      await waitForTerminalRows(page(), "the output before the reload", (rows) => rows.some((r) => r.text.trim() === `${tag}-before`));
      const before = await terminalNames(page());
      const name = before.find((n) => n.includes(tag));
      assert.ok(name, `a terminal for the stream: ${JSON.stringify(before)}`);

      await page().reload({ timeout: 60_000 });
      await openWorkbench(page(), { timeoutMs: 60_000 });
      await openSidebar(page());
      await until(
        "the stream's terminal to reopen, replayed, with no stray shell",
        async () => {
          const names = await terminalNames(page());
          if (!names.some((n) => n.includes(tag))) return false;
          const rows = await page()
            .locator(".terminal-wrapper.active .xterm-rows")
            .first()
            .innerText({ timeout: 1000 })
            .catch(() => "");
          return rows.includes(`${tag}-before`) && !names.some((n) => /^(bash|sh|zsh|dash)$/.test(n.trim()));
        },
        45_000,
        200,
      ).catch(async (e: Error) => {
        const names = JSON.stringify(await terminalNames(page()));
        await runCommand(page(), "Switchboard: Show Logs").catch(() => {});
        const logs = await page()
          .locator(".part.panel .view-lines")
          .first()
          .innerText({ timeout: 5000 })
          .catch(() => "");
        throw new Error(`${e.message}; terminals now: ${names}; the extension's log:\n${logs.slice(-3000)}`);
      });
      await screenshot(page(), "window-5-after-reload");
      assert.equal((await api.approval(approval.approval_id)).state, "approved");
      const streamId = (await api.approval(approval.approval_id)).stream_id!;
      assert.equal((await api.replayStream(streamId)).stream.state, "streaming", "still running");
      // Live after the replay.
      writeFileSync(flag, "");
      await waitForTerminalRows(page(), "live output in the reopened terminal", (rs) => rs.some((r) => r.text.trim() === `${tag}-after`));
      // The reload did not stop the command; closing its terminal (the person's doing) does.
      await runCommand(page(), "Terminal: Kill the Active Terminal Instance");
      const exit = await run.exit(15_000);
      assert.equal(exit.code, 130, `closing the terminal stops the command; stderr: ${run.stderr()}`);
      assert.equal((await api.replayStream(streamId)).stream.state, "cancelled");
    });
  });
});
