// "A Claude session started with New Claude Code Session gets a Bash call approved in the sidebar and
// its output appears in a terminal": the packaged VSIX in a REAL VS Code (code-server + Chromium), the
// REAL Claude Code (the pinned devDependency, interactive in a VS Code terminal, hooks passed with
// --settings by the command) and a scripted fake Anthropic model on 127.0.0.1.
//
//   npm run build && npm run package && node --import tsx --test test/ui/switchboard-claude.test.ts
//
// Claude Code is started through a small wrapper (switchboard.claude.command) that gives it an isolated
// HOME, already past its first-run screens, and the fake model's address, as a user's shell would.
// Screenshots land in test-artifacts/ui/switchboard-claude-*.png.
import assert from "node:assert/strict";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { requestText, startFakeAnthropic, type FakeAnthropic } from "../support/fake-model/anthropic.js";
import { CLAUDE_BIN, claudeEnv } from "../support/claude.js";
import { runCommand, screenshot } from "../support/vscode/workbench.js";
import {
  uiSuite,
  type BrokerApi,
  approvalCard,
  isAlive,
  rowTexts,
  sidebar,
  terminalNames,
  until,
  waitForApproval,
  waitForTerminalRows,
  waitGone,
  waitVisible,
  withFailureShots,
  type TerminalRow,
} from "./switchboard-helpers.js";

const COMMAND = "echo from-claude-ui; touch claude-ui.txt";
const PROMPT = `bash: ${COMMAND}`;
const CLAUDE_TERMINAL = "Claude Code · Switchboard";
const API_KEY = "fake-key-0123456789abcdefghij";

const hasRow = (rows: TerminalRow[], re: RegExp) => rows.some((r) => re.test(r.text));

