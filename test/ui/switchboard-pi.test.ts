// "A pi session started from VS Code gets a command approved in the sidebar, and its output appears in
// the terminal": the packaged VSIX in a REAL VS Code (code-server + Chromium), the REAL pi agent
// (node_modules/.bin/pi, interactive TUI in a VS Code terminal, with the Switchboard adapter) and a
// scripted fake model on 127.0.0.1 (test/support/fake-model).
//
//   npm run build && npm run package && node --import tsx --test test/ui/switchboard-pi.test.ts
//
// Screenshots land in test-artifacts/ui/switchboard-pi-*.png.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "../support/paths.js";
import { messageText, startFakeModel, type FakeModel } from "../support/fake-model/openai.js";
import { piSandbox } from "../support/pi.js";
import { runCommand, screenshot } from "../support/vscode/workbench.js";
import {
  uiSuite,
  type BrokerApi,
  approvalCard,
  isAlive,
  isRed,
  rowTexts,
  showTerminal,
  sidebar,
  terminalNames,
  terminate,
  until,
  waitForApproval,
  waitForTerminalRows,
  waitGone,
  waitVisible,
  withFailureShots,
  type TerminalRow,
} from "./switchboard-helpers.js";

/** The pi executable a user would point switchboard.pi.command at (a symlink to pi's cli.js, `#!/usr/bin/env node`). */
const PI_BIN = join(ROOT, "node_modules/.bin/pi");
/** Interactive pi on the fake provider; hermetic: no network at start-up, no session file, no context/skill/template discovery. */
const PI_ARGS = ["--provider", "fake", "--model", "fake-model", "--offline", "--no-session", "--no-context-files", "--no-skills", "--no-prompt-templates"];
const PI_TERMINAL = "pi · Switchboard";

/** The bash call the fake model makes for the prompt, and its answer once it has the tool result. */
const COMMAND = "echo from-pi-ui; echo pi-err >&2";
const PROMPT = "run the from-pi-ui check";
const FINAL = "PI-UI-FINAL the check printed from-pi-ui";

const SETTINGS = {
  "switchboard.notifications.approvals": "off",
  // xterm's DOM renderer, so that the terminal's rendered rows (text and colours) are in the DOM.
  "terminal.integrated.gpuAcceleration": "off",
  "switchboard.pi.command": PI_BIN,
  "switchboard.pi.args": PI_ARGS,
};

/** A process's command line (Linux /proc), "" once it is gone: so that a pid is only signalled while it is still pi's. */
const cmdlineOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
};

const hasRow = (rows: TerminalRow[], re: RegExp) => rows.some((r) => re.test(r.text));
/** pi's footer (always at the bottom of its TUI) names the model. */
const isPiTui = (rows: TerminalRow[]) => hasRow(rows, /fake-model/);

