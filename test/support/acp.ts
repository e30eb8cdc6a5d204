// Drives `switchboard acp` with the real ACP agents from npm (installed, pinned and cached by
// scripts/agents/install.sh) against the fake model APIs on 127.0.0.1, for tests and benchmarks.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { CLI_ENTRY, ROOT } from "./broker.js";
import { type Exit, running, track } from "./children.js";
import { until } from "./wait.js";

export const AGENTS_CACHE = process.env.SWITCHBOARD_AGENTS_CACHE ?? join(process.env.HOME ?? homedir(), ".cache/agent-switchboard/agents");

export type AgentName = "claude" | "codex" | "gemini" | "opencode";

export interface AgentSetup {
  name: AgentName;
  /** the endpoint kind the session registers with (agentInfo.name) */
  kind: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** Installs (once; cached) the agents the tests need. Throws with the installer's output on failure. */
export function installAgents(names: AgentName[]): void {
  execFileSync("bash", [join(ROOT, "scripts/agents/install.sh"), ...names], { stdio: ["ignore", "pipe", "pipe"], timeout: 15 * 60_000 });
}

function bin(name: AgentName, file: string): string {
  return join(AGENTS_CACHE, name, "node_modules/.bin", file);
}

/**
 * The agent's command and an isolated environment (HOME, XDG and config folders under `root`)
 * pointing at the fake models. `modelsUrl` serves Anthropic/Responses/Gemini, `chatUrl` (…/v1) chat
 * completions (OpenCode). Writes the per-agent configuration files.
 */
export async function agentSetup(name: AgentName, root: string, cwd: string, modelsUrl: string, chatUrl: string): Promise<AgentSetup> {
  const home = join(root, "home");
  await mkdir(home, { recursive: true });
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_DATA_HOME: join(home, ".local/share"),
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_STATE_HOME: join(home, ".local/state"),
    TMPDIR: tmpdir(),
    LANG: "C.UTF-8",
    NO_COLOR: "1",
    // No proxy reaches a fake on loopback.
    NO_PROXY: "127.0.0.1,localhost",
  };
  switch (name) {
    case "claude":
      return {
        name,
        kind: "@zed-industries/claude-agent-acp",
        command: bin(name, "claude-agent-acp"),
        args: [],
        env: {
          ...base,
          ANTHROPIC_BASE_URL: modelsUrl,
          ANTHROPIC_API_KEY: "fake-key",
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
          DISABLE_AUTOUPDATER: "1",
          DISABLE_TELEMETRY: "1",
          // Run as root here: without it session/new fails ("Query closed before response received").
          IS_SANDBOX: "1",
        },
      };
    case "codex": {
      const codexHome = join(home, ".codex");
      await mkdir(codexHome, { recursive: true });
      await writeFile(
        join(codexHome, "config.toml"),
        [
          'model = "fake-model"',
          'model_provider = "fake"',
          'approval_policy = "on-request"',
          'sandbox_mode = "workspace-write"',
          "[model_providers.fake]",
          'name = "fake"',
          `base_url = "${modelsUrl}/v1"`,
          'wire_api = "responses"',
          'env_key = "FAKE_API_KEY"',
          "",
        ].join("\n"),
      );
      return { name, kind: "codex-acp", command: bin(name, "codex-acp"), args: [], env: { ...base, CODEX_HOME: codexHome, FAKE_API_KEY: "fake-key" } };
    }
    case "gemini": {
      await mkdir(join(home, ".gemini"), { recursive: true });
      await writeFile(join(home, ".gemini/settings.json"), JSON.stringify({ security: { auth: { selectedType: "gemini-api-key" } } }));
      return {
        name,
        kind: "gemini-cli",
        command: bin(name, "gemini"),
        args: ["--acp"],
        env: { ...base, GOOGLE_GEMINI_BASE_URL: modelsUrl, GEMINI_API_KEY: "fake-key", GEMINI_CLI_TRUST_WORKSPACE: "true" },
      };
    }
    case "opencode":
      await writeFile(
        join(cwd, "opencode.json"),
        JSON.stringify({
          $schema: "https://opencode.ai/config.json",
          provider: {
            fake: {
              npm: "@ai-sdk/openai-compatible",
              name: "Fake local",
              options: { baseURL: chatUrl, apiKey: "fake-key" },
              models: { "fake-model": { name: "Fake Model", tool_call: true } },
            },
          },
          model: "fake/fake-model",
          small_model: "fake/fake-model",
          permission: { bash: "ask", edit: "ask" },
        }),
      );
      return {
        name,
        kind: "OpenCode",
        command: bin(name, "opencode"),
        args: ["acp"],
        env: { ...base, OPENCODE_DISABLE_MODELS_FETCH: "1", OPENCODE_DISABLE_AUTOUPDATE: "1", OPENCODE_DISABLE_LSP_DOWNLOAD: "1" },
      };
  }
}