describe("Agent Switchboard with a Claude Code session started from VS Code", { timeout: 900_000 }, () => {
  const suite = uiSuite("ui-claude", ["user"]);
  const { home, workspace, dialogs, page, pages } = suite;
  const claudeHome = suite.folders.user!;
  let api: BrokerApi;
  let fake: FakeAnthropic | undefined;
  let companionPid: number | undefined;
  const killCompanionOnExit = () => {
    if (companionPid && isAlive(companionPid)) process.kill(companionPid, "SIGKILL");
  };
  process.once("exit", killCompanionOnExit);

  before(
    async () => {
      assert.ok(existsSync(CLAUDE_BIN), `${CLAUDE_BIN} is missing: run npm ci`);
      fake = await startFakeAnthropic();
      // Past Claude Code's first-run screens: onboarding done, the API key accepted, the workspace trusted.
      writeFileSync(
        join(claudeHome, ".claude.json"),
        JSON.stringify({
          hasCompletedOnboarding: true,
          theme: "dark",
          customApiKeyResponses: { approved: [API_KEY.slice(-20)], rejected: [] },
          projects: { [workspace]: { hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true } },
        }),
      );
      const env = claudeEnv({ home: claudeHome, baseUrl: fake.baseUrl, env: { ANTHROPIC_API_KEY: API_KEY, SWITCHBOARD_HOME: home } });
      const wrapper = join(claudeHome, "claude");
      writeFileSync(
        wrapper,
        `#!/bin/sh\n${Object.entries(env)
          .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`)
          .join("\n")}\nexec '${CLAUDE_BIN}' "$@"\n`,
      );
      chmodSync(wrapper, 0o755);
      const settings = {
        "switchboard.notifications.approvals": "off",
        "terminal.integrated.gpuAcceleration": "off",
        "switchboard.claude.command": wrapper,
        "switchboard.claude.args": [PROMPT],
      };
      ({ api } = await suite.open({ settings, shotName: "switchboard-claude-0-startup" }));
    },
    { timeout: 240_000 },
  );

  after(
    () =>
      suite.end({
        first: () => {
          if (companionPid && isAlive(companionPid)) process.kill(companionPid, "SIGTERM");
        },
        last: async () => {
          await fake?.close();
          process.off("exit", killCompanionOnExit);
        },
      }),
    { timeout: 60_000 },
  );

  it("New Claude Code Session: its Bash call is approved in the sidebar and the output shows in a stream terminal; Claude gets it", { timeout: 420_000 }, async () => {
    await withFailureShots(pages, "switchboard-claude", async () => {
      const frame = sidebar(page());
      fake!.enqueue({ toolUses: [{ name: "Bash", input: { command: COMMAND, description: "UI check" } }] }, { text: "CLAUDE-UI-FINAL done" });

      // 1. Switchboard: New Claude Code Session -> claude in a terminal, registered by its SessionStart hook.
      const t0 = Date.now();
      await runCommand(page(), "Switchboard: New Claude Code Session");
      const ep = await until(
        "the claude-code session at the broker",
        async () => (await api.endpoints()).find((e) => e.kind === "claude-code" && e.state === "active"),
        90_000,
        200,
      ).catch(async (e: Error) => {
        const rows = await waitForTerminalRows(page(), "-", () => true, 2000).catch(() => []);
        throw new Error(`${e.message}; terminals ${JSON.stringify(await terminalNames(page()))}; the active terminal shows: ${JSON.stringify(rowTexts(rows))}`);
      });
      console.log(`New Claude Code Session -> session registered ${Date.now() - t0} ms`);
      assert.deepEqual(ep.workspace, { root: workspace, cwd: workspace });
      assert.match(ep.session_name ?? "", new RegExp(`^claude: ${basename(workspace)} · [0-9a-f]{8}$`));
      const sessionCard = frame.locator(`article.card.session[data-id="${ep.endpoint_id}"]`);
      await waitVisible(frame, sessionCard, `the Claude Code session "${ep.session_name}"`, 30_000);
      assert.ok(
        (await terminalNames(page())).some((n) => n.includes(CLAUDE_TERMINAL)),
        `a terminal "${CLAUDE_TERMINAL}"; terminals: ${JSON.stringify(await terminalNames(page()))}`,
      );

      // 2. The sh approval card from that session; nothing ran yet.
      const { approval } = await waitForApproval(api, (a) => a.endpoint_id === ep.endpoint_id, { timeoutMs: 90_000 });
      assert.equal(approval.command, COMMAND);
      assert.equal(approval.action, "sh");
      assert.equal(approval.session_kind, "claude-code");
      const card = approvalCard(frame, approval.approval_id);
      await waitVisible(frame, card, `the approval card for ${approval.approval_id}`, 30_000);
      assert.equal(await card.locator("pre.command").innerText(), COMMAND);
      assert.equal((await card.locator(".session-kind").innerText()).trim(), "claude-code");
      assert.equal(existsSync(join(workspace, "claude-ui.txt")), false, "nothing ran before the decision");
      await screenshot(page(), "switchboard-claude-1-approval-card");

      // 3. Approve in the webview: the stream's terminal opens in this window and shows the output when Claude's call ends.
      const approvedAt = Date.now();
      await card.locator("vscode-button.approve").click();
      await waitGone(frame, card, "the approved card", 30_000);
      const rows = await waitForTerminalRows(
        page(),
        "the stream terminal to show from-claude-ui and how the command ended",
        (r) => hasRow(r, /^\s*from-claude-ui\s*$/) && hasRow(r, /exit 0 after/),
        60_000,
      );
      console.log(`Approve -> the stream terminal shows the output ${Date.now() - approvedAt} ms`);
      assert.ok(rows.map((r) => r.text.trimEnd()).includes(`$ ${COMMAND}`), `header row with the command; rows: ${JSON.stringify(rowTexts(rows))}`);
      assert.ok(
        hasRow(rows, /Claude Code runs this command itself \(stop it there: Esc\)\. Its output/),
        `the header says who runs the command and how its output arrives; rows: ${JSON.stringify(rowTexts(rows))}`,
      );
      await waitVisible(frame, frame.locator("article.row.stream", { hasText: COMMAND }).filter({ hasText: "exit 0" }).first(), "the ended stream (exit 0) in Streams", 30_000);
      assert.ok(existsSync(join(workspace, "claude-ui.txt")), "the approved command ran");
      await screenshot(page(), "switchboard-claude-2-stream-terminal");

      // 4. Claude got the output as its tool result (its next model request carries it).
      await until("Claude's request with the tool result", () => fake!.requests.some((r) => r.main && requestText(r).includes("from-claude-ui")) || undefined, 60_000);
      companionPid = (await api.endpoints()).find((e) => e.endpoint_id === ep.endpoint_id)?.plugin_pid;

      // 5. Killing the terminals ends claude; its companion notices and the session leaves the sidebar.
      await runCommand(page(), "Terminal: Kill All Terminals");
      await until(`the Claude Code session to leave the sidebar`, async () => (await sessionCard.count()) === 0 || undefined, 60_000, 200);
      assert.deepEqual(dialogs, [], "no dialog opened");
    });
  });
});
