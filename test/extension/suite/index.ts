// The extensionTestsPath module: the extension host `require`s the CommonJS bundle of this file
// (built by ../run.ts with esbuild, mocha included) and awaits run(). Mocha's output goes through
// console.log, which the smoke-test driver forwards to the launcher (codeAutomationLog).
import Mocha from "mocha";
import { readdirSync, statSync } from "node:fs";
import { findSourceMap } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Baked in by ../run.ts through esbuild's `define`. */
export interface SuiteConfig {
  /** Folder of compiled *.test.js files (searched recursively). */
  testsDir: string;
  ui: "tdd" | "bdd";
  timeoutMs: number;
  grep?: string;
  /** Printed in the summary line. */
  label: string;
}
declare const __SWITCHBOARD_SUITE_CONFIG__: SuiteConfig;

/**
 * Lines the runner prints around the suite. The smoke-test driver forwards the whole workbench log
 * to the launcher; the launcher mirrors what comes between these two lines (mocha's report and the
 * tests' and extension's own console output) to stdout and keeps the rest in a log file. (Console
 * methods cannot be wrapped here: the extension host defines them with getters that ignore writes.)
 * Keep in sync with test/support/vscode/launcher.ts.
 */
export const SUITE_BEGIN = "@@switchboard-suite-begin@@";
export const SUITE_END = "@@switchboard-suite-end@@";

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

/**
 * Maps bundle frames in a stack back to the .ts sources. The bundles carry inline source maps, but
 * the extension host installs its own Error.prepareStackTrace, which bypasses Node's mapping.
 */
export function mapStack(stack: string): string {
  return stack.replace(/(\(|at )(\/[^():\s]+\.js):(\d+):(\d+)/g, (whole, pre: string, file: string, line: string, col: string) => {
    try {
      const entry = findSourceMap(file)?.findEntry(Number(line) - 1, Number(col) - 1);
      if (!entry || !("originalSource" in entry) || !entry.originalSource) return whole;
      const src = entry.originalSource.startsWith("file://") ? fileURLToPath(entry.originalSource) : entry.originalSource;
      return `${pre}${src}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
    } catch {
      return whole;
    }
  });
}

export function run(): Promise<void> {
  const config = __SWITCHBOARD_SUITE_CONFIG__;
  // Stack traces point into the .ts sources (the bundles carry inline source maps).
  process.setSourceMapsEnabled(true);
  const mocha = new Mocha({ ui: config.ui, color: false, timeout: config.timeoutMs, reporter: "spec" });
  if (config.grep) mocha.grep(config.grep);
  const files = findTests(config.testsDir);
  if (files.length === 0) return Promise.reject(new Error(`no *.test.js files in ${config.testsDir}`));
  for (const f of files) mocha.addFile(f);
  console.log(SUITE_BEGIN);
  return new Promise<void>((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        const { passes = 0, pending = 0 } = runner.stats ?? {};
        console.log(`${config.label}: ${passes} passed, ${failures} failed${pending ? `, ${pending} skipped` : ""}`);
        console.log(SUITE_END);
        if (failures > 0) reject(new Error(`${failures} extension test(s) failed.`));
        else if (passes === 0) reject(new Error("no extension test ran."));
        else resolve();
      });
      runner.on("fail", (_test, err: unknown) => {
        if (err instanceof Error && typeof err.stack === "string") err.stack = mapStack(err.stack);
      });
    } catch (err) {
      console.error(err);
      console.log(SUITE_END);
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
