// Drives the real Claude Code (the pinned devDependency @anthropic-ai/claude-code) headless for tests
// and benchmarks: `claude -p PROMPT --output-format stream-json --verbose` in a project folder, with an
// isolated HOME and only the variables it needs (nothing from the caller's environment but PATH), its
// model calls going to the fake Anthropic server. Events are collected from stdout; every process is
// killed on exit.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./broker.js";
import { type Exit, readJsonLines, running, track } from "./children.js";

export const CLAUDE_BIN = join(ROOT, "node_modules/@anthropic-ai/claude-code/bin/claude.exe");
export const CLAUDE_HOOK = join(ROOT, "dist/claude-hook.js");

export function ensureClaude(): void {
  if (!existsSync(CLAUDE_BIN)) throw new Error(`${CLAUDE_BIN} is missing: run npm ci (Claude Code is a pinned devDependency)`);
  for (const f of [CLAUDE_HOOK, join(ROOT, "dist/claude-companion.js"), join(ROOT, "dist/broker.js")])
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\` first`);
}

/** An isolated HOME for Claude Code and a project folder. */
export async function claudeSandbox(): Promise<{ root: string; home: string; project: string; cleanup(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), "sb-claude-"));
  const home = join(root, "home");
  const project = join(root, "project");
  await mkdir(home, { recursive: true });
  await mkdir(project, { recursive: true });
  return { root, home, project, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export interface ClaudeEvent {
  type: string;
  subtype?: string;
  [key: string]: unknown;
}

export interface ClaudeRun {
  proc: ChildProcess;
  events: ClaudeEvent[];
  /** performance.now() when each event was read, same index as `events`. */
  times: number[];
  stderr(): string;
  exited: Promise<Exit>;
  alive(): boolean;
  /** The tool results Claude got, in order: {tool_use_id, content text, is_error}. */
  toolResults(): { id: string; text: string; isError: boolean }[];
  kill(signal?: NodeJS.Signals): void;
}

export interface StartClaudeOptions {
  cwd: string;
  home: string;
  baseUrl: string;
  prompt: string;
  /** Variables for this run (SWITCHBOARD_HOME, SWITCHBOARD_CLAUDE_OFFLINE…). */
  env?: Record<string, string>;
  args?: string[];
}

export function claudeEnv(o: { home: string; baseUrl: string; env?: Record<string, string> }): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: o.home,
    ANTHROPIC_BASE_URL: o.baseUrl,
    ANTHROPIC_API_KEY: "fake-key",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
    DISABLE_TELEMETRY: "1",
    // A failed model call should fail the run, not retry for a minute.
    CLAUDE_CODE_MAX_RETRIES: "0",
    ...o.env,
  };
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content.map((c) => (c && typeof c === "object" && typeof (c as { text?: unknown }).text === "string" ? (c as { text: string }).text : "")).join("");
  return "";
}

export function startClaude(o: StartClaudeOptions): ClaudeRun {
  const proc = spawn(CLAUDE_BIN, ["-p", o.prompt, "--output-format", "stream-json", "--verbose", ...(o.args ?? [])], {
    cwd: o.cwd,
    env: claudeEnv(o),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: ClaudeEvent[] = [];
  const times: number[] = [];
  let err = "";
  readJsonLines(proc.stdout!, events, times, (line) => (err += `[unparsable stdout] ${line}\n`));
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (d: string) => (err += d));
  const exited = track(proc);
  return {
    proc,
    events,
    times,
    stderr: () => err,
    exited,
    alive: () => running(proc),
    kill: (signal = "SIGKILL") => void proc.kill(signal),
    toolResults() {
      const out: { id: string; text: string; isError: boolean }[] = [];
      for (const e of events) {
        if (e.type !== "user") continue;
        const content = (e.message as { content?: unknown } | undefined)?.content;
        if (!Array.isArray(content)) continue;
        for (const c of content as { type?: string; tool_use_id?: string; content?: unknown; is_error?: boolean }[])
          if (c.type === "tool_result") out.push({ id: c.tool_use_id ?? "", text: textOf(c.content), isError: c.is_error === true });
      }
      return out;
    },
  };
}

/** Runs to the end (bounded); rejects with Claude's stderr and last events if it takes too long. */
export async function runClaude(o: StartClaudeOptions, timeoutMs = 60_000): Promise<ClaudeRun> {
  const run = startClaude(o);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      run.exited,
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          run.kill();
          reject(new Error(`claude did not finish within ${timeoutMs} ms; stderr:\n${run.stderr()}\nlast events: ${JSON.stringify(run.events.slice(-3)).slice(0, 2000)}`));
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  return run;
}
