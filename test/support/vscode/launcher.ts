// "VS Code executable" for @vscode/test-electron's runTests() on machines where no desktop VS Code
// can be downloaded: it is started (through ./launcher.mjs) with the arguments runTests() would give
// Electron, and instead
//   1. starts VS Code's own server (server-main.js, --enable-smoke-test-driver) on 127.0.0.1 in
//      throwaway dirs,
//   2. opens the workbench in headless Chromium with the `payload` URL parameter carrying
//      extensionDevelopmentPath / extensionTestsPath as vscode-remote:// URIs and the workspace
//      folder, which makes the real Node extension host load the extension and run the suite,
//   3. mirrors the suite's output (window.codeAutomationLog) to stdout and exits with the code the
//      extension host reports (window.codeAutomationExit): 0 passed, non-zero failed.
// Everything it starts is killed when it exits, however it exits.
//
// Arguments understood (everything else runTests() passes is accepted and ignored):
//   --extensionDevelopmentPath=DIR (repeatable)   --extensionTestsPath=FILE
//   --user-data-dir=DIR  --extensions-dir=DIR     (default: fresh throwaway dirs)
//   --switchboard-timeout=MS                       (bound on the whole run; default 180000)
//   --switchboard-artifacts=DIR                    (where logs go on failure; default test-artifacts/extension-tests)
//   --switchboard-settings=FILE                    (JSON user settings merged over the offline defaults)
//   a bare path                                    (the workspace folder; default: a fresh empty one)
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { format } from "node:util";
import type { Page } from "playwright-core";
import { REPO_ROOT, launchChromium, startServer, type LaunchedChromium, type VsCodeServer } from "../../../scripts/vscode/server.js";

interface LauncherArgs {
  developmentPaths: string[];
  testsPath: string | undefined;
  userDataDir: string | undefined;
  extensionsDir: string | undefined;
  workspace: string | undefined;
  timeoutMs: number;
  artifactsDir: string;
  settings: Record<string, unknown> | undefined;
}

function parseArgs(argv: string[]): LauncherArgs {
  const a: LauncherArgs = {
    developmentPaths: [],
    testsPath: undefined,
    userDataDir: undefined,
    extensionsDir: undefined,
    workspace: undefined,
    timeoutMs: 180_000,
    artifactsDir: join(REPO_ROOT, "test-artifacts/extension-tests"),
    settings: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    let [key, value] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const takesValue = [
      "--extensionDevelopmentPath",
      "--extensionTestsPath",
      "--user-data-dir",
      "--extensions-dir",
      "--switchboard-timeout",
      "--switchboard-artifacts",
      "--switchboard-settings",
    ];
    if (value === undefined && takesValue.includes(key)) value = argv[++i];
    switch (key) {
      case "--extensionDevelopmentPath":
        if (value) a.developmentPaths.push(resolve(value));
        break;
      case "--extensionTestsPath":
        if (value) a.testsPath = resolve(value);
        break;
      case "--user-data-dir":
        a.userDataDir = value ? resolve(value) : undefined;
        break;
      case "--extensions-dir":
        a.extensionsDir = value ? resolve(value) : undefined;
        break;
      case "--switchboard-timeout":
        a.timeoutMs = Number(value) || a.timeoutMs;
        break;
      case "--switchboard-artifacts":
        if (value) a.artifactsDir = resolve(value);
        break;
      case "--switchboard-settings":
        if (value) a.settings = JSON.parse(readFileSync(value, "utf8")) as Record<string, unknown>;
        break;
      default:
        if (!key.startsWith("-") && a.workspace === undefined) a.workspace = resolve(key);
    }
  }
  return a;
}

