// "An ACP session started with New Agent Session… gets a command approved in the sidebar": the packaged
// VSIX in a REAL VS Code (code-server + Chromium), the REAL claude-agent-acp from npm (installed by
// scripts/agents/install.sh) picked from the `switchboard.agents` setting, run by `switchboard acp` in a
// VS Code terminal, and only the model faked on 127.0.0.1 (test/support/fake-model/agent-models.ts).
//
//   npm run build && npm run package && node --import tsx --test test/ui/switchboard-acp.test.ts
//
// Screenshots land in test-artifacts/ui/switchboard-acp-*.png.
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startAgentModels, type AgentModels } from "../support/fake-model/agent-models.js";
import { ACP_NODE_FLAGS } from "../../src/adapters/acp/node-flags.js";
import { ROUTES } from "../../src/protocol/routes.js";
import { agentSetup, installAgents, processesWith } from "../support/acp.js";
import { runCommand, screenshot } from "../support/vscode/workbench.js";
import {
  uiSuite,
  type BrokerApi,
  approvalCard,
  rowTexts,
  showTerminal,
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

const AGENT_NAME = "Claude via ACP (fake model)";
const KIND = "@zed-industries/claude-agent-acp";
const COMMAND = "echo from-acp-ui > acp-ui.txt && cat acp-ui.txt";
const hasRow = (rows: TerminalRow[], re: RegExp) => rows.some((r) => re.test(r.text));

describe("Agent Switchboard with an ACP agent started from VS Code", { timeout: 900_000 }, () => {
  const suite = uiSuite("ui-acp", ["agent"]);
  const { workspace, dialogs, page, pages } = suite;
  const agentRoot = suite.folders.agent!;
  let api: BrokerApi;
  let models: AgentModels | undefined;
  const session = `Claude Agent: ${basename(workspace)}`;

  before(
    async () => {
      installAgents(["claude"]);
      models = await startAgentModels();
      const agent = await agentSetup("claude", agentRoot, workspace, models.url, "");
      const env = Object.fromEntries(Object.entries(agent.env).filter((e): e is [string, string] => typeof e[1] === "string" && e[0] !== "PATH"));
      const settings = {
        "switchboard.notifications.approvals": "off",
        "terminal.integrated.gpuAcceleration": "off",
        "switchboard.agents": [{ name: AGENT_NAME, command: agent.command, args: agent.args, env }],
      };
      ({ api } = await suite.open({ settings, shotName: "switchboard-acp-0-startup" }));
    },
    { timeout: 900_000 },
  );

  after(
    () =>
      suite.end({
        last: async () => {
          for (const p of processesWith(agentRoot)) process.kill(p, "SIGKILL");
          await models?.close();
        },
      }),
    { timeout: 60_000 },
  );

  it("New Agent Session…: the agent shows as a session with its kind and state; its shell command is approved in the sidebar and its output shows in a stream terminal; closing the terminal ends the agent", {
    timeout: 420_000,
  }, async () => {
    await withFailureShots(pages, "switchboard-acp", async () => {
      const frame = sidebar(page());

      // 1. New Agent Session… → pick the agent from switchboard.agents → a terminal running switchboard acp.
      await runCommand(page(), "Switchboard: New Agent Session…");
      const pick = page().locator(".quick-input-widget .monaco-list-row", { hasText: AGENT_NAME }).first();
      await pick.waitFor({ state: "visible", timeout: 15_000 });
      await pick.click();
      const ep = await until(
        "the ACP session (kind = agentInfo.name) at the broker",
        async () => (await api.endpoints()).find((e) => e.kind === KIND && e.state === "active"),
        120_000,
        200,
      ).catch(async (e: Error) => {
        const rows = await waitForTerminalRows(page(), "-", () => true, 2000).catch(() => []);
        throw new Error(`${e.message}; terminals ${JSON.stringify(await terminalNames(page()))}; the active terminal shows: ${JSON.stringify(rowTexts(rows))}`);
      });
      assert.equal(ep.session_name, session);
      assert.equal(ep.client_kind, "switchboard-acp");
      const sessionCard = frame.locator(`article.card.session[data-id="${ep.endpoint_id}"]`);
      await waitVisible(frame, sessionCard, `the session "${session}"`, 30_000);
      assert.equal((await sessionCard.locator(".kind").innerText()).trim(), KIND);
      await waitVisible(frame, sessionCard.locator(".task", { hasText: "idle" }), "the session's state: idle", 15_000);
      assert.ok(
        (await terminalNames(page())).some((n) => n.includes(`${AGENT_NAME} · Switchboard`)),
        `the agent's terminal; terminals ${JSON.stringify(await terminalNames(page()))}`,
      );
      await waitForTerminalRows(page(), "the chat's greeting", (r) => hasRow(r, /Type a prompt/), 30_000);
      // Started as node-flags.ts says: VS Code's runtime with the flags, then dist/acp.js (not the whole
      // CLI); ELECTRON_RUN_AS_NODE, for that runtime only, is not passed on to the agent.
      const procs = processesWith(agentRoot).map((pid) => {
        const read = (f: string) => {
          try {
            return readFileSync(`/proc/${pid}/${f}`, "utf8").split("\0");
          } catch {
            return [];
          }
        };
        return { argv: read("cmdline"), env: read("environ") };
      });
      const acp = procs.find((p) => p.argv.some((a) => a.endsWith("/dist/acp.js")));
      assert.ok(acp, `a switchboard acp process started from dist/acp.js; ${JSON.stringify(procs.map((p) => p.argv))}`);
      assert.deepEqual(acp.argv.slice(1, 1 + ACP_NODE_FLAGS.length), [...ACP_NODE_FLAGS]);
      const agentProcs = procs.filter((p) => p !== acp);
      assert.ok(agentProcs.length >= 1, "the agent runs");
      for (const p of agentProcs) assert.ok(!p.env.includes("ELECTRON_RUN_AS_NODE=1"), `ELECTRON_RUN_AS_NODE reached ${p.argv.join(" ")}`);
      await screenshot(page(), "switchboard-acp-1-session");

      // 2. A prompt typed into the chat: the agent asks to run a shell command.
      const screen = page().locator(".terminal-wrapper.active .xterm-screen").first();
      await screen.click();
      await page().keyboard.type(`bash: ${COMMAND}`, { delay: 10 });
      await page().keyboard.press("Enter");
      const { approval } = await waitForApproval(api, (a) => a.endpoint_id === ep.endpoint_id, { timeoutMs: 90_000 });
      assert.equal(approval.command, COMMAND);
      assert.equal(approval.action, "sh");
      assert.equal(approval.session_kind, KIND);
      const card = approvalCard(frame, approval.approval_id);
      await waitVisible(frame, card, `the approval card for ${approval.approval_id}`, 30_000);
      assert.equal(await card.locator("pre.command").innerText(), COMMAND);
      await waitVisible(frame, sessionCard.locator(".task", { hasText: "waiting for approval" }), "the session's state: waiting for approval", 15_000);
      assert.equal(existsSync(join(workspace, "acp-ui.txt")), false, "nothing ran before the approval");
      await screenshot(page(), "switchboard-acp-2-approval-card");

      // 3. Approve in the sidebar: the command runs, its output shows in a stream terminal, the agent answers.
      await card.locator("vscode-button.approve").click();
      await waitGone(frame, card, "the approved card", 30_000);
      await until("the approved command's side effect", () => existsSync(join(workspace, "acp-ui.txt")) || undefined, 60_000);
      const rows = await waitForTerminalRows(page(), "the stream terminal with the output", (r) => hasRow(r, /^\s*from-acp-ui\s*$/) && hasRow(r, /exit 0/), 60_000);
      // (the header may wrap in the narrow panel)
      assert.match(
        rows.map((r) => r.text.trimEnd()).join(""),
        /stdout and stderr merged by the agent/,
        `the header says the output is merged; rows ${JSON.stringify(rowTexts(rows))}`,
      );
      await waitVisible(frame, sessionCard.locator(".task", { hasText: "idle" }), "the session idle again", 60_000);
      await screenshot(page(), "switchboard-acp-3-stream");

      // 3b. The agent offers "always": Allow for this session… keeps it as a Switchboard session rule (shown
      // in a modal before saving), which approves this request and decides the next identical one itself.
      const AGAIN = "touch acp-ui-again.txt";
      const askAgain = async () => {
        // Back to the agent's chat terminal (the stream terminal took the focus).
        await showTerminal(page(), AGENT_NAME, (r) => hasRow(r, /Ctrl\+C cancels a turn|FAKE-DONE/), 30_000);
        await page().locator(".terminal-wrapper.active .xterm-screen").first().click();
        await page().keyboard.type(`bash: ${AGAIN}`, { delay: 10 });
        await page().keyboard.press("Enter");
      };
      await askAgain();
      const second = (await waitForApproval(api, (a) => a.endpoint_id === ep.endpoint_id && a.command === AGAIN, { timeoutMs: 90_000 })).approval;
      assert.equal(second.always_offered, true, "claude-agent-acp offers allow_always, and the request says so");
      const secondCard = approvalCard(frame, second.approval_id);
      await waitVisible(frame, secondCard, "the second approval card", 30_000);
      await secondCard.locator("vscode-button.allow-session").click();
      const modal = page().locator(".monaco-dialog-box");
      await modal.waitFor({ timeout: 30_000 });
      assert.match(await modal.innerText(), /for the rest of session/);
      await screenshot(page(), "switchboard-acp-3b-allow-for-session");
      await modal.getByRole("button", { name: "Allow for This Session" }).click();
      await waitGone(frame, secondCard, "the card allowed for this session", 30_000);
      await until("the allowed command's side effect", () => existsSync(join(workspace, "acp-ui-again.txt")) || undefined, 60_000);
      const sessionRules = (await api.route(ROUTES.policy)).rules.filter((r) => r.scope === "session");
      assert.equal(sessionRules.length, 1, `one session rule; ${JSON.stringify(sessionRules)}`);
      await waitVisible(frame, sessionCard.locator(".task", { hasText: "idle" }), "the session idle after the second command", 60_000);
      rmSync(join(workspace, "acp-ui-again.txt"));
      await askAgain();
      // Decided by the rule as it arrives: it is never pending, so it is looked for in the history.
      const decided = await until(
        "the third request, decided by the session rule",
        async () => (await api.approvalHistory(20)).find((a) => a.command === AGAIN && a.approval_id !== second.approval_id),
        90_000,
        250,
      );
      assert.equal(decided.state, "approved", "the session rule decides the same request again, with no card");
      assert.match(decided.decided_by ?? "", new RegExp(`rule ${sessionRules[0]!.rule.id}`));
      await until("the rule-approved command's side effect", () => existsSync(join(workspace, "acp-ui-again.txt")) || undefined, 60_000);
      await waitVisible(frame, sessionCard.locator(".task", { hasText: "idle" }), "the session idle after the third command", 60_000);

      // 4. Killing the terminals (SIGHUP to switchboard acp) ends the agent and its session.
      await runCommand(page(), "Terminal: Kill All Terminals");
      await until("the session to leave the broker", async () => !(await api.endpoints()).some((e) => e.endpoint_id === ep.endpoint_id) || undefined, 30_000, 200);
      await until("no agent process left", () => processesWith(agentRoot).length === 0 || undefined, 15_000, 200);
      assert.deepEqual(dialogs, [], "no dialog opened");
    });
  });
});