export interface AcpRun {
  proc: ChildProcess;
  output(): string;
  stderr(): string;
  write(line: string): void;
  exited: Promise<Exit>;
  /** Waits until the terminal output matches. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>;
}

/** `node dist/cli.js acp --home HOME [--session NAME] -- CMD ARGS…` in `cwd`, stdin a pipe. */
/**
 * Starts `switchboard acp` for `agent`: `node dist/cli.js acp …`, or with `entry` (dist/acp.js, as
 * VS Code starts it) `node NODEARGS dist/acp.js …`.
 */
export function startAcp(
  home: string,
  agent: AgentSetup,
  cwd: string,
  opts: { session?: string; debug?: boolean; noStart?: boolean; entry?: string; nodeArgs?: readonly string[] } = {},
): AcpRun {
  const args = [
    ...(opts.nodeArgs ?? []),
    ...(opts.entry ? [opts.entry] : [CLI_ENTRY, "acp"]),
    "--home",
    home,
    ...(opts.noStart ? ["--no-start"] : []),
    ...(opts.session ? ["--session", opts.session] : []),
    "--",
    agent.command,
    ...agent.args,
  ];
  const proc = spawn(process.execPath, args, {
    cwd,
    env: { ...agent.env, SWITCHBOARD_HOME: home, ...(opts.debug || process.env.SWITCHBOARD_ACP_DEBUG ? { SWITCHBOARD_ACP_DEBUG: "1" } : {}) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = track(proc);
  let out = "";
  let err = "";
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => {
    err += d;
    if (process.env.SWITCHBOARD_ACP_DEBUG) process.stderr.write(d);
  });
  return {
    proc,
    output: () => out,
    stderr: () => err,
    write: (line) => void proc.stdin!.write(line.endsWith("\n") ? line : line + "\n"),
    exited,
    async waitForOutput(re, timeoutMs = 60_000) {
      const said = () => `\nstdout:\n${out}\nstderr:\n${err.slice(-3000)}`;
      await until(`switchboard acp output to match ${re}`, () => re.test(out) || !running(proc), timeoutMs, 25).catch((e: Error) => {
        throw new Error(`${e.message}.${said()}`);
      });
      if (!re.test(out)) throw new Error(`switchboard acp exited (${proc.exitCode ?? proc.signalCode}) before its output matched ${re}.${said()}`);
    },
  };
}

/** Every process whose environment or command line carries `marker` (the test's temp root). */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8");
      const env = existsSync(`/proc/${name}/environ`) ? readFileSync(`/proc/${name}/environ`, "utf8") : "";
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      if (/\) Z /.test(stat)) continue;
      if (cmd.includes(marker) || env.includes(marker)) found.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** `until` (wait.ts) with the ACP suites' longer default bound: agents start slowly. */
export function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  return until(what, probe, timeoutMs, everyMs);
}

export async function sandbox(prefix = "sb-acp-"): Promise<{ root: string; cwd: string; cleanup(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const cwd = join(root, "work");
  await mkdir(cwd, { recursive: true });
  return { root, cwd, cleanup: () => rm(root, { recursive: true, force: true }) };
}