describe("Agent Switchboard with a pi session started from VS Code", { timeout: 900_000 }, () => {
  const suite = uiSuite("ui-pi");
  const { workspace, dialogs, page, pages } = suite;
  let api: BrokerApi;
  let fake: FakeModel | undefined;
  let sandbox: Awaited<ReturnType<typeof piSandbox>> | undefined;
  let piPid: number | undefined;
  let piCmdline = "";
  const piStillRunning = () => !!piPid && isAlive(piPid) && cmdlineOf(piPid) === piCmdline;
  const piSession = `pi: ${basename(workspace)}`;
  // pi runs below VS Code's pty host (the server's stop() sweeps it too); this is the last resort.
  const killPiOnExit = () => {
    if (piStillRunning()) process.kill(piPid!, "SIGKILL");
  };
  process.once("exit", killPiOnExit);

  before(
    async () => {
      assert.ok(existsSync(PI_BIN), `${PI_BIN} is missing: run npm install`);
      fake = await startFakeModel();
      sandbox = await piSandbox(fake.baseUrl);
      ({ api } = await suite.open({ settings: SETTINGS, env: { PI_CODING_AGENT_DIR: sandbox.agentDir }, shotName: "switchboard-pi-0-startup" }));
    },
    { timeout: 240_000 },
  );

  after(
    () =>
      suite.end({
        // pi first (it would otherwise notice the broker go and try to start one), then VS Code.
        first: async () => {
          if (piStillRunning() && (await terminate(piPid!))) console.log(`pi (pid ${piPid}) was still running: stopped it`);
        },
        last: async () => {
          await fake?.close();
          await sandbox?.cleanup();
          process.off("exit", killPiOnExit);
        },
      }),
    { timeout: 60_000 },
  );

  it("New pi Session: the session shows in the sidebar; its bash call is approved there; the output shows in a stream terminal (stderr red) and in pi", {
    timeout: 420_000,
  }, async () => {
    await withFailureShots(pages, "switchboard-pi", async () => {
      const frame = sidebar(page());
      // The model: a bash call for the first prompt, then a final answer once it has the tool result.
      fake!.enqueue({ toolCalls: [{ name: "bash", arguments: { command: COMMAND } }] }, { text: FINAL });

      // 1. Switchboard: New pi Session -> a terminal running pi, which registers as a pi session.
      const t0 = Date.now();
      await runCommand(page(), "Switchboard: New pi Session");
      const ep = await until(
        "the pi session (kind pi, in the workspace) at the broker",
        async () => (await api.endpoints()).find((e) => e.kind === "pi" && e.state === "active" && typeof e.workspace === "object" && e.workspace?.cwd === workspace),
        90_000,
        200,
      ).catch(async (e: Error) => {
        const rows = await waitForTerminalRows(page(), "-", () => true, 2000).catch(() => []);
        throw new Error(`${e.message}; terminals ${JSON.stringify(await terminalNames(page()))}; the active terminal shows: ${JSON.stringify(rowTexts(rows))}`);
      });
      piPid = ep.plugin_pid;
      piCmdline = cmdlineOf(piPid);
      const registeredMs = Date.now() - t0;
      assert.equal(ep.session_name, piSession);
      const sessionCard = frame.locator(`article.card.session[data-id="${ep.endpoint_id}"]`);
      await waitVisible(frame, sessionCard, `the pi session "${piSession}"`, 30_000);
      assert.equal((await sessionCard.locator(".kind").innerText()).trim(), "pi");
      assert.equal((await sessionCard.locator(".session-label").innerText()).trim(), piSession);
      assert.ok(
        (await terminalNames(page())).some((n) => n.includes(PI_TERMINAL)),
        `a terminal "${PI_TERMINAL}"; terminals: ${JSON.stringify(await terminalNames(page()))}`,
      );
      await waitForTerminalRows(page(), "pi's TUI (its footer names fake-model) in the active terminal", isPiTui, 60_000);
      const tuiMs = Date.now() - t0;
      console.log(`New pi Session -> session registered ${registeredMs} ms (pid ${piPid}), -> TUI with its footer ${tuiMs} ms`);
      // Room for pi's transcript: the panel takes the editor area's height (the sidebar stays).
      await runCommand(page(), "View: Toggle Maximized Panel");
      await waitForTerminalRows(page(), "pi's TUI after maximizing the panel", isPiTui, 15_000);
      // The "COLS x ROWS" hint VS Code shows while a terminal resizes fades on its own.
      await page()
        .locator(".part.panel")
        .getByText(/^\d+ x \d+$/)
        .first()
        .waitFor({ state: "hidden", timeout: 5000 })
        .catch(() => {});
      // The palette's row was where the panel's tabs are now: move off them and let the hover go.
      await page().mouse.move(800, 600);
      await page()
        .locator(".workbench-hover-container, .monaco-hover:not(.hidden)")
        .first()
        .waitFor({ state: "hidden", timeout: 3000 })
        .catch(() => {});
      await screenshot(page(), "switchboard-pi-1-session");

      // 2. Type a prompt into pi's terminal (pi's TUI reads the keystrokes).
      const screen = page().locator(".terminal-wrapper.active .xterm-screen").first();
      await screen.click();
      await page()
        .locator(".terminal-wrapper.active .xterm.focus")
        .first()
        .waitFor({ state: "attached", timeout: 10_000 })
        .catch(() => {
          throw new Error("clicking pi's terminal did not focus it");
        });
      await page().keyboard.type(PROMPT, { delay: 25 });
      await waitForTerminalRows(page(), `pi's editor to show the typed prompt "${PROMPT}"`, (rows) => hasRow(rows, new RegExp(PROMPT)), 15_000);
      const promptAt = Date.now();
      await page().keyboard.press("Enter");
      await until("pi to send the prompt to the fake model", () => fake!.requests.length >= 1, 30_000).catch(async (e: Error) => {
        throw new Error(`${e.message}; pi's terminal shows: ${JSON.stringify(rowTexts(await waitForTerminalRows(page(), "-", () => true, 2000).catch(() => [])))}`);
      });
      assert.equal(messageText(fake!.requests[0]!.messages.at(-1)?.content), PROMPT, "the model got the typed prompt");

      // 3. The sh approval card from that pi session.
      const { approval } = await waitForApproval(api, (a) => a.endpoint_id === ep.endpoint_id, { timeoutMs: 60_000 });
      const approvalMs = Date.now() - promptAt;
      assert.equal(approval.command, COMMAND);
      assert.equal(approval.action, "sh");
      assert.equal(approval.session_kind, "pi");
      assert.equal(approval.cwd, workspace);
      const card = approvalCard(frame, approval.approval_id);
      await waitVisible(frame, card, `the approval card for ${approval.approval_id}`, 30_000);
      assert.equal(await card.locator("pre.command").innerText(), COMMAND);
      assert.equal(await card.locator(".action-badge").innerText(), "sh");
      assert.equal((await card.locator(".session-name").innerText()).trim(), piSession);
      assert.equal((await card.locator(".session-kind").innerText()).trim(), "pi");
      assert.equal(await card.locator(".path-line .path").innerText(), workspace);
      // pi is waiting for the decision: the call shows in its terminal, nothing ran yet.
      assert.equal(fake!.requests.length, 1, "no tool result went to the model before the approval");
      await screenshot(page(), "switchboard-pi-2-approval-card");

      // 4. Approve in the webview: the stream's terminal opens in this window (it approved it).
      const approvedAt = Date.now();
      await card.locator("vscode-button.approve").click();
      await waitGone(frame, card, "the approved card", 30_000);
      const rows = await waitForTerminalRows(
        page(),
        "the stream terminal to show from-pi-ui, pi-err and how the command ended",
        (r) => hasRow(r, /^\s*from-pi-ui\s*$/) && hasRow(r, /^\s*pi-err\s*$/) && hasRow(r, /exit 0 after/),
        60_000,
      );
      const streamMs = Date.now() - approvedAt;
      const texts = rows.map((r) => r.text.trimEnd());
      assert.ok(texts.includes(`$ ${COMMAND}`), `header row with the command; rows: ${JSON.stringify(rowTexts(rows))}`);
      const outRow = rows.find((r) => r.text.trim() === "from-pi-ui")!;
      const errRow = rows.find((r) => r.text.trim() === "pi-err")!;
      const outSpan = outRow.spans.find((s) => s.text.includes("from-pi-ui"))!;
      const errSpan = errRow.spans.find((s) => s.text.includes("pi-err"))!;
      assert.match(errSpan.className, /\bxterm-fg-1\b/, `stderr is written in ANSI red (xterm-fg-1); span: ${JSON.stringify(errSpan)}`);
      assert.ok(isRed(errSpan.color), `stderr renders red; computed colour ${errSpan.color}`);
      assert.ok(!/\bxterm-fg-/.test(outSpan.className) && !isRed(outSpan.color), `stdout renders in the default colour; span: ${JSON.stringify(outSpan)}`);
      const names = await terminalNames(page());
      const streamName = `sh: ${COMMAND} · ${piSession}`;
      const panelText = await page().locator(".part.panel").innerText();
      assert.ok(
        [...names, panelText].some((t) => t.includes(streamName)),
        `a terminal named "${streamName}"; terminals ${JSON.stringify(names)}`,
      );
      assert.ok(
        names.some((n) => n.includes(PI_TERMINAL)),
        `pi's terminal is still there; terminals ${JSON.stringify(names)}`,
      );
      await waitVisible(frame, frame.locator("article.row.stream", { hasText: COMMAND }).filter({ hasText: "exit 0" }).first(), "the ended stream (exit 0) in Streams", 30_000);
      console.log(`terminal: pi-err ${errSpan.color} (${errSpan.className}), from-pi-ui ${outSpan.color}`);
      await screenshot(page(), "switchboard-pi-3-stream-terminal");

      // 5. pi got the output as its tool result, and the model's final answer shows in pi's terminal.
      await showTerminal(page(), PI_TERMINAL, isPiTui, 15_000);
      const piRows = await waitForTerminalRows(page(), `pi's terminal to show the final answer "${FINAL}"`, (r) => hasRow(r, new RegExp(FINAL)), 60_000);
      const finalMs = Date.now() - approvedAt;
      assert.ok(hasRow(piRows, /^\s*from-pi-ui\s*$/) && hasRow(piRows, /^\s*pi-err\s*$/), `pi's terminal shows the tool output; rows: ${JSON.stringify(rowTexts(piRows))}`);
      assert.ok(hasRow(piRows, new RegExp(PROMPT)), `pi's terminal shows the prompt; rows: ${JSON.stringify(rowTexts(piRows))}`);
      assert.equal(fake!.requests.length, 2, "prompt, then the tool result");
      const toolResult = fake!.requests[1]!.messages.at(-1)!;
      assert.equal(toolResult.role, "tool");
      assert.deepEqual(messageText(toolResult.content).split("\n").filter(Boolean).sort(), ["from-pi-ui", "pi-err"], "the model got the command's output");
      await waitVisible(frame, sessionCard.locator(".task", { hasText: PROMPT }), "the pi session's task hint (its prompt)", 15_000);
      await screenshot(page(), "switchboard-pi-4-pi-terminal");
      console.log(
        `New pi Session -> registered ${registeredMs} ms; prompt -> approval card data ${approvalMs} ms; Approve -> stream terminal shows the output ${streamMs} ms; Approve -> final answer in pi ${finalMs} ms`,
      );

      // 6. Killing the terminals (VS Code sends pi SIGHUP) ends pi, and its session leaves the sidebar:
      // pi exits without session_shutdown, and the broker notices the owner is gone within a second.
      await runCommand(page(), "Terminal: Kill All Terminals");
      await until(`pi (pid ${piPid}) to exit after its terminal was killed`, () => !piPid || !isAlive(piPid), 20_000);
      await until(`the pi session "${piSession}" to leave the sidebar`, async () => (await sessionCard.count()) === 0 || undefined, 30_000, 200);
      assert.deepEqual(dialogs, [], "no dialog opened");
    });
  });
});
