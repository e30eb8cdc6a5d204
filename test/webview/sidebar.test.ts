// The sidebar webview in Chromium, in a page that reproduces the extension host's HTML and CSP.
// Needs `npm run build` (media/sidebar.js) and /usr/bin/chromium.
//   node --import tsx --test test/webview/*.test.ts
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { SidebarState } from "../../src/protocol/webview.js";
import { AA_TEXT, CONTRAST_PROBE, type ContrastSample } from "../support/webview/contrast.js";
import { HOSTILE, NOW, USER_RULES, approval, bigInboxState, emptyState, fixtureState, hostileState, message, policyView, stream } from "../support/webview/fixtures.js";
import { LAYOUT_PROBE } from "../support/webview/layout.js";
import { REPO_ROOT, Sidebar, launchBrowser, startServer, type Browser, type SbWindow, type StaticServer } from "../support/webview/harness.js";

let server: StaticServer;
let browser: Browser;
const pages: Sidebar[] = [];
const ARTIFACTS = join(REPO_ROOT, "test-artifacts");
const TALL = 3000;
const LONG_COMMAND =
  "sh -c 'echo warning: the build cache at /home/developer/projects/switchboard/node_modules/.cache/esbuild is stale; npm run build -- --minify --sourcemap=external && npm test -- --reporter=spec'";

async function open(opts: Parameters<typeof Sidebar.open>[2] = {}): Promise<Sidebar> {
  const sb = await Sidebar.open(browser, server, opts);
  pages.push(sb);
  return sb;
}

/** A page showing the fixture state, with nothing posted yet but `ready`. */
async function withFixture(state: SidebarState = fixtureState(), opts: Parameters<typeof Sidebar.open>[2] = {}): Promise<Sidebar> {
  // Tall enough for every fixture item to be in the rendered window (the lists are virtualised; the
  // 1,000-item test covers windowing in a sidebar-sized viewport).
  const sb = await open({ height: TALL, ...opts });
  await sb.state(state);
  await sb.clearPosted();
  return sb;
}

const later = (s: SidebarState, ms: number): SidebarState => ({ ...s, now: new Date(Date.parse(s.now) + ms).toISOString() });
const squash = (s: string | null) => (s ?? "").replace(/\s+/g, " ").trim();

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

