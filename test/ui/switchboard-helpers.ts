// What the Switchboard UI suites (test/ui/switchboard*.test.ts) share: how a suite opens and ends
// (uiSuite: a throwaway SWITCHBOARD_HOME and workspace, the broker of that home, VS Code with the packaged
// VSIX connected to it), `switchboard` CLI children, a stand-in agent session ("pi" endpoint in its own
// process), and the sidebar webview and terminals. Every child process started here is tracked and killed
// by killAllChildren() (and on exit).
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { Dialog, FrameLocator, Locator, Page } from "playwright-core";
import { BrokerApi } from "../../src/client/api.js";
import type { Approval, DiscoveryRecord } from "../../src/protocol/index.js";
import { childEnv as cleanEnv } from "../support/env.js";
import { CLI_ENTRY, ROOT as REPO_ROOT, VSIX } from "../support/paths.js";
import { pidAlive as isAlive, terminate } from "../support/process.js";
import { runCommand, screenshot, startVsCode, type VsCodeSession } from "../support/vscode/workbench.js";

export const CLI = CLI_ENTRY;
export { VSIX };
export const EXTENSION_ID = "agent-switchboard.agent-switchboard";
/** Attribute filter for the Switchboard sidebar's webview iframe (see harness webviewFrame). */
export const SIDEBAR_IFRAME = `[src*="extensionId=${EXTENSION_ID}"]`;

import { sleep, until } from "../support/wait.js";

export { isAlive, sleep, terminate, until };

// ---- child processes ----------------------------------------------------------------------------

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

/** Kills every child still running (CLI runs, agent stand-ins): SIGTERM, then SIGKILL after 2 s. */
export async function killAllChildren(): Promise<void> {
  const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  for (const c of running) c.kill("SIGTERM");
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline && running.some((c) => c.exitCode === null && c.signalCode === null)) await sleep(50);
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}

export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** When it was spawned (Date.now()). */
  spawnedAt: number;
  /** Resolves with its exit; bounded: rejects after `timeoutMs` with what it printed. */
  exit(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `node dist/cli.js ARGS…` with SWITCHBOARD_HOME=home in `cwd` (not waited for). */
export function spawnCli(args: string[], o: { home: string; cwd: string }): CliRun {
  const spawnedAt = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: o.cwd,
    env: { ...cleanEnv(), SWITCHBOARD_HOME: o.home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return {
    child,
    spawnedAt,
    stdout: () => out,
    stderr: () => err,
    async exit(timeoutMs = 30_000) {
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([exited, new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), timeoutMs)))]);
      clearTimeout(timer);
      if (!r) throw new Error(`switchboard ${args.join(" ")} did not exit within ${timeoutMs / 1000} s; stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)}`);
      return r;
    },
  };
}

/** Runs the CLI to completion (bounded) and returns its output; throws on a non-zero exit. */
export function cliSync(args: string[], o: { home: string; cwd: string; timeoutMs?: number; env?: Record<string, string> }): string {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: o.cwd,
    env: { ...cleanEnv(), ...o.env, SWITCHBOARD_HOME: o.home },
    encoding: "utf8",
    timeout: o.timeoutMs ?? 30_000,
  });
  if (r.status !== 0) throw new Error(`switchboard ${args.join(" ")} failed (status ${r.status}, signal ${r.signal}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

// ---- the broker of a throwaway home ---------------------------------------------------------------

export function readRecord(home: string): DiscoveryRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(home, "broker/discovery.json"), "utf8")) as DiscoveryRecord;
  } catch {
    return undefined;
  }
}

/**
 * Last resort if this process exits without running `after` (an uncaught error, a signal the harness
 * turns into exit): SIGTERM the broker of `home` synchronously and remove the throwaway dirs.
 */
export function cleanupOnExit(home: string, dirs: string[]): () => void {
  const hook = () => {
    const record = readRecord(home);
    if (record) {
      try {
        process.kill(record.pid, "SIGTERM");
      } catch {
        /* gone */
      }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  process.once("exit", hook);
  return () => process.off("exit", hook);
}

/** SIGTERMs the broker named by home's discovery record (if any), then waits (bounded) for it to go. */
export async function killBroker(home: string): Promise<number | undefined> {
  const record = readRecord(home);
  return record && (await terminate(record.pid, 5000)) ? record.pid : undefined;
}

/**
 * Polls GET /v1/approvals (every 20 ms) until a pending approval matching `match` shows that is not in
 * `known`. Returns it with the moment (this process's clock) it was first listed.
 */
export async function waitForApproval(
  api: BrokerApi,
  match: (a: Approval) => boolean,
  o: { known?: Set<string>; timeoutMs?: number } = {},
): Promise<{ approval: Approval; listedAt: number }> {
  const known = o.known ?? new Set<string>();
  let seen: Approval[] = [];
  try {
    return await until(
      "the approval to be listed by GET /v1/approvals",
      async () => {
        seen = await api.approvals("pending");
        const a = seen.find((x) => !known.has(x.approval_id) && match(x));
        return a ? { approval: a, listedAt: Date.now() } : undefined;
      },
      o.timeoutMs ?? 15_000,
      20,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; pending: ${JSON.stringify(seen.map((a) => [a.approval_id, a.command, a.summary]))}`);
  }
}

