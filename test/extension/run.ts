// Runs mocha tests inside a REAL VS Code extension host (VS Code 1.139.1 from code-server), through
// @vscode/test-electron's runTests() with test/support/vscode/launcher.mjs as the "VS Code executable".
//
//   await runExtensionTests({ extensionDevelopmentPath, testsDir, workspace, settings });
//
// testsDir holds *.test.ts / *.test.js (any depth). Each is bundled with esbuild to CommonJS
// (`vscode` left external, so `import * as vscode from "vscode"` gets the real API; inline source
// maps, so failures point at the .ts lines) next to a bundled mocha runner (./suite/index.ts), in
// <extensionDevelopmentPath>/.vscode-test/ext-tests-XXXX/ (gitignored; removed afterwards): the
// extension host hands `require("vscode")` from files under the extension's folder that
// extension's own API object.
// Tests use mocha's globals: "tdd" UI by default (suite/test/suiteSetup/setup, as in VS Code's own
// templates), or ui: "bdd" (describe/it). In TypeScript, add `/// <reference types="mocha" />` for
// the globals' types (tsconfig limits automatic types to node); don't import "mocha" itself.
//
// Prints mocha's report and "NAME: N passed, N failed". Resolves when every test passed; rejects
// (TestRunFailedError "Test run failed with code 1") otherwise, and the launcher keeps the server
// and workbench logs plus a screenshot in test-artifacts/extension-tests/<time>/.
// Needs `bash scripts/vscode/install.sh` once per machine.
import "../support/env.js"; // hermetic: no SWITCHBOARD_*/PI_*/XDG_* of the caller reaches VS Code
import { runTests } from "@vscode/test-electron";
import { build } from "esbuild";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, rmdir } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { childPidsMatching } from "../../scripts/vscode/processes.js";
import type { SuiteConfig } from "./suite/index.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
export const LAUNCHER = fileURLToPath(new URL("../support/vscode/launcher.mjs", import.meta.url));

export interface RunExtensionTestsOptions {
  /** Folder of the extension under test (its package.json). */
  extensionDevelopmentPath: string;
  /** Folder with *.test.ts / *.test.js files (searched recursively, node_modules skipped). */
  testsDir: string;
  /** Folder the window opens (vscode.workspace.workspaceFolders[0]); default: a fresh empty one. */
  workspace?: string;
  /** Mocha UI; default "tdd". */
  ui?: "tdd" | "bdd";
  /** Per-test mocha timeout; default 20 s. */
  mochaTimeoutMs?: number;
  grep?: string;
  /** Bound on the whole run (server start, workbench, suite); default 180 s. */
  timeoutMs?: number;
  /** Extra environment for the VS Code server and so for the extension host. */
  env?: Record<string, string>;
  /** User settings for the window, merged over the offline defaults (scripts/vscode/server.ts). */
  settings?: Record<string, unknown>;
  /** Name used in the summary line ("NAME: N passed, N failed"); default the extension folder's name. */
  label?: string;
}

const TEST_FILE = /\.test\.(ts|mts|cts|js|mjs|cjs)$/;

function findTestSources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === "node_modules" || name.startsWith(".")) continue; // also skips .vscode-test
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTestSources(p));
    else if (TEST_FILE.test(name)) out.push(p);
  }
  return out;
}

function extensionName(dir: string): string {
  try {
    const name = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown }).name;
    return typeof name === "string" && name ? name : basename(dir);
  } catch {
    return basename(dir);
  }
}

