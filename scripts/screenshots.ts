// `npm run screenshots`: the README's screenshots, made from today's product in a real VS Code.
// Packages the extension, starts a broker in a throwaway home and code-server (the install `npm start`
// uses, ~/.cache/agent-switchboard/vscode or SWITCHBOARD_VSCODE_CACHE) on a throwaway demo project, runs
// agents with `switchboard run` and writes, at 1400x900 in the light theme, into media/screenshots/:
//   approval.png  an agent's `npm run build` waiting on its card (Approve / Reject… / Allow similar…)
//   terminal.png  after Approve: its output in a VS Code terminal, stderr in red, the exit footer
//   policy.png    the sidebar's Policy section after Allow similar…, beside `switchboard approvals history`
//                 in a terminal of the window (requests "approved by rule …")
// The PNGs are rewritten with 256 colours (png-palette.ts). Everything it starts is stopped and every throwaway folder removed; a failure says what in a
// sentence and exits 1.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FrameLocator, Locator, Page } from "playwright-core";
import type { BrokerApi } from "../src/client/api.js";
import { brokerApiAt, stopBroker } from "./broker-home.js";
import { toPalettePng } from "./png-palette.js";
import { CHECK_SETTINGS, EXTENSION_ID } from "./vscode/check.js";
import { REPO_ROOT, launchChromium, startServer, type LaunchedChromium, type VsCodeServer } from "./vscode/server.js";

const OUT = join(REPO_ROOT, "media/screenshots");
const VIEWPORT = { width: 1400, height: 900 };
const SETTINGS = {
  ...CHECK_SETTINGS,
  "workbench.colorTheme": "Default Light Modern",
  "editor.minimap.enabled": false,
  "terminal.integrated.fontSize": 13,
  "window.commandCenter": true,
};

// The demo project: a build that prints progress on stdout and a warning on stderr.
const BUILD_JS = `const steps = ["compile src/router.ts", "compile src/inbox.ts", "bundle dist/app.js (212 kB)", "write dist/app.js.map"];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (const [i, s] of steps.entries()) { console.log(\`[\${i + 1}/\${steps.length}] \${s}\`); await sleep(400); }
console.error("warning: src/inbox.ts:41 'route' is deprecated; use 'routeTo'");
console.log("built in 1.6 s");
`;
const PACKAGE_JSON = {
  name: "switchboard-demo",
  version: "1.0.0",
  private: true,
  type: "module",
  scripts: { build: "node build.js", "test:unit": "node -e \"console.log('12 tests passed')\"", "lint:fix": "node -e \"console.log('fixed 3 files; lint clean')\"" },
};

const started: { server?: VsCodeServer; chrome?: LaunchedChromium; page?: Page; agents: ChildProcess[]; home?: string; temp: string[] } = { agents: [], temp: [] };
const say = (text: string) => process.stderr.write(`▸ ${text}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8" });
  if (r.error) throw new Error(`${cmd} could not be started (${r.error.message})`);
  if (r.status !== 0) throw new Error(`\`${cmd} ${args.join(" ")}\` exited with ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" ")}`);
  return r.stdout;
}