// ---- a stand-in agent session --------------------------------------------------------------------

/**
 * A separate node process that plays an agent session: it opens the broker's /v1/stream WebSocket
 * with its own pid, registers an endpoint (kind "pi") under that pid, acknowledges pushes and prints
 * every frame as a JSON line. SIGTERM unregisters its endpoint and ends it.
 */
const PEER_SCRIPT = String.raw`
import { createRequire } from "node:module";
const require = createRequire(process.env.SB_REPO + "/package.json");
const WebSocket = require("ws");
const { SB_URL: url, SB_TOKEN: token, SB_NAME: name, SB_CWD: cwd } = process.env;
const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const ws = new WebSocket(url.replace(/^http/, "ws") + "/v1/stream", {
  headers: { authorization: "Bearer " + token, "x-plugin-pid": String(process.pid), "x-masons-ipc-capabilities": "push_receipt_ack_v1" },
});
ws.on("message", (data) => {
  const f = JSON.parse(data.toString());
  if (f.push_id) ws.send(JSON.stringify({ event: "push_ack", push_id: f.push_id }));
  print({ type: "frame", frame: f });
});
ws.on("close", (code) => { print({ type: "closed", code }); process.exit(0); });
ws.on("error", (e) => { print({ type: "error", message: e.message }); process.exit(1); });
await new Promise((resolve) => ws.once("open", resolve));
const res = await fetch(url + "/v1/endpoint/register", {
  method: "POST",
  headers: { authorization: "Bearer " + token, "content-type": "application/json" },
  body: JSON.stringify({ plugin_pid: process.pid, kind: "pi", session_name: name, workspace: { root: cwd, cwd }, task_hint: "stand-in agent for the UI test" }),
});
const body = await res.json();
const registeredId = body.endpoint_id;
print({ type: "registered", status: res.status, body });
process.on("SIGTERM", async () => {
  // Close the session explicitly: a stream that closes while this pid is still alive would leave it
  // "reconnecting" for the broker's grace period.
  if (registeredId) await fetch(url + "/v1/endpoint/" + registeredId, { method: "DELETE", headers: { authorization: "Bearer " + token } }).catch(() => {});
  ws.close();
  process.exit(0);
});
setInterval(() => {}, 1 << 30);
`;

export interface Peer {
  pid: number;
  endpointId: string;
  /** message_received frames so far. */
  messages: Array<{ endpoint_id: string; from: string; content: string; metadata: Record<string, unknown>; sourceMessageId: string }>;
  waitForMessage(pred: (m: Peer["messages"][number]) => boolean, timeoutMs?: number): Promise<Peer["messages"][number]>;
  stop(): Promise<void>;
}

