// The approval policy in a real VS Code (code-server + Chromium, the packaged VSIX): "Allow similar…"
// on a card proposes a rule, the person keeps it and picks "All my sessions"; the pending request from
// `switchboard run` is decided at once, the next matching one is approved before anyone sees it, the
// audit chain verifies and names the rule, and a workspace rules file's allow rule waits for acceptance.
//
//   npm run build && npm run package && node --import tsx --test test/ui/switchboard-policy.test.ts
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { verifyChain } from "../../src/platform/audit-chain.js";
import { screenshot, type VsCodeSession } from "../support/vscode/workbench.js";
import { uiSuite, type BrokerApi, approvalCard, killAllChildren, sidebar, until, waitForApproval, waitVisible, withFailureShots } from "./switchboard-helpers.js";

describe("approval rules in a real VS Code workbench", { timeout: 600_000 }, () => {
  const suite = uiSuite("ui-pol");
  const { workspace, page, cli } = suite;
  let vscode: VsCodeSession | undefined;
  let api: BrokerApi;

  before(
    async () => {
      ({ vscode, api } = await suite.open({ settings: { "switchboard.notifications.approvals": "off" }, shotName: "policy-0-startup" }));
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

        const audit = await api.audit();
        assert.ok(verifyChain(audit.records).ok, "the audit chain verifies");
        assert.ok(audit.records.some((r) => (r as { decided_by?: string }).decided_by?.startsWith("rule allow-printf-any")));
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
    await api.decide(approval.approval_id, { decision: "reject", decided_by: "test" });
    await run.exit(30_000);
  });
});
