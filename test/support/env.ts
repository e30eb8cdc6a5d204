// Tests must not depend on the caller's environment. A user of this product often has SWITCHBOARD_HOME
// (or SWITCHBOARD_PI_OFFLINE, PI_CODING_AGENT_DIR, XDG_* …) set in their shell, and `npm test` adds
// npm's own npm_* variables; any of these would reach the brokers, CLIs and pi agents the tests start
// and point them at the user's real broker or folders.
//
// Importing this module (every helper does, and `npm test` preloads it with --import) makes this
// process hermetic, once: it removes those variables from process.env and points HOME at a fresh
// throwaway folder (deleted at exit), so in-process defaults and every child started without an
// explicit env see the same clean environment. Spawn sites still pass `childEnv({...})` so what a
// child gets is visible where it is started.
import { mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

/** Variables of the test harness itself, kept: where the real VS Code is cached, seeds, soak mode. */
const HARNESS = new Set([
  "SWITCHBOARD_VSCODE_CACHE",
  "SWITCHBOARD_AGENTS_CACHE",
  "SWITCHBOARD_ACP_AGENTS",
  "SWITCHBOARD_VSCODE_KEEP",
  "SWITCHBOARD_VSCODE_VERBOSE",
  "SWITCHBOARD_CHROMIUM",
  "SWITCHBOARD_SOAK",
  "SWITCHBOARD_FUZZ_SEED",
  "SWITCHBOARD_FAULT_SEED",
]);

/** The caller's settings that change what the product or its agents do. */
const CALLER_ONLY = /^(SWITCHBOARD_.*|PI_.*|npm_.*|XDG_.*|VSCODE_.*|ELECTRON_.*|FORCE_COLOR|NO_COLOR|(HTTPS?|ALL|NO)_PROXY)$/i;

/** Variables node:test and tsx set for their own children; never passed on. */
const RUNNER_ONLY = /^(NODE_OPTIONS|NODE_TEST_CONTEXT|NODE_CHANNEL_FD)$/;

export function isCallerOnly(name: string): boolean {
  return CALLER_ONLY.test(name) && !HARNESS.has(name);
}

const MARK = Symbol.for("switchboard.test.hermeticEnv");

function isolate(): string {
  const g = globalThis as { [MARK]?: string };
  if (g[MARK]) return g[MARK];
  // Resolve the shared VS Code install from the caller's HOME before HOME changes.
  process.env.SWITCHBOARD_VSCODE_CACHE ||= join(homedir(), ".cache/agent-switchboard/vscode");
  // The same for the real ACP agents (scripts/agents/install.sh): installed once, not per test run.
  process.env.SWITCHBOARD_AGENTS_CACHE ||= join(homedir(), ".cache/agent-switchboard/agents");
  for (const name of Object.keys(process.env)) if (isCallerOnly(name)) delete process.env[name];
  const home = mkdtempSync(join(tmpdir(), "sb-test-home-"));
  process.env.HOME = home;
  process.on("exit", () => rmSync(home, { recursive: true, force: true, maxRetries: 2 }));
  g[MARK] = home;
  return home;
}

/** This process's throwaway HOME (also what homedir() returns from now on). */
export const TEST_HOME = isolate();

/** The environment for a child process: this (hermetic) process's, without the runner's own variables, plus `extra`. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!RUNNER_ONLY.test(k)) env[k] = v;
  return Object.assign(env, extra);
}