export async function startPeer(record: DiscoveryRecord, name: string, cwd: string): Promise<Peer> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", PEER_SCRIPT], {
    cwd,
    env: { ...cleanEnv(), SB_REPO: REPO_ROOT, SB_URL: record.ipcUrl, SB_TOKEN: record.bearerToken, SB_NAME: name, SB_CWD: cwd },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const lines: any[] = [];
  let buf = "";
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  child.stdout!.on("data", (b: Buffer) => {
    buf += b.toString();
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) lines.push(JSON.parse(line));
    }
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    await Promise.race([gone, sleep(3000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  let registered: any;
  try {
    registered = await until(
      `the stand-in session "${name}" to register`,
      () => {
        if (child.exitCode !== null) throw new Error(`it exited with ${child.exitCode}: ${stderr}`);
        return lines.find((l) => l.type === "registered");
      },
      15_000,
    );
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}; output ${JSON.stringify(lines)}, stderr ${stderr}`);
  }
  if (registered.status !== 200 || !registered.body?.endpoint_id) {
    await stop();
    throw new Error(`registering "${name}" failed: HTTP ${registered.status} ${JSON.stringify(registered.body)}`);
  }
  const messages = () => lines.filter((l) => l.type === "frame" && l.frame.event === "message_received").map((l) => l.frame);
  return {
    pid: child.pid!,
    endpointId: registered.body.endpoint_id as string,
    get messages() {
      return messages();
    },
    async waitForMessage(pred, timeoutMs = 15_000) {
      try {
        return await until(`a message_received frame at "${name}"`, () => messages().find(pred), timeoutMs);
      } catch (e) {
        throw new Error(`${(e as Error).message}; frames so far: ${JSON.stringify(lines).slice(0, 1500)}`);
      }
    },
    stop,
  };
}

// ---- the sidebar webview ---------------------------------------------------------------------------

export function sidebar(page: Page): FrameLocator {
  // The harness's webviewFrame picks the last matching iframe; there is exactly one Switchboard webview.
  return page.locator(`iframe.webview.ready${SIDEBAR_IFRAME}`).last().contentFrame().locator("#active-frame").contentFrame();
}

/** Opens the Switchboard sidebar and waits until it says Connected (bounded). */
export async function openSidebar(page: Page, o: { timeoutMs?: number } = {}): Promise<FrameLocator> {
  const timeoutMs = o.timeoutMs ?? 45_000;
  const deadline = Date.now() + timeoutMs;
  await page
    .locator('.part.activitybar .action-item .action-label[aria-label^="Agent Switchboard"]')
    .first()
    .waitFor({ timeout: timeoutMs })
    .catch(() => {
      throw new Error(`the Agent Switchboard activity-bar entry did not show within ${timeoutMs / 1000} s (extension not installed or not loaded?)`);
    });
  await runCommand(page, "Switchboard: Open Sidebar", { timeoutMs: Math.max(5000, deadline - Date.now()) });
  const frame = sidebar(page);
  try {
    await frame.locator("header.topbar.phase-connected").waitFor({ timeout: Math.max(5000, deadline - Date.now()) });
  } catch {
    const text = await frame
      .locator("body")
      .innerText({ timeout: 2000 })
      .catch(() => "(webview not found)");
    throw new Error(`the sidebar did not show "Connected" within ${timeoutMs / 1000} s; it shows: ${text.slice(0, 500)}`);
  }
  return frame;
}

export function approvalCard(frame: FrameLocator, approvalId: string): Locator {
  return frame.locator(`article.card.approval[data-id="${approvalId}"]`);
}

export function inboxCard(frame: FrameLocator, itemId: string): Locator {
  return frame.locator(`article.card.inbox-item[data-id="${itemId}"]`);
}

/** Waits for a locator to be visible; the error says what and shows the sidebar's text. */
export async function waitVisible(frame: FrameLocator, loc: Locator, what: string, timeoutMs = 15_000): Promise<void> {
  try {
    await loc.waitFor({ state: "visible", timeout: timeoutMs });
  } catch {
    const text = await frame
      .locator("body")
      .innerText({ timeout: 2000 })
      .catch(() => "(webview not found)");
    throw new Error(`${what} did not show in the sidebar within ${timeoutMs / 1000} s; the sidebar shows:\n${text.slice(0, 1500)}`);
  }
}

export async function waitGone(frame: FrameLocator, loc: Locator, what: string, timeoutMs = 15_000): Promise<void> {
  try {
    await loc.waitFor({ state: "detached", timeout: timeoutMs });
  } catch {
    const text = await frame
      .locator("body")
      .innerText({ timeout: 2000 })
      .catch(() => "(webview not found)");
    throw new Error(`${what} was still in the sidebar after ${timeoutMs / 1000} s; the sidebar shows:\n${text.slice(0, 1500)}`);
  }
}

/**
 * Installs (in the webview's document) a MutationObserver that records, per approval id, the
 * wall-clock time (Date.now(), the same clock as the broker's created_at on this machine) at which
 * its card was first in the DOM and inside the viewport. Read back with cardSeenAt().
 */
export async function watchCards(frame: FrameLocator): Promise<void> {
  // A string, not a function: tsx (esbuild keepNames) would wrap named inner functions in a __name()
  // helper that does not exist in the page.
  await frame.locator("#app").evaluate(`(() => {
    if (window.__sbCardSeen) return;
    const seen = (window.__sbCardSeen = {});
    const check = () => {
      const now = Date.now();
      for (const el of document.querySelectorAll("article.card.approval[data-id]")) {
        const id = el.dataset.id;
        if (id in seen) continue;
        const r = el.getBoundingClientRect();
        if (r.height > 0 && r.bottom > 0 && r.top < window.innerHeight) seen[id] = now;
      }
    };
    new MutationObserver(check).observe(document.body, { childList: true, subtree: true });
    check();
  })()`);
}

export async function cardSeenAt(frame: FrameLocator, approvalId: string): Promise<number | undefined> {
  return frame
    .locator("#app")
    .evaluate((_el, id) => (window as unknown as { __sbCardSeen?: Record<string, number> }).__sbCardSeen?.[id], approvalId)
    .catch(() => undefined);
}

/** Runs `body`; on failure saves a screenshot of each page (named `<name>-failure[-N]`) before rethrowing. */
export async function withFailureShots<T>(pages: () => Array<Page | undefined>, name: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    const shots: string[] = [];
    let i = 0;
    for (const p of pages()) {
      if (!p || p.isClosed()) continue;
      const file = await screenshot(p, `${name}-failure${i++ ? `-${i}` : ""}`).catch(() => undefined);
      if (file) shots.push(file);
    }
    if (shots.length && e instanceof Error) e.message += `\n(screenshots: ${shots.join(", ")})`;
    throw e;
  }
}

// ---- the integrated terminal (xterm's DOM renderer: set "terminal.integrated.gpuAcceleration": "off") ----

export interface TerminalSpan {
  text: string;
  className: string;
  color: string;
}

export interface TerminalRow {
  text: string;
  spans: TerminalSpan[];
}

/** The active terminal's rendered rows (its viewport only): per row its text and styled spans. */
export async function terminalRows(page: Page): Promise<TerminalRow[]> {
  return page
    .locator(".terminal-wrapper.active .xterm-rows")
    .first()
    .evaluate((rows) =>
      [...rows.children].map((row) => ({
        text: (row as HTMLElement).textContent ?? "",
        spans: [...row.querySelectorAll("span")].map((s) => ({ text: s.textContent ?? "", className: s.className, color: getComputedStyle(s).color })),
      })),
    );
}

/** Non-empty row texts, trailing blanks trimmed (for error messages). */
export const rowTexts = (rows: TerminalRow[]) => rows.map((r) => r.text.trimEnd()).filter(Boolean);

/** Polls the active terminal's rows until `pred` holds; the error lists what the terminal showed last. */
export async function waitForTerminalRows(page: Page, what: string, pred: (rows: TerminalRow[]) => boolean, timeoutMs = 15_000): Promise<TerminalRow[]> {
  let rows: TerminalRow[] = [];
  try {
    await until(
      what,
      async () => {
        rows = await terminalRows(page);
        return pred(rows);
      },
      timeoutMs,
      100,
    );
  } catch (e) {
    const names = await terminalNames(page);
    throw new Error(`${(e as Error).message}; terminals ${JSON.stringify(names)}; the active terminal shows: ${JSON.stringify(rowTexts(rows))}`);
  }
  return rows;
}

/** Names of the terminals in the panel (the tabs list, or the single tab when there is one). */
export async function terminalNames(page: Page): Promise<string[]> {
  return page
    .locator(".part.panel .terminal-tabs-entry, .part.panel .single-terminal-tab")
    .allInnerTexts()
    .then((t) => t.map((x) => x.trim()).filter(Boolean))
    .catch(() => []);
}

/**
 * Makes the terminal whose tab name contains `name` the active one by clicking its entry in the
 * terminal tabs list (shown once there are two or more terminals), then waits until `isIt` holds for
 * the active terminal's rows.
 */
export async function showTerminal(page: Page, name: string, isIt: (rows: TerminalRow[]) => boolean, timeoutMs = 15_000): Promise<TerminalRow[]> {
  const entry = page.locator(".part.panel .terminal-tabs-entry", { hasText: name }).first();
  await entry.waitFor({ state: "visible", timeout: timeoutMs }).catch(async () => {
    throw new Error(`no terminal tab "${name}" within ${timeoutMs / 1000} s; terminals: ${JSON.stringify(await terminalNames(page))}`);
  });
  await entry.click();
  return waitForTerminalRows(page, `the terminal "${name}" to be the active one`, isIt, timeoutMs);
}

function rgb(color: string): [number, number, number] | undefined {
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(color);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** A computed CSS colour that reads as red (the terminal theme's ANSI red). */
export const isRed = (color: string) => {
  const c = rgb(color);
  return !!c && c[0] >= 150 && c[0] - c[1] >= 60 && c[0] - c[2] >= 60;
};

export { BrokerApi };

/**
 * Starts VS Code with the packaged VSIX for a Switchboard UI test and waits until its sidebar shows
 * this window as a session of the test's broker (`api`), so that a test starts from a connected window.
 */
export async function startSwitchboardWorkbench(o: {
  vsix: string;
  workspace: string;
  settings: Record<string, unknown>;
  env: Record<string, string>;
  api: BrokerApi;
  onDialog: (d: import("playwright-core").Dialog) => void;
  shotName: string;
}): Promise<VsCodeSession> {
  const vscode = await startVsCode({ vsix: o.vsix, workspace: o.workspace, settings: o.settings, env: o.env, workbenchTimeoutMs: 60_000 });
  vscode.page.on("dialog", o.onDialog);
  const t = vscode.timings;
  console.log(`timings: server (install VSIX + start) ${t.serverMs} ms, chromium ${t.chromiumMs} ms, workbench shell ${t.workbenchMs} ms`);
  const t0 = Date.now();
  await withFailureShots(
    () => [vscode.page],
    o.shotName,
    async () => {
      const frame = await openSidebar(vscode.page);
      // This window is a session of the test's broker (not of some other broker).
      const self = await until("this window's session at the test's broker", async () =>
        (await o.api.endpoints()).find((e) => e.kind === "vscode" && e.session_name === basename(o.workspace)),
      );
      await waitVisible(frame, frame.locator(`article.card.session.self[data-id="${self.endpoint_id}"]`), "this window's own session card");
    },
  );
  console.log(`sidebar connected ${Date.now() - t0} ms after the workbench shell`);
  return vscode;
}

/**
 * The end of a UI suite, whatever failed first: every child this suite started, then VS Code (Chromium,
 * the server and everything below it), then the broker and the suite's folders.
 */
export async function endSuite(s: {
  vscode: () => VsCodeSession | undefined;
  home: string;
  folders: string[];
  cancelExitHook: () => void;
  /** What the suite stops before its children and VS Code (an agent that would otherwise restart the broker). */
  first?: () => unknown;
  /** What the suite stops once the broker is gone (its fake model server, leftovers of its agent). */
  last?: () => unknown;
}): Promise<void> {
  try {
    await s.first?.();
    await killAllChildren();
    await s.vscode()?.stop(); // Chromium, the server and everything below it
  } finally {
    // Then the broker (started by the CLI, so not below the server): a VS Code window still running could
    // otherwise start a new one.
    const pid = await killBroker(s.home);
    if (pid) console.log(`stopped the test's broker (pid ${pid})`);
    try {
      await s.last?.();
    } finally {
      for (const f of s.folders) rmSync(f, { recursive: true, force: true });
      s.cancelExitHook();
    }
  }
}

export interface UiSuite {
  /** The suite's SWITCHBOARD_HOME, shared by the extension host and the CLI processes it starts. */
  readonly home: string;
  /** The folder VS Code opens (its name is this window's session name). */
  readonly workspace: string;
  /** More throwaway folders the suite asked for, by name; removed with the others. */
  readonly folders: Readonly<Record<string, string>>;
  /** Every dialog the workbench opened (each dismissed), as "type: message". */
  readonly dialogs: string[];
  /** Records and dismisses a dialog (set on the first window; a suite sets it on any other page it opens). */
  readonly onDialog: (d: Dialog) => void;
  readonly page: () => Page;
  readonly pages: () => Array<Page | undefined>;
  /** `switchboard ARGS…` in the workspace with the suite's home (not waited for). */
  readonly cli: (args: string[]) => CliRun;
  /**
   * In before(): starts the broker of the suite's home as a user would (`switchboard broker`; it exits on
   * its own after 10 idle minutes should everything else fail to stop it), then VS Code with the packaged
   * VSIX, and waits until this window is a session of that broker.
   */
  open(o: { settings: Record<string, unknown>; env?: Record<string, string>; shotName: string }): Promise<{ vscode: VsCodeSession; api: BrokerApi; record: DiscoveryRecord }>;
  /** In after(): endSuite for this suite, with its own first and last steps. */
  end(o?: { first?: () => unknown; last?: () => unknown }): Promise<void>;
}

/**
 * How every Switchboard UI suite opens and ends. `name` prefixes its throwaway folders (sb-NAME-home-…,
 * sb-NAME-ws-…, sb-NAME-<extra>-…); the exit hook (cleanupOnExit) is armed at once.
 */
export function uiSuite(name: string, extraFolders: string[] = []): UiSuite {
  const made = (what: string) => mkdtempSync(join(tmpdir(), `sb-${name}-${what}-`));
  const home = made("home");
  const workspace = made("ws");
  const folders = Object.fromEntries(extraFolders.map((f) => [f, made(f)]));
  const all = [workspace, home, ...Object.values(folders)];
  const cancelExitHook = cleanupOnExit(home, all);
  const dialogs: string[] = [];
  const onDialog = (d: Dialog) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss().catch(() => {});
  };
  let vscode: VsCodeSession | undefined;
  return {
    home,
    workspace,
    folders,
    dialogs,
    onDialog,
    page: () => vscode!.page,
    pages: () => [vscode?.page],
    cli: (args) => spawnCli(args, { home, cwd: workspace }),
    async open(o) {
      assert.ok(existsSync(VSIX), `${VSIX} is missing: run npm run package`);
      const status = cliSync(["broker"], { home, cwd: workspace, env: { SWITCHBOARD_IDLE_EXIT_MINUTES: "10" } });
      const record = readRecord(home);
      assert.ok(record, `no discovery record after \`switchboard broker\`:\n${status}`);
      const api = new BrokerApi(record);
      vscode = await startSwitchboardWorkbench({ vsix: VSIX, workspace, settings: o.settings, env: { SWITCHBOARD_HOME: home, ...o.env }, api, onDialog, shotName: o.shotName });
      return { vscode, api, record };
    },
    end: (o = {}) => endSuite({ vscode: () => vscode, home, folders: all, cancelExitHook, ...o }),
  };
}