/** Lines the suite runner (test/extension/suite/index.ts) prints around the suite's output. */
const SUITE_BEGIN = "@@switchboard-suite-begin@@";
const SUITE_END = "@@switchboard-suite-end@@";
const verbose = process.env.SWITCHBOARD_VSCODE_VERBOSE === "1";
const out = (s: string) => process.stdout.write(s.endsWith("\n") ? s : `${s}\n`);
const note = (s: string) => out(`[vscode-launcher] ${s}`);

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (!args.testsPath) throw new Error("--extensionTestsPath is required");
  if (args.developmentPaths.length === 0) throw new Error("--extensionDevelopmentPath is required");

  const t0 = Date.now();
  const deadline = t0 + args.timeoutMs;
  let server: VsCodeServer | undefined;
  let chrome: LaunchedChromium | undefined;
  let workbenchLogs: Array<{ relativePath: string; contents: string }> = [];
  const workbenchConsole: string[] = [];
  let inSuite = false;
  let page: Page | undefined;
  const phases: Array<[string, number]> = [];
  let tSuite = 0;
  let code = 1;
  try {
    server = await startServer({
      flavor: "server-main",
      smokeTestDriver: true,
      ...(args.workspace ? { workspace: args.workspace } : {}),
      ...(args.settings ? { settings: args.settings } : {}),
      ...(args.userDataDir ? { userDataDir: args.userDataDir } : {}),
      ...(args.extensionsDir ? { extensionsDir: args.extensionsDir } : {}),
    });
    note(`VS Code ${server.install.vscodeVersion} (server-main.js) healthy on ${server.url} in ${server.startMs} ms; log ${server.logFile}`);
    phases.push(["server", Date.now() - t0]);

    const t = Date.now();
    chrome = await launchChromium();
    phases.push(["chromium", Date.now() - t]);
    page = await chrome.browser.newPage({ viewport: { width: 1280, height: 800 } });
    let settle: (r: { code: number; why?: string }) => void = () => {};
    const finished = new Promise<{ code: number; why?: string }>((r) => (settle = r));
    await page.exposeFunction("codeAutomationLog", (level: unknown, logArgs: unknown) => {
      const parts = Array.isArray(logArgs) ? logArgs : [logArgs];
      const text = format(...parts.map((p) => (typeof p === "string" ? p.replace(/%c/g, "") : p)));
      if (text === SUITE_BEGIN || text === SUITE_END) {
        inSuite = text === SUITE_BEGIN;
        if (inSuite) tSuite = Date.now();
        else if (tSuite) phases.push(["suite", Date.now() - tSuite]);
      } else if (inSuite) {
        // mocha's report and the tests' and extension's own console output
        if (level === "error" || level === "warn") process.stderr.write(`${text}\n`);
        else out(text);
      } else {
        workbenchConsole.push(`[${String(level)}] ${text}`);
        if (verbose) process.stderr.write(`[workbench ${String(level)}] ${text}\n`);
      }
    });
    await page.exposeFunction("codeAutomationExit", (exitCode: unknown, logs: unknown) => {
      if (Array.isArray(logs)) workbenchLogs = logs as typeof workbenchLogs;
      settle({ code: typeof exitCode === "number" ? exitCode : 1 });
    });
    page.on("crash", () => settle({ code: 1, why: "the workbench page crashed" }));
    void server.process.exited.then((e) => settle({ code: 1, why: `the VS Code server exited (code ${e.code}, signal ${e.signal})` }));

    const payload: Array<[string, string]> = [
      ...args.developmentPaths.map((p): [string, string] => ["extensionDevelopmentPath", server!.remoteUri(p)]),
      ["extensionTestsPath", server.remoteUri(args.testsPath)],
      ["skipWelcome", "true"],
      ["skipReleaseNotes", "true"],
    ];
    const tNav = Date.now();
    await page.goto(server.workbenchUrl({ payload }), { timeout: Math.max(1000, deadline - Date.now()) });
    void page
      .locator(".monaco-workbench")
      .waitFor({ timeout: 60_000 })
      .then(
        () => {
          phases.push(["workbench", Date.now() - tNav]);
          note(`workbench up ${Date.now() - tNav} ms after navigation; running ${args.testsPath}`);
        },
        () => settle({ code: 1, why: `workbench did not appear within 60 s; server log at ${server!.logFile}` }),
      );

    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      finished,
      new Promise<{ code: number; why: string }>((r) => {
        timer = setTimeout(
          () => r({ code: 1, why: `extension tests did not finish within ${Math.round(args.timeoutMs / 1000)} s; server log at ${server!.logFile}` }),
          Math.max(0, deadline - Date.now()),
        );
      }),
    ]);
    clearTimeout(timer);
    code = result.code;
    if (result.why) process.stderr.write(`[vscode-launcher] ERROR: ${result.why}\n`);
    if (tSuite) phases.push(["navigation→suite start", tSuite - tNav]);
    note(`extension host exited with code ${code} after ${Date.now() - t0} ms in total`);
  } catch (err) {
    process.stderr.write(`[vscode-launcher] ERROR: ${err instanceof Error ? err.message : String(err)}\n`);
    code = 1;
  } finally {
    if (code !== 0 && server) {
      // Keep what explains the failure: the server log and the workbench's own logs.
      const dir = join(args.artifactsDir, new Date().toISOString().replace(/[:.]/g, "-"));
      try {
        mkdirSync(dir, { recursive: true });
        await page?.screenshot({ path: join(dir, "workbench.png"), timeout: 5000 }).catch(() => {});
        cpSync(server.logFile, join(dir, "server.log"));
        cpSync(join(server.dirs.userData, "logs"), join(dir, "server-logs"), { recursive: true });
        writeFileSync(join(dir, "workbench-console.log"), workbenchConsole.join("\n") + "\n");
        for (const l of workbenchLogs) {
          const p = join(dir, "workbench-logs", l.relativePath);
          mkdirSync(dirname(p), { recursive: true });
          writeFileSync(p, l.contents);
        }
        const errors = workbenchConsole.filter((l) => l.startsWith("[error]") && !/ECONNREFUSED 127\.0\.0\.1:9|Service Worker/.test(l));
        if (errors.length > 0) process.stderr.write(`[vscode-launcher] workbench errors (last 10):\n${errors.slice(-10).join("\n")}\n`);
        note(`logs kept in ${dir}`);
      } catch {
        /* best effort */
      }
    }
    const tStop = Date.now();
    await chrome?.stop();
    await server?.stop();
    phases.push(["shutdown", Date.now() - tStop]);
    note(`timings: ${phases.map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`).join(", ")}`);
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[vscode-launcher] ERROR: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