describe("sidebar webview", () => {
  it("acquires the VS Code API once and posts ready on load", async () => {
    const sb = await open();
    const posted = await sb.posted();
    assert.deepEqual(
      posted.filter((m) => m.type === "ready"),
      [{ type: "ready" }],
    );
    assert.equal(await sb.page.evaluate(() => (window as unknown as SbWindow).__sb.acquireCalls), 1);
    assert.match(squash(await sb.page.locator("main").textContent()), /Waiting for the extension/);
  });

  it("renders every section from a fixture state", async () => {
    const sb = await withFixture();
    const p = sb.page;
    assert.deepEqual(await p.locator("h2 .section-name").allTextContents(), ["Approvals", "Inbox", "Sessions", "Streams", "Messages", "Policy"]);
    // Counts: the decided approval and the closed session are not listed.
    assert.deepEqual(await p.locator("h2 vscode-badge").allTextContents(), ["3", "2", "4", "5", "2", "5"]);
    assert.equal(squash(await p.locator("h2#h-approvals .sr-only").textContent()), ", 3 waiting");

    // Header.
    assert.equal(squash(await p.locator(".conn-phase").textContent()), "Connected");
    assert.match(squash(await p.locator(".conn-detail").textContent()), /broker 0\.1\.0/);
    assert.equal(await p.locator(".phase-connected .codicon-pass-filled").count(), 1);

    // Approvals: session + kind, action badge, summary, command, cwd, age, buttons.
    const ap1 = p.locator('#body-approvals li[data-key="ap-1"]');
    assert.equal(squash(await ap1.locator(".session-name").textContent()), "agent-1");
    assert.equal(squash(await ap1.locator(".session-kind").textContent()), "pi");
    assert.equal(squash(await ap1.locator(".action-badge").textContent()), "sh");
    assert.equal(squash(await ap1.locator(".summary").textContent()), "Run the unit tests");
    assert.equal(await ap1.locator("pre.command").textContent(), "npm test");
    assert.equal(squash(await ap1.locator(".path").textContent()), "/home/dev/project");
    assert.equal(squash(await ap1.locator(".age").textContent()), "2 m ago");
    assert.equal(await ap1.getByRole("button", { name: "Approve npm test from agent-1", exact: true }).count(), 1);
    assert.equal(await ap1.getByRole("button", { name: "Reject npm test from agent-1", exact: true }).count(), 1);
    const badges = await p
      .locator("#body-approvals .action-badge")
      .evaluateAll((els) => els.map((e) => [e.textContent?.trim(), getComputedStyle(e.closest(".card")!).borderLeftColor]));
    assert.deepEqual(
      badges.map((b) => b[0]),
      ["sh", "edit", "env"],
    );
    assert.equal(new Set(badges.map((b) => b[1])).size, 3, "each action's card has its own colour");

    // The edit approval's diff: +/- lines by class, folded to 12 lines, unfolded with aria-expanded.
    const ap2 = p.locator('#body-approvals li[data-key="ap-2"]');
    assert.equal(await ap2.locator("pre.command").count(), 0);
    assert.equal(await ap2.locator(".dl").count(), 12);
    assert.equal(await ap2.locator(".dl-add").count(), 2);
    assert.equal(await ap2.locator(".dl-del").count(), 2);
    assert.equal(await ap2.locator(".dl-hunk").count(), 2);
    const addBg = await ap2
      .locator(".dl-add")
      .first()
      .evaluate((e) => getComputedStyle(e).backgroundColor);
    const delBg = await ap2
      .locator(".dl-del")
      .first()
      .evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.notEqual(addBg, delBg);
    const unfold = ap2.getByRole("button", { name: "Show all 16 lines" });
    assert.equal(await unfold.getAttribute("aria-expanded"), "false");
    await unfold.click();
    assert.equal(await ap2.locator(".dl").count(), 16);
    assert.equal(await ap2.locator(".dl-add").count(), 3);
    assert.equal(await ap2.getByRole("button", { name: "Show less" }).getAttribute("aria-expanded"), "true");
    assert.equal(squash(await ap2.locator(".diff-stat").textContent()), "+3 −2");

    const ap3 = p.locator('#body-approvals li[data-key="ap-3"]');
    assert.match(squash(await ap3.locator(".meta").textContent()), /Runs in this window's terminal/);
    assert.match(squash(await ap3.locator(".expires").textContent()), /^times out in \d+ s$/);
    assert.equal(squash(await ap3.locator(".age").textContent()), "12 m ago");

    // Inbox: sender, reason in words, preview, age.
    const in1 = p.locator('#body-inbox li[data-key="in-1"]');
    assert.equal(squash(await in1.locator(".sender").textContent()), "ci-bot");
    assert.equal(squash(await in1.locator(".reason").textContent()), "Sent without a recipient");
    assert.equal(squash(await in1.locator(".age").textContent()), "3 m ago");
    const in2 = p.locator('#body-inbox li[data-key="in-2"]');
    assert.match(squash(await in2.locator(".reason").textContent()), /session was closed/);
    assert.equal(squash(await in2.locator(".age").textContent()), "1 h ago");
    assert.equal(await in2.locator(".content.folded").count(), 1);

    // Sessions: kind icons, states, workspace, task, last seen, self marked and not offered "Send".
    const kinds = await p.locator("#body-sessions .kind-icon .codicon").evaluateAll((els) => els.map((e) => e.className));
    assert.deepEqual(
      kinds.map((c) => /codicon-(vscode|sparkle|terminal|robot)/.exec(c)?.[1]),
      ["vscode", "sparkle", "terminal", "robot"],
    );
    const self = p.locator('#body-sessions li[data-key="ep-window"]');
    assert.equal(squash(await self.locator(".self-tag").textContent()), "this window");
    assert.equal(await self.getByRole("button", { name: /Send a message/ }).count(), 0);
    // Connected sessions, this window included, say so instead of a stale "seen 16 m ago".
    assert.equal(squash(await self.locator(".session-state").textContent()), "connected");
    assert.equal(await self.locator(".age").count(), 0);
    assert.doesNotMatch(squash(await self.textContent()), /seen/);
    const a1 = p.locator('#body-sessions li[data-key="ep-agent-1"]');
    assert.equal(squash(await a1.locator(".session-state").textContent()), "connected");
    assert.equal(squash(await a1.locator(".path").textContent()), "/home/dev/project/packages/api");
    assert.match(squash(await a1.locator(".branch").textContent()), /feature\/login/);
    assert.equal(squash(await a1.locator(".task").textContent()), "Fix the flaky router tests");
    assert.equal(await a1.locator(".age").count(), 0);
    const a2 = p.locator('#body-sessions li[data-key="ep-agent-2"]');
    assert.equal(squash(await a2.locator(".session-state").textContent()), "reconnecting");
    assert.equal(await a2.locator(".session-state .codicon-sync.codicon-modifier-spin").count(), 1);
    assert.equal(squash(await a2.locator(".path").textContent()), "/home/dev/other");
    assert.equal(squash(await a2.locator(".meta .age").textContent()), "seen 3 m ago");
    assert.match(squash(await a2.locator(".buffered").textContent()), /2 messages waiting/);
    const activeColour = await a1.locator(".session-state .codicon").evaluate((e) => getComputedStyle(e).color);
    const reconnColour = await a2.locator(".session-state .codicon").evaluate((e) => getComputedStyle(e).color);
    assert.notEqual(activeColour, reconnColour);

    // Streams: running first with a spinner, exit codes coloured, signal and cancellation in words.
    const statuses = await p.locator("#body-streams .meta .status").evaluateAll((els) => els.map((e) => [e.textContent?.trim(), e.className]));
    assert.deepEqual(
      statuses.map((s) => s[0]),
      ["running", "exit 0 after 5.3 s", "exit 3 after 1.2 s", "killed by SIGINT", "cancelled: stopped from VS Code"],
    );
    assert.match(statuses[1]![1]!, /tone-ok/);
    assert.match(statuses[2]![1]!, /tone-error/);
    assert.equal(await p.locator('#body-streams li[data-key="st-run"] .codicon-loading.codicon-modifier-spin').count(), 1);
    assert.equal(await p.locator("#body-streams vscode-button.stop").count(), 1);
    assert.equal(await p.locator('#body-streams li[data-key="st-run"] vscode-button.stop').count(), 1);

    // Messages.
    const m1 = p.locator('#body-messages li[data-key="m-1"]');
    assert.equal(squash(await m1.locator(".sender").textContent()), "agent-2");
    assert.equal(squash(await m1.locator(".age").textContent()), "5 m ago");
    assert.equal(await m1.getByRole("button", { name: "Reply to agent-2…" }).count(), 1);
    assert.equal(await p.locator('#body-messages li[data-key="m-2"]').getByRole("button", { name: /Reply/ }).count(), 0);
  });

  it("renders agent text literally, never as markup", async () => {
    const sb = await open({ height: TALL });
    const state = hostileState();
    const long = `${HOSTILE}\n${"x".repeat(200)}\n${HOSTILE}`;
    state.messages = [message({ id: "m-x", from: HOSTILE, content: long })];
    await sb.state(state);
    await sb.page.getByRole("button", { name: /Show all of the message from/ }).click();
    await sb.page.waitForTimeout(100); // an onerror handler would have run by now
    const r = await sb.page.evaluate(() => {
      const q = (sel: string) => document.querySelector(sel)?.textContent ?? null;
      return {
        markup: document.querySelectorAll("#app img, #app script, #app b, #app [onerror]").length,
        xss: (window as unknown as SbWindow).__xss ?? null,
        approval: [q("#body-approvals .summary"), q("#body-approvals .command code"), q("#body-approvals .session-name"), q("#body-approvals .path")],
        diff: q("#body-approvals .dl-add"),
        approveLabel: document.querySelector("#body-approvals vscode-button.approve")?.getAttribute("aria-label") ?? null,
        inbox: [q("#body-inbox .sender"), q("#body-inbox .content")],
        sessions: [q("#body-sessions .session-label"), q("#body-sessions .task span:last-child"), q("#body-sessions .path")],
        stream: q("#body-streams .stream-open"),
        streamSession: q("#body-streams .session-name"),
        messages: [q("#body-messages .sender"), q("#body-messages .content")],
      };
    });
    assert.equal(r.markup, 0, "no element was created from agent text");
    assert.equal(r.xss, null, "no agent script ran");
    assert.deepEqual(r.approval, [`Summary: ${HOSTILE}`, HOSTILE, HOSTILE, HOSTILE]);
    assert.equal(r.diff, `+${HOSTILE}`);
    assert.equal(r.approveLabel, `Approve ${HOSTILE.slice(0, 59)}… from ${HOSTILE}`);
    assert.deepEqual(r.inbox, [HOSTILE, HOSTILE]);
    assert.deepEqual(r.sessions, [HOSTILE, HOSTILE, HOSTILE]);
    assert.ok(r.stream?.startsWith("<img src=x onerror="), r.stream ?? "");
    assert.equal(r.streamSession, `agent ${HOSTILE}`);
    assert.deepEqual(r.messages, [HOSTILE, long]);
  });

  it("Approve posts approve with the approval id, waits for the result and shows it", async () => {
    const sb = await withFixture();
    const approve = sb.page.getByRole("button", { name: "Approve npm test from agent-1", exact: true });
    await approve.click();
    const m = await sb.waitForPost("approve");
    assert.equal(m.approvalId, "ap-1");
    assert.equal(typeof m.requestId, "string");
    assert.ok((m.requestId as string).length > 0 && (m.requestId as string).length <= 64);
    // Disabled until the host answers: a second click posts nothing.
    assert.equal(await approve.getAttribute("disabled"), "");
    await approve.click({ force: true });
    assert.equal((await sb.posted()).filter((x) => x.type === "approve").length, 1);

    await sb.send({ type: "result", requestId: m.requestId as string, ok: true, message: "Approved npm test" });
    assert.equal(squash(await sb.page.getByRole("status").filter({ hasText: "Approved" }).textContent()), "Approved npm test");
    assert.equal(await approve.getAttribute("disabled"), null);

    // The host's next state no longer lists it: the card goes, the count follows.
    const s = fixtureState();
    s.approvals = s.approvals.filter((a) => a.approval_id !== "ap-1");
    await sb.state(s);
    assert.equal(await sb.page.locator('#body-approvals li[data-key="ap-1"]').count(), 0);
    assert.equal(await sb.page.locator("#h-approvals vscode-badge").textContent(), "2");
  });

  it("rejects with a reason using only the keyboard (Tab, Enter, typing, Enter)", async () => {
    const sb = await withFixture();
    await sb.tabTo("Reject npm test from agent-1");
    await sb.page.keyboard.press("Enter");
    assert.match(await sb.focused(), /^vscode-textfield/);
    await sb.page.keyboard.type("Not in CI, please");
    await sb.page.keyboard.press("Enter");
    const m = await sb.waitForPost("reject");
    assert.equal(m.approvalId, "ap-1");
    assert.equal(m.reason, "Not in CI, please");
    assert.equal((await sb.posted()).filter((x) => x.type === "approve").length, 0);
  });

  it("Escape cancels a reject and gives focus back to Reject; no reason posts no reason", async () => {
    const sb = await withFixture();
    await sb.tabTo("Reject npm test from agent-1");
    await sb.page.keyboard.press("Space");
    assert.match(await sb.focused(), /^vscode-textfield/);
    await sb.page.keyboard.type("never mind");
    await sb.page.keyboard.press("Escape");
    assert.equal(await sb.page.locator("#body-approvals vscode-textfield").count(), 0);
    assert.equal(await sb.focused(), "vscode-button:Reject npm test from agent-1");
    assert.equal((await sb.posted()).length, 0);
    // Opening it again starts empty; Tab leaves the field (no trap) to the confirm button.
    await sb.page.keyboard.press("Enter");
    assert.equal(await sb.page.locator("#body-approvals vscode-textfield").evaluate((e) => (e as HTMLInputElement).value), "");
    await sb.page.keyboard.press("Tab");
    assert.equal(await sb.focused(), "vscode-button:Confirm: reject npm test");
    await sb.page.keyboard.press("Shift+Tab");
    assert.match(await sb.focused(), /^vscode-textfield/);
    await sb.page.keyboard.press("Enter");
    const m = await sb.waitForPost("reject");
    assert.deepEqual(Object.keys(m).sort(), ["approvalId", "requestId", "type"]);
  });

  it("keeps the reject draft, focus and expanded items across state updates", async () => {
    const sb = await withFixture();
    await sb.page
      .locator('#body-inbox li[data-key="in-2"]')
      .getByRole("button", { name: /Show all/ })
      .click();
    await sb.page.getByRole("button", { name: "Reject npm test from agent-1", exact: true }).click();
    await sb.page.keyboard.type("half a reas");
    let s = later(fixtureState(), 30_000);
    s.approvals = [approval({ approval_id: "ap-0", summary: "A new one", command: "git push" }), ...s.approvals];
    await sb.state(s);
    s = later(s, 30_000);
    await sb.state(s);
    assert.match(await sb.focused(), /^vscode-textfield/);
    assert.equal(await sb.page.locator("#body-approvals vscode-textfield").evaluate((e) => (e as HTMLInputElement).value), "half a reas");
    assert.equal(await sb.page.locator('#body-inbox li[data-key="in-2"] .content.expanded').count(), 1);
    await sb.page.keyboard.type("on");
    await sb.page.keyboard.press("Enter");
    const m = await sb.waitForPost("reject");
    assert.equal(m.reason, "half a reason");
    assert.equal(m.approvalId, "ap-1");
  });

  it("moves focus to the next card when the focused approval is decided elsewhere", async () => {
    const sb = await withFixture();
    await sb.page.getByRole("button", { name: "Approve npm test from agent-1", exact: true }).focus();
    const s = fixtureState();
    s.approvals = s.approvals.filter((a) => a.approval_id !== "ap-1");
    await sb.state(s);
    const focusedKey = await sb.page.evaluate(() => (document.activeElement?.closest("li[data-key]") as HTMLElement | null)?.dataset.key ?? null);
    assert.equal(focusedKey, "ap-2");
    // The last one goes too: focus falls back to the section heading, not to <body>.
    await sb.page.getByRole("button", { name: "Approve Make the port configurable from agent-2", exact: true }).focus();
    await sb.state({ ...s, approvals: [] });
    assert.match(squash(await sb.focused()), /^button:Approvals/);
  });

  it("Route posts route without a target, Dismiss posts dismiss, errors show as alerts", async () => {
    const sb = await withFixture();
    await sb.page.getByRole("button", { name: "Route the message from ci-bot to a session…" }).click();
    const r = await sb.waitForPost("route");
    assert.equal(r.itemId, "in-1");
    assert.ok(!("endpointId" in r));
    await sb.send({ type: "result", requestId: r.requestId as string, ok: false, message: "No open session can take it." });
    const alert = sb.page.getByRole("alert");
    assert.equal(squash(await alert.textContent()), "No open session can take it.");
    await alert.getByRole("button", { name: "Close this notice" }).click();
    assert.equal(squash(await alert.textContent()), "");

    await sb.page.getByRole("button", { name: "Dismiss the message from slack:#ops" }).click();
    const d = await sb.waitForPost("dismiss");
    assert.equal(d.itemId, "in-2");

    // Expanding a message is keyboard accessible and says so with aria-expanded.
    const toggle = sb.page.getByRole("button", { name: "Show all of the message from slack:#ops" });
    assert.equal(await toggle.getAttribute("aria-expanded"), "false");
    await toggle.focus();
    await sb.page.keyboard.press("Enter");
    const less = sb.page.getByRole("button", { name: "Show less of the message from slack:#ops" });
    assert.equal(await less.getAttribute("aria-expanded"), "true");
    assert.equal(await sb.page.locator('#body-inbox li[data-key="in-2"] .content').textContent(), fixtureState().inbox[1]!.content);
  });

  it("streams open their terminal on click or Enter; only running ones can be stopped", async () => {
    const sb = await withFixture();
    await sb.page.locator('#body-streams li[data-key="st-fail"] .meta').click();
    assert.equal((await sb.waitForPost("openStream")).streamId, "st-fail");
    await sb.clearPosted();
    await sb.page.getByRole("button", { name: "Open the terminal of npm test (exit 0 after 5.3 s)" }).focus();
    await sb.page.keyboard.press("Enter");
    assert.deepEqual(await sb.waitForPost("openStream"), { type: "openStream", streamId: "st-ok" });
    await sb.clearPosted();
    await sb.page.getByRole("button", { name: "Stop npm run watch" }).click();
    const stop = await sb.waitForPost("stopStream");
    assert.equal(stop.streamId, "st-run");
    assert.equal((await sb.posted()).filter((m) => m.type === "openStream").length, 0, "Stop does not also open the terminal");
  });

  it("offers no Stop for a running command the agent runs itself (cancellable: false)", async () => {
    const state = fixtureState();
    state.streams = [stream({ stream_id: "st-agent", command: "make build", session: "claude: project · 1a2b3c4d", state: "streaming", cancellable: false }), ...state.streams];
    const sb = await withFixture(state);
    assert.equal(await sb.page.locator('#body-streams li[data-key="st-agent"] .codicon-modifier-spin').count(), 1, "shown as running");
    assert.equal(await sb.page.locator('#body-streams li[data-key="st-agent"] vscode-button.stop').count(), 0);
    assert.equal(await sb.page.locator('#body-streams li[data-key="st-run"] vscode-button.stop').count(), 1);
  });

  it("sessions, messages and the header post their intents", async () => {
    const sb = await withFixture();
    await sb.page.getByRole("button", { name: "Send a message to agent-1…" }).click();
    assert.equal((await sb.waitForPost("sendTo")).endpointId, "ep-agent-1");
    await sb.page.getByRole("button", { name: "Reply to agent-2…" }).click();
    assert.equal((await sb.waitForPost("reply")).messageId, "m-1");
    await sb.page.getByRole("button", { name: "Open diff of Make the port configurable" }).click();
    assert.deepEqual(await sb.waitForPost("showDiff"), { type: "showDiff", approvalId: "ap-2" });
    await sb.clearPosted();
    // Reconnect and Show Logs are the view title bar's (package.json), not repeated in the page.
    assert.equal(await sb.page.getByRole("button", { name: /Reconnect|Show the Switchboard logs/ }).count(), 0);
    await sb.page.getByRole("button", { name: "New pi session" }).click();
    assert.deepEqual(
      (await sb.posted()).map((m) => m.command),
      ["newPiSession"],
    );
  });

  it("shows the connection phase, with the reason and a way out when it is not connected", async () => {
    const sb = await withFixture();
    const s = fixtureState();
    await sb.state({ ...s, connection: { ...s.connection, phase: "reconnecting", reason: "broker restarted (exit 1)" } });
    assert.equal(squash(await sb.page.locator(".conn-phase").textContent()), "Reconnecting…");
    assert.equal(squash(await sb.page.locator(".conn-detail").textContent()), "broker restarted (exit 1)");
    assert.equal(await sb.page.locator(".conn .codicon-sync.codicon-modifier-spin").count(), 1);
    await sb.state({ ...s, connection: { ...s.connection, phase: "disconnected", reason: "connect ECONNREFUSED 127.0.0.1:41237" } });
    assert.equal(squash(await sb.page.locator(".conn-phase").textContent()), "Disconnected");
    assert.equal(await sb.page.locator(".conn .codicon-debug-disconnect").count(), 1);
    assert.equal(squash(await sb.page.locator(".banner .banner-reason").textContent()), "connect ECONNREFUSED 127.0.0.1:41237");
    await sb.page.locator(".banner").getByRole("button", { name: "Restart broker" }).click();
    await sb.page.locator(".banner").getByRole("button", { name: "Reconnect" }).click();
    assert.deepEqual(
      (await sb.posted()).map((m) => m.command),
      ["restartBroker", "reconnect"],
    );
  });

  it("reaches every action with Tab and has no keyboard trap", async () => {
    const sb = await withFixture();
    await sb.page
      .locator('#body-inbox li[data-key="in-2"]')
      .getByRole("button", { name: /Show all/ })
      .click();
    await sb.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    const seen: string[] = [];
    for (let i = 0; i < 160; i++) {
      await sb.page.keyboard.press("Tab");
      const f = await sb.focused();
      if (seen.length > 0 && f === seen[0]) break; // wrapped around: back at the start
      seen.push(f);
    }
    const names = seen.join("\n");
    for (const want of [
      "Approve npm test from agent-1",
      "Reject npm test from agent-1",
      "Approve Make the port configurable from agent-2",
      "Open diff of Make the port configurable",
      "Approve ls -la dist/ from agent-3",
      "Route the message from ci-bot to a session…",
      "Dismiss the message from ci-bot",
      "Show less of the message from slack:#ops",
      "New pi session",
      "Send a message to agent-1…",
      "Open the terminal of npm run watch (running)",
      "Stop npm run watch",
      "Open the terminal of sleep 100 (killed by SIGINT)",
      "Reply to agent-2…",
      "Show all of the message from ci-bot",
      "Remove rule tests",
      "Open the file of rule tests",
      "Open the user rules file",
      "Review and accept…",
    ]) {
      assert.ok(names.includes(want), `Tab reaches "${want}"`);
    }
    for (const section of ["Approvals", "Inbox", "Sessions", "Streams", "Messages", "Policy"]) {
      assert.ok(
        seen.some((f) => f.startsWith(`button:${section}`)),
        `Tab reaches the ${section} heading`,
      );
    }
    for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], `Tab moved on from ${seen[i - 1]}`);
    assert.ok(seen.length < 160, "Tab wraps around to the first control (no trap)");
    // Shift+Tab walks back.
    await sb.tabTo("Reply to agent-2…");
    await sb.page.keyboard.press("Shift+Tab");
    assert.notEqual(await sb.focused(), "vscode-button:Reply to agent-2…");
    // Focus is visible: the focused control has an outline in the focusBorder colour.
    await sb.tabTo("Route the message from ci-bot to a session…", 120);
    const ring = await sb.page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const base = el.shadowRoot?.querySelector("[part=base]") ?? el;
      const cs = getComputedStyle(base);
      return { el: getComputedStyle(el).outlineStyle + getComputedStyle(el).outlineColor, base: cs.outlineStyle + cs.outlineColor };
    });
    assert.ok(/solid/.test(ring.el) || /solid/.test(ring.base), `visible focus ring: ${JSON.stringify(ring)}`);
    const heading = await sb.tabTo(/^button:Sessions/, 120);
    assert.ok(heading > 0);
    const headingRing = await sb.page.evaluate(() => getComputedStyle(document.activeElement!).outlineColor);
    assert.equal(headingRing, "rgb(0, 120, 212)"); // --vscode-focusBorder of the dark theme
  });

  it("Policy names a user rules file that does not load (written by hand), as text with hidden characters made visible", async () => {
    const error = `user rules (${USER_RULES}) is not JSON: Unexpected token <b>x</b>\u202e`;
    const sb = await withFixture({ ...fixtureState(), policy: { ...policyView(), user_error: error } }, { height: 4000 });
    const note = sb.page.locator("section.sec-policy .policy-note.user-error");
    const text = squash(await note.textContent());
    assert.match(text, /is not JSON: Unexpected token <b>x<\/b>.*; until it is fixed, none of its allow rules apply \(its deny and ask rules stay\)\./);
    assert.ok(!text.includes("\u202e"), "the bidi override is shown, not applied");
    assert.equal(await note.locator("b").count(), 0, "markup in the file's error is text");
  });

  it("Policy lists the rules in force with scope and source; Remove and Open file by keyboard; notes for guards and a workspace file to accept", async () => {
    const sb = await withFixture(fixtureState(), { height: 4000 });
    const sec = sb.page.locator("section.sec-policy");
    await sec.scrollIntoViewIfNeeded();
    const items = sec.locator("li[data-key]");
    // Deny first, then ask, then allow; the guards and the inactive read-only set are not listed one by one.
    assert.deepEqual(await items.evaluateAll((els) => els.map((e) => e.querySelector(".rule-id")?.textContent)), ["no-push", "ws-deploy", "tests", "ws-curl", "allow-src"]);
    assert.match(squash(await sec.locator(".section-toggle").textContent()), /Policy 5 , 5 rules/);
    const curl = sec.locator('li[data-key^="workspace:"][data-key$=":ws-curl"]');
    assert.match(
      squash(await curl.locator(".rule-meta").textContent()),
      /ws-curl workspace \(not accepted: ignored\) workspace rules \(\/home\/dev\/project\/\.switchboard\/policy\.json\)/,
    );
    assert.match((await curl.locator("article").getAttribute("class")) ?? "", /\binactive\b/);
    const session = sec.locator('li[data-key="session:ep-agent-1:allow-src"]');
    assert.match(squash(await session.textContent()), /allow edit src\/\*\* allow-src this session only session agent-1/);
    assert.equal(await session.locator("vscode-button.open-rule-file").count(), 0, "a session rule has no file");
    assert.match(
      squash(await sec.locator(".policy-notes").textContent()),
      /1 built-in guards always ask.*The allow rules of \/home\/dev\/project\/\.switchboard\/policy\.json are ignored until you accept this exact file/,
    );

    // Remove by keyboard: Tab to the button, Enter; busy until the host answers.
    const tests = sec.locator('li[data-key$=":tests"]');
    const remove = tests.getByRole("button", { name: "Remove rule tests" });
    await remove.focus();
    await sb.page.keyboard.press("Enter");
    const posted = await sb.posted();
    const rm = posted.find((m) => m.type === "removeRule") as { requestId: string; key: string } | undefined;
    assert.ok(rm, "removeRule posted");
    assert.equal(rm.key, `user:user rules (${USER_RULES}):tests`);
    assert.equal(await remove.getAttribute("disabled"), "");
    await sb.send({ type: "result", requestId: rm.requestId, ok: true, message: "Removed rule tests." });
    assert.match(squash(await sb.page.locator(".notice.ok").textContent()), /Removed rule tests\./);

    await tests.getByRole("button", { name: "Open the file of rule tests" }).click();
    await sec.getByRole("button", { name: "Open the user rules file" }).click();
    await sec.getByRole("button", { name: "Review and accept…" }).click();
    const after = (await sb.posted()).filter((m) => m.type !== "removeRule");
    assert.deepEqual(
      after.map((m) => m.type),
      ["openRuleFile", "openUserRules", "acceptWorkspaceRules"],
    );
    assert.deepEqual(after[0], { type: "openRuleFile", key: `user:user rules (${USER_RULES}):tests` });
    assert.deepEqual(after[2], { type: "acceptWorkspaceRules", root: "/home/dev/project" });

    // A rule from a cloned repository's file is shown as text, its hidden characters visible.
    const hostile = fixtureState();
    hostile.policy!.rules.push({
      rule: { id: "evil", decision: "allow", command: `echo ${HOSTILE}\u202e` },
      scope: "user",
      where: "user rules (x)",
      active: true,
      endpoint_id: null,
    });
    await sb.state(hostile);
    const evil = sec.locator('li[data-key$=":evil"] .rule-pattern');
    assert.equal(await evil.textContent(), `echo ${HOSTILE}\\u202e`);
    assert.equal(await sb.page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);

    // An agent that offered "always": the card offers Allow for this session (a session rule, asked in the host).
    const always = fixtureState();
    always.approvals = [
      approval({ approval_id: "ap-always", command: "npm run test:unit", summary: "npm run test:unit", always_offered: true }),
      approval({ approval_id: "ap-once" }),
    ];
    await sb.state(always);
    await sb.clearPosted();
    assert.equal(await sb.page.locator('li[data-key="ap-once"] vscode-button.allow-session').count(), 0, "not offered when the agent did not offer always");
    await sb.page.getByRole("button", { name: "Allow npm run test:unit for this session…" }).click();
    const ask = (await sb.posted()).find((m) => m.type === "allowForSession") as { requestId: string; approvalId: string } | undefined;
    assert.equal(ask?.approvalId, "ap-always");
    await sb.send({ type: "result", requestId: ask!.requestId, ok: true, message: "Allowed `npm run test:*` for this session (rule allow-npm-run-test-any)." });

    // Before the rules are known, the section says so instead of "no rules".
    await sb.state({ ...fixtureState(), policy: null });
    assert.match(squash(await sec.locator(".empty").textContent()), /once the broker has sent them/);
  });

  it("folds sections, remembers the fold across a reload, and unfolds on a focus message", async () => {
    const sb = await withFixture();
    const toggle = sb.page.locator('button.section-toggle[data-section="inbox"]');
    await toggle.click();
    assert.equal(await toggle.getAttribute("aria-expanded"), "false");
    assert.equal(await sb.page.locator("#body-inbox").getAttribute("hidden"), "");
    assert.equal(await sb.page.locator("#body-inbox li").count(), 0);
    await sb.page.waitForFunction(() => (window as unknown as SbWindow).__sb.setStateCalls > 0);

    await sb.page.reload();
    await sb.page.waitForFunction(() => (window as unknown as SbWindow).__sb.posted.some((m) => m.type === "ready"));
    await sb.state(fixtureState());
    assert.equal(await toggle.getAttribute("aria-expanded"), "false");

    await sb.send({ type: "focus", section: "inbox" });
    assert.equal(await toggle.getAttribute("aria-expanded"), "true");
    assert.match(await sb.focused(), /^button:Inbox/);
    await sb.send({ type: "focus", section: "streams", id: "st-fail" });
    const key = await sb.page.evaluate(() => (document.activeElement?.closest("li[data-key]") as HTMLElement | null)?.dataset.key);
    assert.equal(key, "st-fail");

    // A focus that arrives before the first state (a view just created) is applied once it is shown.
    await sb.page.reload();
    await sb.page.waitForFunction(() => (window as unknown as SbWindow).__sb.posted.some((m) => m.type === "ready"));
    await sb.send({ type: "focus", section: "approvals", id: "ap-3" });
    await sb.state(fixtureState());
    const early = await sb.page.evaluate(() => (document.activeElement?.closest("li[data-key]") as HTMLElement | null)?.dataset.key);
    assert.equal(early, "ap-3");
  });

  it("updates ages from a local timer between states", async () => {
    const sb = await open({ clock: true, height: TALL });
    await sb.state(fixtureState());
    const age = sb.page.locator('#body-approvals li[data-key="ap-1"] .age');
    assert.equal(squash(await age.textContent()), "2 m ago");
    const expires = sb.page.locator('#body-approvals li[data-key="ap-3"] .expires');
    assert.match(squash(await expires.textContent()), /^times out in 4[45] s$/);
    // Near a deadline the countdown moves every second.
    await sb.page.clock.runFor(2_000);
    assert.match(squash(await expires.textContent()), /^times out in 4[23] s$/);
    await sb.page.clock.runFor(5 * 60_000 + 15_000); // ticks are 15 s apart again once it expired
    assert.equal(squash(await age.textContent()), "7 m ago");
    assert.equal(squash(await expires.textContent()), "timing out: denied");
  });

  it("survives a state it cannot show: says so, and renders the next good state", async () => {
    const sb = await withFixture();
    sb.expectConsoleErrors = true;
    const bad = fixtureState();
    (bad.approvals[0] as unknown as { summary: unknown; command: unknown }).summary = null;
    (bad.approvals[0] as unknown as { summary: unknown; command: unknown }).command = null;
    await sb.state(bad);
    assert.match(squash(await sb.page.getByRole("alert").first().textContent()), /could not show the latest state/);
    await sb.page.getByRole("button", { name: "Show the logs" }).click();
    assert.equal((await sb.waitForPost("command")).command, "showLogs");
    await sb.state(fixtureState());
    assert.deepEqual(await sb.page.locator("h2 vscode-badge").allTextContents(), ["3", "2", "4", "5", "2", "5"]);
    assert.equal(await sb.page.locator(".render-error").count(), 0);
    await sb.page.getByRole("button", { name: "Approve npm test from agent-1", exact: true }).click();
    assert.equal((await sb.waitForPost("approve")).approvalId, "ap-1");
  });

  it("says what to do next when a section is empty", async () => {
    const sb = await withFixture(emptyState());
    const empty = async (id: string) => squash(await sb.page.locator(`#body-${id} .empty`).textContent());
    assert.equal(await empty("approvals"), "No approvals waiting. Agents ask here before running commands; try switchboard run -- echo hello in a terminal.");
    assert.match(await empty("inbox"), /Messages sent without a recipient wait here \(switchboard send "…"\)/);
    assert.match(await empty("sessions"), /Start an agent session \(Switchboard: New pi Session\) or run switchboard run\./);
    assert.match(await empty("streams"), /Approved commands stream their output here/);
    assert.match(await empty("messages"), /switchboard send --to vscode-project/);
    assert.match(await empty("policy"), /No approval rules: every request asks you\. Save one with Allow similar… on an approval, or run switchboard policy add\./);
    assert.deepEqual(await sb.page.locator("h2 vscode-badge").allTextContents(), ["0", "0", "0", "0", "0", "0"]);
    await sb.page.getByRole("button", { name: "Switchboard: New pi Session" }).click();
    assert.equal((await sb.waitForPost("command")).command, "newPiSession");
  });

  it("renders 1,000 inbox items as a window of the list, reachable by scrolling, keyboard and focus", async (t) => {
    const sb = await open();
    const big = bigInboxState(1000);
    const ms = await sb.page.evaluate(
      async (data) => {
        const t0 = performance.now();
        window.dispatchEvent(new MessageEvent("message", { data }));
        for (let i = 0; i < 20; i++) await null;
        void document.body.offsetHeight;
        return performance.now() - t0;
      },
      { type: "state", state: big } as unknown,
    );
    t.diagnostic(`first render with 1,000 inbox items: ${ms.toFixed(1)} ms (the benchmark is bench/webview.ts)`);
    const info = () =>
      sb.page.evaluate(() => {
        const lis = [...document.querySelectorAll<HTMLElement>("#body-inbox li[data-key]")];
        return { count: lis.length, first: lis[0]?.getAttribute("aria-posinset"), last: lis.at(-1)?.getAttribute("aria-posinset"), setsize: lis[0]?.getAttribute("aria-setsize") };
      });
    const first = await info();
    assert.equal(await sb.page.locator("#h-inbox vscode-badge").textContent(), "1000");
    assert.ok(first.count > 0 && first.count < 60, `a window of the list is rendered (${first.count})`);
    assert.equal(first.setsize, "1000");
    assert.equal(first.first, "1");

    // The list's padding stands in for the rest: the page is about as tall as all items.
    const listHeight = await sb.page.locator("#body-inbox ol").evaluate((e) => e.getBoundingClientRect().height);
    assert.ok(listHeight > 1000 * 60, `list height ${listHeight}`);

    // Scroll to the end of the inbox: the last items are rendered there.
    await sb.page.evaluate(() => {
      const ol = document.querySelector("#body-inbox ol")!;
      window.scrollTo(0, ol.getBoundingClientRect().bottom + window.scrollY - innerHeight);
    });
    await sb.page.waitForFunction(() => !!document.querySelector('#body-inbox li[data-key="in-0-999"]'));
    // Measured heights settle: the last item ends where the list ends.
    await sb.page.waitForFunction(() => {
      const ol = document.querySelector("#body-inbox ol")?.getBoundingClientRect();
      const li = document.querySelector('#body-inbox li[data-key="in-0-999"]')?.getBoundingClientRect();
      return !!ol && !!li && Math.abs(ol.bottom - li.bottom) < 1 && li.bottom <= innerHeight + 1 && li.bottom > 0;
    });
    const end = await info();
    assert.equal(end.last, "1000");
    assert.ok(end.count < 60);

    // A state update re-renders quickly and keeps the DOM of unchanged items.
    await sb.page.evaluate(() => {
      (document.querySelector('#body-inbox li[data-key="in-0-999"]') as HTMLElement & { __mark?: number }).__mark = 1;
    });
    await sb.state(later(big, 1000));
    assert.equal(await sb.page.evaluate(() => (document.querySelector('#body-inbox li[data-key="in-0-999"]') as HTMLElement & { __mark?: number }).__mark), 1);

    // Keyboard: tabbing through the list renders what comes next.
    await sb.page.evaluate(() => window.scrollTo(0, 0));
    await sb.page.waitForFunction(() => !!document.querySelector('#body-inbox li[data-key="in-0-0"]'));
    await sb.tabTo("Dismiss the message from agent-0", 120);
    for (let i = 0; i < 60; i++) await sb.page.keyboard.press("Tab");
    const reached = await sb.page.evaluate(() => Number((document.activeElement?.closest("li[data-key]") as HTMLElement | null)?.getAttribute("aria-posinset")));
    assert.ok(reached >= 20, `Tab reached item ${reached}`);

    // A focus message for an item far down scrolls to it and focuses it.
    await sb.send({ type: "focus", section: "inbox", id: "in-0-700" });
    const focused = await sb.page.evaluate(() => (document.activeElement?.closest("li[data-key]") as HTMLElement | null)?.getAttribute("aria-posinset"));
    assert.equal(focused, "701");
  });

  it("looks native in dark, light and high-contrast themes (screenshots)", async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    for (const theme of ["dark", "light", "hc"] as const) {
      const sb = await open({ theme, height: 2150 });
      await sb.state(fixtureState());
      await sb.page.getByRole("button", { name: "Reject ls -la dist/ from agent-3", exact: true }).click();
      await sb.page.keyboard.type("Use the cached listing");
      await sb.page.getByRole("button", { name: "Show all of the message from slack:#ops" }).click();
      await sb.send({ type: "result", requestId: "r-1", ok: true, message: "Routed to agent-1" });
      await sb.page.getByRole("button", { name: "Route the message from ci-bot to a session…" }).focus();
      await sb.page.waitForTimeout(150);
      const cls = await sb.page.evaluate(() => document.body.className);
      assert.equal(cls, { dark: "vscode-dark", light: "vscode-light", hc: "vscode-high-contrast" }[theme]);
      await sb.page.screenshot({ path: join(ARTIFACTS, `webview-${theme}.png`), fullPage: true });
    }
    // The same page follows a live theme change (VS Code swaps the variables and the body class).
    const sb = await withFixture();
    const before = await sb.page
      .locator(".card")
      .first()
      .evaluate((e) => getComputedStyle(e).backgroundColor);
    await sb.setTheme("light");
    const after = await sb.page
      .locator(".card")
      .first()
      .evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.notEqual(before, after);
    await sb.page.screenshot({ path: join(ARTIFACTS, "webview-light-switched.png") });
  });

  it("in Light Modern, Dark Modern and Dark High Contrast, at 360 and 250 px: nothing cut off or covered, text on badges and buttons meets WCAG AA (screenshots)", async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const state = fixtureState();
    state.approvals.unshift(approval({ approval_id: "ap-long", summary: LONG_COMMAND, command: LONG_COMMAND }));
    state.streams.push(
      stream({
        stream_id: "st-long",
        command: "npm run deploy",
        state: "cancelled",
        status: 499,
        signal: "SIGINT",
        reason: "stopped in switchboard-demo",
        ended_at: NOW,
        duration_ms: 14_000,
      }),
    );
    for (const theme of ["light", "dark", "hc"] as const) {
      for (const width of [360, 250]) {
        const sb = await open({ theme, width, height: 2600 });
        await sb.state(state);
        await sb.send({ type: "result", requestId: "r-1", ok: true, message: "Routed to agent-1." });
        await sb.page.waitForTimeout(50);
        const problems = (await sb.page.evaluate(LAYOUT_PROBE)) as string[];
        await sb.page.screenshot({ path: join(ARTIFACTS, `webview-${theme}-${width}.png`), fullPage: true });
        await sb.page.locator("section.sec-streams").screenshot({ path: join(ARTIFACTS, `webview-${theme}-${width}-streams.png`) });
        assert.deepEqual(problems, [], `${theme} at ${width} px`);
        const samples = (await sb.page.evaluate(CONTRAST_PROBE)) as ContrastSample[];
        assert.ok(samples.length > 20, `measured ${samples.length} badges and buttons`);
        for (const want of ["button Approve npm test", "badge sh", "count badge", "button Reject npm test", "button Send a message to agent-1"]) {
          assert.ok(
            samples.some((x) => x.what.startsWith(want)),
            `${want} was measured`,
          );
        }
        assert.deepEqual(
          samples.filter((x) => x.ratio < AA_TEXT),
          [],
          `text below ${AA_TEXT}:1 in ${theme}`,
        );
        // Approve and Reject differ at a glance (in High Contrast both used to be outlined alike).
        const look = (sel: string) =>
          sb.page
            .locator(sel)
            .first()
            .evaluate((b) => {
              const st = getComputedStyle(b.shadowRoot!.querySelector(".base")!);
              return `${st.backgroundColor} ${st.color}`;
            });
        assert.notEqual(await look("vscode-button.approve"), await look("vscode-button.reject"), `Approve and Reject look different in ${theme}`);
        // The summary that only repeats the command is not shown; the long command is folded.
        const long = sb.page.locator('#body-approvals li[data-key="ap-long"]');
        assert.equal(await long.locator(".summary").count(), 0);
        assert.match((await long.locator("pre.command").getAttribute("class")) ?? "", /\bfolded\b/);
        await sb.page.close();
      }
    }
  });

  it("folds a long command to a few lines with Show all; the full text is one click away", async () => {
    const sb = await open({ width: 250, height: 1200 });
    const state = fixtureState();
    const multi = ["set -e", "npm ci", "npm run build -- --minify", "npm test", "npm run package", "scp agent-switchboard.vsix deploy@host:/srv/"].join("\n");
    state.approvals = [
      approval({ approval_id: "ap-long", command: LONG_COMMAND, summary: LONG_COMMAND }),
      approval({ approval_id: "ap-multi", command: multi, summary: "Release" }),
    ];
    await sb.state(state);
    const one = sb.page.locator('#body-approvals li[data-key="ap-long"]');
    const pre = one.locator("pre.command");
    const folded = (await pre.boundingBox())!.height;
    const lineHeight = await pre.evaluate((e) => parseFloat(getComputedStyle(e).lineHeight));
    assert.ok(folded <= lineHeight * 4 + 12, `folded to 4 lines (${folded} px)`);
    await one.getByRole("button", { name: "Show all of the command" }).click();
    assert.equal(await pre.textContent(), LONG_COMMAND);
    assert.ok((await pre.boundingBox())!.height > folded);
    assert.equal(await one.getByRole("button", { name: "Show less of the command" }).getAttribute("aria-expanded"), "true");
    const two = sb.page.locator('#body-approvals li[data-key="ap-multi"]');
    assert.equal(await two.locator("pre.command").textContent(), multi.split("\n").slice(0, 4).join("\n"));
    await two.getByRole("button", { name: "Show all of the command" }).click();
    assert.equal(await two.locator("pre.command").textContent(), multi);
    assert.equal(squash(await two.locator(".summary").textContent()), "Release");
    // Still no word broken in the middle, and no scroll box, when unfolded at 250 px.
    assert.deepEqual(await sb.page.evaluate(LAYOUT_PROBE), []);
  });

  it("paints the last known state at once on the next load, read-only until the live state arrives, and reports both paints", async () => {
    const sb = await open({ height: TALL });
    await sb.state(fixtureState());
    const first = await sb.waitForPost("painted");
    assert.equal(first.live, true);
    assert.equal(typeof first.at, "number");
    // The live state is kept (at most once a second) for the next load.
    await sb.page.waitForFunction(() => JSON.parse(sessionStorage.getItem("sb-webview-state") ?? "{}").last !== undefined, undefined, { timeout: 5000 });
    await sb.page.reload();
    await sb.page.waitForFunction(() => (window as unknown as SbWindow).__sb.posted.some((m) => m.type === "ready"));
    const cached = await sb.waitForPost("painted");
    assert.equal(cached.live, false);
    // Before any state from the host: the last known lists, "Connecting…", every button disabled.
    assert.deepEqual(await sb.page.locator("h2 vscode-badge").allTextContents(), ["3", "2", "4", "5", "2", "5"]);
    assert.equal(squash(await sb.page.locator(".conn-phase").textContent()), "Connecting…");
    assert.match(squash(await sb.page.locator(".conn-detail").textContent()), /last known state/);
    const approve = sb.page.getByRole("button", { name: "Approve npm test from agent-1", exact: true });
    assert.equal(await approve.getAttribute("disabled"), "");
    assert.equal(squash(await approve.textContent()), "Approve");
    await sb.clearPosted();
    // The live state: buttons work again, and the live paint is reported.
    const live = fixtureState();
    live.approvals = live.approvals.filter((a) => a.approval_id !== "ap-3");
    await sb.state(live);
    assert.equal((await sb.waitForPost("painted")).live, true);
    assert.deepEqual(await sb.page.locator("h2 vscode-badge").allTextContents(), ["2", "2", "4", "5", "2", "5"]);
    assert.equal(squash(await sb.page.locator(".conn-phase").textContent()), "Connected");
    assert.equal(await approve.getAttribute("disabled"), null);
    await approve.click();
    assert.equal((await sb.waitForPost("approve")).approvalId, "ap-1");
  });

  it("logged no CSP violation, console error or page error on any page", async () => {
    // The detector works: an inline style attribute is refused and reported.
    const probe = await Sidebar.open(browser, server, {});
    await probe.page.evaluate(() => document.body.insertAdjacentHTML("beforeend", '<div style="color: red"></div>'));
    await probe.page.waitForFunction(() => (window as unknown as SbWindow).__sb.violations.length > 0);
    await probe.page.close();

    for (const sb of pages) {
      const url = sb.page.isClosed() ? "(closed)" : sb.page.url();
      if (!sb.page.isClosed()) assert.deepEqual(await sb.violations(), [], `CSP violations on ${url}`);
      if (sb.expectConsoleErrors) continue;
      const bad = sb.console.filter((c) => c.type === "error" || c.type === "warning" || /Content Security Policy/i.test(c.text));
      assert.deepEqual(bad, [], `console errors on ${url}`);
      assert.deepEqual(sb.pageErrors, [], `page errors on ${url}`);
    }
  });
});
