// The approval policy in a real VS Code (code-server + Chromium, the packaged VSIX): "Allow similar…"
// on a card proposes a rule, the person keeps it and picks "All my sessions"; the pending request from
// `switchboard run` is decided at once, the next matching one is approved before anyone sees it, the
// audit chain verifies and names the rule, and a workspace rules file's allow rule waits for acceptance.
// Rules added or removed outside the window (the CLI, a hand edit of a rules file) show in the Policy
// section at once, by the broker's policy_changed on the feed.
//
//   npm run build && npm run package && node --import tsx --test test/ui/switchboard-policy.test.ts
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { verifyChain } from "../../src/platform/audit-chain.js";
import { ROUTES } from "../../src/protocol/routes.js";
import { AA_TEXT, CONTRAST_PROBE, type ContrastSample } from "../support/webview/contrast.js";
import { screenshot, type VsCodeSession } from "../support/vscode/workbench.js";
import {
  uiSuite,
  type BrokerApi,
  approvalCard,
  killAllChildren,
  showTerminal,
  sidebar,
  until,
  waitForApproval,
  waitGone,
  waitVisible,
  withFailureShots,
} from "./switchboard-helpers.js";

describe("approval rules in a real VS Code workbench", { timeout: 600_000 }, () => {
  const suite = uiSuite("ui-pol");
  const { workspace, page, cli } = suite;
  let vscode: VsCodeSession | undefined;
  let api: BrokerApi;

  before(
    async () => {
      ({ vscode, api } = await suite.open({
        // xterm's DOM renderer, so that the terminal's rows can be read.
        settings: { "switchboard.notifications.approvals": "off", "terminal.integrated.gpuAcceleration": "off" },
        shotName: "policy-0-startup",
      }));
    },
    { timeout: 240_000 },
  );
  afterEach(() => killAllChildren(), { timeout: 15_000 });
  after(() => suite.end(), { timeout: 60_000 });

  it("Allow similar… saves a rule that decides the pending request and the next matching one from switchboard run", { timeout: 180_000 }, async () => {
    await withFailureShots(
      () => [vscode?.page],
      "policy-1",
      async () => {
        const frame = sidebar(page());
        const known = new Set((await api.approvals("pending")).map((a) => a.approval_id));
        const first = cli(["run", "--no-start", "--", "printf", "%s", "first"]);
        const { approval } = await waitForApproval(api, (a) => a.command === "printf %s first", { known });
        const card = approvalCard(frame, approval.approval_id);
        await waitVisible(frame, card, "the approval card");
        assert.match(await card.locator(".policy-line").innerText(), /no rule matches/);
        await card.locator("vscode-button.allow-similar").click();

        const quick = page().locator(".quick-input-widget");
        const input = quick.locator("input.input").first();
        await input.waitFor({ state: "visible", timeout: 15_000 });
        assert.equal(await input.inputValue(), "printf *", "the proposed pattern");
        await screenshot(page(), "policy-1-proposed-rule");
        await page().keyboard.press("Enter");
        // The scope: type to pick "All my sessions", whose detail says what it would decide.
        await until("the scope Quick Pick", async () => /This session/.test(await quick.innerText({ timeout: 1000 }).catch(() => "")), 15_000);
        assert.match(await quick.innerText(), /Would decide 1 pending request now/);
        await input.fill("All my sessions");
        await until(
          "All my sessions highlighted",
          async () =>
            /All my sessions/.test(
              await quick
                .locator(".monaco-list-row.focused")
                .innerText({ timeout: 1000 })
                .catch(() => ""),
            ),
          10_000,
        );
        await screenshot(page(), "policy-1-scope");
        await page().keyboard.press("Enter");

        const exit = await first.exit(30_000);
        assert.equal(exit.code, 0, first.stderr());
        assert.equal(first.stdout(), "first");
        const decided = await api.approval(approval.approval_id);
        assert.equal(decided.state, "approved");
        assert.match(decided.decided_by ?? "", /^rule allow-printf-any \(user rules \(/);

        // The next matching command: approved by the rule before anyone sees it.
        const second = cli(["run", "--no-start", "--", "printf", "%s", "second"]);
        const exit2 = await second.exit(30_000);
        assert.equal(exit2.code, 0, second.stderr());
        assert.equal(second.stdout(), "second");
        assert.match(second.stderr(), /approved by rule allow-printf-any/);
        // Its terminal's header says so too.
        await showTerminal(page(), "second", (rows) => rows.some((r) => /approved by rule allow-printf-any \(user rules/.test(r.text)), 30_000);

        const audit = await api.audit();
        assert.ok(verifyChain(audit.records).ok, "the audit chain verifies");
        assert.ok(audit.records.some((r) => (r as { decided_by?: string }).decided_by?.startsWith("rule allow-printf-any")));
      },
    );
  });

  it("the Policy section lists the saved rule with its scope and source, readable in the theme, and removes it from the keyboard", { timeout: 120_000 }, async () => {
    await withFailureShots(
      () => [vscode?.page],
      "policy-2",
      async () => {
        const frame = sidebar(page());
        const item = frame.locator('article.card.rule[data-id$=":allow-printf-any"]');
        await frame.locator("section.sec-policy").scrollIntoViewIfNeeded();
        await waitVisible(frame, item, "the saved rule in the Policy section");
        await item.scrollIntoViewIfNeeded();
        assert.match(await item.innerText(), /allow[\s\S]*printf \*[\s\S]*allow-printf-any[\s\S]*all my sessions[\s\S]*user rules \(/);
        // VS Code's own theme colours: the decision badge and the buttons meet WCAG AA.
        const samples = ((await frame.locator("body").evaluate(CONTRAST_PROBE)) as ContrastSample[]).filter((x) =>
          /^(badge allow|button Remove rule|button Open the file)/.test(x.what),
        );
        assert.ok(samples.length >= 3, `measured ${samples.map((x) => x.what).join(", ")}`);
        assert.deepEqual(
          samples.filter((x) => x.ratio < AA_TEXT),
          [],
        );
        await screenshot(page(), "policy-2-section");
        // Remove, from the keyboard: the broker forgets it and the section follows.
        await item.locator("vscode-button.remove-rule").focus();
        await page().keyboard.press("Enter");
        await until("the rule removed in the broker", async () => !(await api.route(ROUTES.policy, {})).rules.some((r) => r.rule.id === "allow-printf-any"), 15_000);
        await waitGone(frame, item, "the removed rule");
        // The next printf asks a person again.
        const third = cli(["run", "--no-start", "--", "printf", "%s", "third"]);
        const { approval } = await waitForApproval(api, (a) => a.command === "printf %s third");
        assert.equal(approval.state, "pending");
        await api.decide(approval.approval_id, { decision: "reject", decided_by: "test" });
        await third.exit(30_000);
      },
    );
  });

  it("a rule added by switchboard policy add while the window is open appears in the Policy section, and leaves it, without any click", { timeout: 120_000 }, async () => {
    await withFailureShots(
      () => [vscode?.page],
      "policy-cli",
      async () => {
        const frame = sidebar(page());
        await frame.locator("section.sec-policy").scrollIntoViewIfNeeded();
        const item = frame.locator('article.card.rule[data-id$=":cli-make"]');
        const added = cli(["policy", "add", "cli-make", "allow", "--command", "make *"]);
        assert.equal((await added.exit(30_000)).code, 0, added.stderr());
        // Well inside the 30 s the section used to wait between fetches: the broker's policy_changed brings it.
        await waitVisible(frame, item, "the rule added by the CLI", 10_000);
        assert.match(await item.innerText(), /make \*[\s\S]*cli-make/);
        await screenshot(page(), "policy-cli-added");
        const removed = cli(["policy", "remove", "cli-make"]);
        assert.equal((await removed.exit(30_000)).code, 0, removed.stderr());
        await waitGone(frame, item, "the rule removed by the CLI", 10_000);
      },
    );
  });

  it("a workspace allow rule is ignored until the file is accepted", { timeout: 120_000 }, async () => {
    mkdirSync(join(workspace, ".switchboard"), { recursive: true });
    writeFileSync(join(workspace, ".switchboard", "policy.json"), JSON.stringify({ rules: [{ id: "ws-echo", decision: "allow", command: "echo *" }] }));
    const run = cli(["run", "--no-start", "--", "echo", "from-workspace"]);
    const { approval } = await waitForApproval(api, (a) => a.command === "echo from-workspace");
    assert.equal(approval.state, "pending", "a repository's allow rule does not approve by itself");
    assert.match(JSON.stringify(approval.policy), /not accepted|no rule matches/);
    // The Policy section says the file's allow rules wait for acceptance, and lists its rule as ignored.
    const frame = sidebar(page());
    await frame.locator("section.sec-policy").scrollIntoViewIfNeeded();
    await waitVisible(frame, frame.locator(".policy-note.workspace-waiting"), "the workspace file waiting to be accepted");
    await waitVisible(frame, frame.locator('article.card.rule.inactive[data-id$=":ws-echo"]'), "the ignored workspace rule");
    await screenshot(page(), "policy-3-workspace-waiting");
    await api.decide(approval.approval_id, { decision: "reject", decided_by: "test" });
    await run.exit(30_000);
  });
});