async function main(): Promise<void> {
  say("Packaging the extension (npm run package)");
  run("npm", ["run", "--silent", "package"], process.env);

  const home = await mkdtemp(join(tmpdir(), "sb-shots-home-"));
  started.temp.push(home);
  // The folder's path shows on the cards: /tmp/switchboard-demo when that name is free.
  let workspace = join(tmpdir(), "switchboard-demo");
  try {
    await mkdir(workspace);
    started.temp.push(workspace);
  } catch {
    const parent = await mkdtemp(join(tmpdir(), "sb-shots-"));
    started.temp.push(parent);
    workspace = join(parent, "switchboard-demo");
    await mkdir(workspace);
  }
  await writeFile(join(workspace, "package.json"), `${JSON.stringify(PACKAGE_JSON, null, 2)}\n`);
  await writeFile(join(workspace, "build.js"), BUILD_JS);
  await writeFile(join(workspace, "README.md"), "# switchboard-demo\n");
  const env: NodeJS.ProcessEnv = { ...process.env, SWITCHBOARD_HOME: home };
  for (const k of Object.keys(env)) if (k.startsWith("npm_")) delete env[k];
  const cli = (args: string[]) => run(process.execPath, [join(REPO_ROOT, "dist/cli.js"), ...args], env, workspace);

  say(`Starting a broker in ${home}`);
  cli(["broker"]);
  started.home = home;
  const api = await brokerApiAt(home);
  // `switchboard` on the PATH of VS Code's terminals, as an installed CLI would be.
  const bin = join(home, "bin");
  await mkdir(bin);
  await writeFile(join(bin, "switchboard"), `#!/bin/sh\nexec "${process.execPath}" "${join(REPO_ROOT, "dist/cli.js")}" "$@"\n`, { mode: 0o755 });
  // User rules, as `switchboard policy add` saves them.
  cli(["policy", "add", "tests", "allow", "--command", "npm run test:*"]);
  cli(["policy", "add", "no-force-push", "deny", "--command", "git push --force *"]);

  say("Starting VS Code (code-server) on the demo folder");
  const server = await startServer({
    flavor: "code-server",
    workspace,
    vsix: join(REPO_ROOT, "agent-switchboard.vsix"),
    env: { SWITCHBOARD_HOME: home },
    settings: { ...SETTINGS, "terminal.integrated.env.linux": { PATH: `${bin}:\${env:PATH}` } },
    startTimeoutMs: 60_000,
  });
  started.server = server;

  const agent = (args: string[]) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, "dist/cli.js"), "run", "--session", "build-agent", ...args], { cwd: workspace, env, stdio: "ignore" });
    started.agents.push(child);
    return child;
  };
  agent(["--summary", "Build the project before the release", "--", "npm", "run", "build"]);
  cli(["send", "--from", "build-agent", "The build warns about a deprecated call in src/inbox.ts; who owns it?"]);
  const buildId = await pending(api, (a) => a.command?.includes("npm run build") === true);

  const chrome = await launchChromium();
  started.chrome = chrome;
  const page = await chrome.browser.newPage({ viewport: VIEWPORT });
  started.page = page;
  await page.goto(server.workbenchUrl({ folder: workspace }), { timeout: 60_000 });
  await seen(page.locator(".monaco-workbench .part.statusbar"), "the VS Code workbench", 60_000);
  const icon = page.locator('.part.activitybar .action-item .action-label[aria-label^="Agent Switchboard"]').first();
  await seen(icon, "the Agent Switchboard icon in the activity bar", 60_000);
  await icon.click();
  const frame = sidebar(page);
  await seen(frame.locator("header.topbar.phase-connected"), 'the sidebar saying "Connected"', 45_000);
  const card = frame.locator(`article.card.approval[data-id="${buildId}"]`);
  await seen(card.locator(".allow-similar"), "the build request's card with Allow similar…", 30_000);
  await seen(frame.locator("#body-inbox article").first(), "the inbox message", 15_000);
  await settle(page);
  await shoot(page, "approval.png");

  await card.locator(".approve").first().click();
  const rows = page.locator(".terminal-wrapper.active .xterm-rows").first();
  await seen(rows, "a terminal for the approved build", 30_000);
  // A taller panel, so the command line at the top of the terminal stays in view.
  const panel = await page.locator(".part.panel").first().boundingBox();
  if (panel) {
    await page.mouse.move(panel.x + panel.width / 2, panel.y - 1);
    await page.mouse.down();
    await page.mouse.move(panel.x + panel.width / 2, panel.y - 160, { steps: 8 });
    await page.mouse.up();
  }
  await until(async () => (await terminalText(rows)).some((r) => /exit 0 after/.test(r)), "the build's exit footer in its terminal", 60_000);
  await settle(page);
  await shoot(page, "terminal.png");

  // Allow similar… on a new request: the proposed pattern as it is, for this session.
  agent(["--", "npm", "run", "lint:fix"]);
  const lintId = await pending(api, (a) => a.command?.includes("npm run lint:fix") === true);
  const lintCard = frame.locator(`article.card.approval[data-id="${lintId}"]`);
  await seen(lintCard.locator(".allow-similar"), "the lint request's card", 30_000);
  await lintCard.locator(".allow-similar").first().click();
  const input = page.locator(".quick-input-widget input").first();
  await seen(input, "Allow similar's pattern box", 15_000);
  await input.press("Enter");
  // All my sessions: a session rule would end with this one-command session (and leave the list).
  const everywhere = page.locator(".quick-input-widget .quick-input-list .monaco-list-row", { hasText: "All my sessions" }).first();
  await seen(everywhere, "Allow similar's scope list", 15_000);
  await everywhere.click();
  await until(async () => (await api.approvals("pending")).length === 0, "the lint request decided by the saved rule", 20_000);
  // And one decided by a user rule before anyone saw it.
  const tests = agent(["--", "npm", "run", "test:unit"]);
  await until(async () => tests.exitCode !== null, "`npm run test:unit` approved by the tests rule", 30_000);

  for (const s of ["approvals", "inbox", "sessions", "messages"]) {
    const toggle = frame.locator(`button.section-toggle[data-section="${s}"]`);
    if ((await toggle.getAttribute("aria-expanded")) === "true") await toggle.click();
  }
  // The history in a terminal of the window: who (or which rule) decided each request.
  await page.mouse.click(850, 200);
  await page.keyboard.press("Control+Shift+Backquote");
  const shell = page.locator(".terminal-wrapper.active .xterm-rows").first();
  await until(async () => (await terminalText(shell)).some((r) => /switchboard-demo/.test(r)), "a shell in a new terminal", 20_000);
  await page.keyboard.type("switchboard approvals history\n", { delay: 10 });
  await until(async () => (await terminalText(shell)).some((r) => /approved by rule tests/.test(r)), 'the history saying "approved by rule tests"', 20_000);
  // The sidebar scrolled to its end: the Policy section, the rule Allow similar… saved last.
  await page.mouse.move(190, 500);
  await page.mouse.wheel(0, 3000);
  await seen(frame.locator("#body-policy article.card.rule", { hasText: "npm run lint:*" }).first(), "the saved rule in the Policy section", 15_000);
  await settle(page, false);
  await shoot(page, "policy.png");
}