/** Bundles the runner and the tests into a fresh folder; returns the runner's path (extensionTestsPath). */
export async function bundleSuite(o: RunExtensionTestsOptions, outDir: string): Promise<string> {
  const testsDir = resolve(o.testsDir);
  const sources = findTestSources(testsDir);
  if (sources.length === 0) throw new Error(`no *.test.{ts,js} files in ${testsDir}`);
  // The extension host require()s these: make sure Node reads them as CommonJS wherever outDir is.
  writeFileSync(join(outDir, "package.json"), JSON.stringify({ type: "commonjs" }));
  const common = {
    bundle: true,
    platform: "node" as const,
    format: "cjs" as const,
    target: "node20",
    external: ["vscode", "bufferutil", "utf-8-validate"],
    sourcemap: "inline" as const,
    logLevel: "warning" as const,
  };
  const config: SuiteConfig = {
    testsDir: join(outDir, "tests"),
    ui: o.ui ?? "tdd",
    timeoutMs: o.mochaTimeoutMs ?? 20_000,
    label: o.label ?? extensionName(resolve(o.extensionDevelopmentPath)),
    ...(o.grep ? { grep: o.grep } : {}),
  };
  await Promise.all([
    build({
      ...common,
      entryPoints: [join(HERE, "suite/index.ts")],
      outfile: join(outDir, "suite/index.js"),
      define: { __SWITCHBOARD_SUITE_CONFIG__: JSON.stringify(config) },
      // mocha's parallel mode (unused here) require.resolve()s worker files.
      logOverride: { "require-resolve-not-external": "silent" },
    }),
    build({
      ...common,
      entryPoints: sources,
      outbase: testsDir,
      outdir: config.testsDir,
      entryNames: "[dir]/[name]",
      outExtension: { ".js": ".js" },
    }),
  ]);
  for (const s of sources) {
    const rel = relative(testsDir, s).replace(TEST_FILE, ".test.js");
    if (!existsSync(join(config.testsDir, rel))) throw new Error(`bundling ${s} did not produce ${rel}`);
  }
  return join(outDir, "suite/index.js");
}

export async function runExtensionTests(o: RunExtensionTestsOptions): Promise<{ durationMs: number }> {
  const t0 = Date.now();
  const extensionDevelopmentPath = resolve(o.extensionDevelopmentPath);
  if (!existsSync(join(extensionDevelopmentPath, "package.json"))) {
    throw new Error(`extensionDevelopmentPath has no package.json: ${extensionDevelopmentPath}`);
  }
  const timeoutMs = o.timeoutMs ?? 180_000;
  // Bundles go inside the extension's folder (.vscode-test/ is gitignored): the extension host
  // gives `require("vscode")` from files under an extension's folder that extension's API object.
  const testDir = join(extensionDevelopmentPath, ".vscode-test");
  const madeTestDir = !existsSync(testDir);
  mkdirSync(testDir, { recursive: true });
  const outDir = await mkdtemp(join(testDir, "ext-tests-"));
  try {
    const extensionTestsPath = await bundleSuite(o, outDir);
    const launchArgs = [`--switchboard-timeout=${timeoutMs}`];
    if (o.settings) {
      writeFileSync(join(outDir, "settings.json"), JSON.stringify(o.settings));
      launchArgs.push(`--switchboard-settings=${join(outDir, "settings.json")}`);
    }
    if (o.workspace) launchArgs.unshift(resolve(o.workspace));
    // The launcher bounds itself; this is the backstop if it ever hangs.
    let timer: NodeJS.Timeout | undefined;
    const backstop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // SIGTERM lets the launcher kill the server and browser it started.
        for (const pid of childPidsMatching(LAUNCHER)) process.kill(pid, "SIGTERM");
        reject(new Error(`extension test launcher did not exit within ${Math.round(timeoutMs / 1000) + 30} s`));
      }, timeoutMs + 30_000);
    });
    try {
      await Promise.race([
        runTests({
          vscodeExecutablePath: LAUNCHER,
          extensionDevelopmentPath,
          extensionTestsPath,
          launchArgs,
          // Keeps runTests from adding its own --user-data-dir/--extensions-dir under .vscode-test:
          // the launcher makes fresh throwaway ones.
          reuseMachineInstall: true,
          ...(o.env ? { extensionTestsEnv: o.env } : {}),
        }),
        backstop,
      ]);
    } finally {
      clearTimeout(timer);
    }
    return { durationMs: Date.now() - t0 };
  } finally {
    if (process.env.SWITCHBOARD_VSCODE_KEEP !== "1") {
      await rm(outDir, { recursive: true, force: true });
      if (madeTestDir) await rmdir(testDir).catch(() => {}); // only if empty
    }
  }
}