type Pending = Awaited<ReturnType<BrokerApi["approvals"]>>[number];
async function pending(api: BrokerApi, match: (a: Pending) => boolean): Promise<string> {
  let id: string | undefined;
  await until(async () => (id = (await api.approvals("pending")).find(match)?.approval_id) !== undefined, "the agent's approval request at the broker", 30_000);
  return id!;
}

/** Polls `check` until true; throws `<what> did not happen within N s` otherwise. */
async function until(check: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not show within ${ms / 1000} s`);
    await sleep(150);
  }
}

async function seen(loc: Locator, what: string, ms: number): Promise<void> {
  try {
    await loc.waitFor({ state: "visible", timeout: ms });
  } catch {
    throw new Error(`${what} did not show within ${ms / 1000} s`);
  }
}

function sidebar(page: Page): FrameLocator {
  return page.locator(`iframe.webview.ready[src*="extensionId=${EXTENSION_ID}"]`).last().contentFrame().locator("#active-frame").contentFrame();
}

async function terminalText(rows: Locator): Promise<string[]> {
  return rows.evaluate((el) => [...el.children].map((r) => (r.textContent ?? "").trimEnd()).filter(Boolean));
}

/** Lets animations end; moves the mouse out of the way (no hovers); Escape closes a hover left open (not in a shell). */
async function settle(page: Page, pressEscape = true): Promise<void> {
  await page.mouse.move(VIEWPORT.width - 5, VIEWPORT.height / 2);
  if (pressEscape) await page.keyboard.press("Escape").catch(() => {});
  await sleep(800);
}

async function shoot(page: Page, name: string): Promise<void> {
  const file = join(OUT, name);
  const png = await page.screenshot({ timeout: 15_000 });
  const small = toPalettePng(png);
  await writeFile(file, small ?? png);
  say(`Wrote ${file} (${Math.round((small ?? png).length / 1024)} KB${small ? ", 256 colours" : ""})`);
}

async function stopAll(): Promise<void> {
  for (const a of started.agents) if (a.exitCode === null && a.signalCode === null) a.kill("SIGINT");
  await started.chrome?.stop().catch(() => {});
  await started.server?.stop().catch(() => {});
  if (started.home) await stopBroker(started.home).catch(() => {});
  for (const dir of started.temp) await rm(dir, { recursive: true, force: true }).catch(() => {});
}

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void stopAll().then(() => process.exit(130));
  });

main()
  .then(stopAll)
  .catch(async (e: unknown) => {
    // What the page showed at that moment, to see why.
    const file = join(REPO_ROOT, "test-artifacts/screenshots-failure.png");
    const kept = await started.page
      ?.screenshot({ path: file, timeout: 10_000 })
      .then(() => ` (the page at that moment: ${file})`)
      .catch(() => "");
    process.stderr.write(`✖ Screenshots failed: ${(e as Error)?.message ?? String(e)}${kept ?? ""}\n`);
    await stopAll();
    process.exit(1);
  });
