// Drives the real pi agent (`pi --mode rpc`) for tests and benchmarks: a temporary agent folder whose
// models.json points at the fake model server, JSONL commands on stdin, events collected from stdout,
// bounded waits, and clean-up of every process.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { piModelsJson } from "./fake-model/openai.js";
import { ROOT, childEnv } from "./broker.js";
import { type Exit, readJsonLines, running, track } from "./children.js";

export const PI_CLI = join(ROOT, "node_modules/@mariozechner/pi-coding-agent/dist/cli.js");
export const PI_EXTENSION = join(ROOT, "dist/pi-extension.js");

/** dist/pi-extension.js, built by `npm run build` (as dist/broker.js is). */
export async function ensurePiExtension(): Promise<string> {
  for (const f of [PI_EXTENSION, join(ROOT, "dist/broker.js")]) if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm run build\` first`);
  return PI_EXTENSION;
}

/** A pi agent folder (models.json for the fake provider) and an empty working folder. */
export async function piSandbox(fakeBaseUrl: string): Promise<{ agentDir: string; cwd: string; root: string; cleanup(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), "sb-pi-"));
  const agentDir = join(root, "agent");
  const cwd = join(root, "work");
  await mkdir(agentDir, { recursive: true });
  await mkdir(cwd, { recursive: true });
  await writeFile(join(agentDir, "models.json"), piModelsJson(fakeBaseUrl));
  // No retries: a failing fake request should fail the turn at once.
  await writeFile(join(agentDir, "settings.json"), JSON.stringify({ retry: { enabled: false } }));
  return { agentDir, cwd, root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export interface PiEvent {
  type: string;
  [key: string]: unknown;
}

export interface RpcPi {
  proc: ChildProcess;
  events: PiEvent[];
  /** performance.now() when each event was read, same index as `events`. */
  times: number[];
  /** Sends one command; resolves with its response. */
  command(cmd: Record<string, unknown>, timeoutMs?: number): Promise<PiEvent>;
  /** Writes a raw line (for extension_ui_response). */
  write(obj: unknown): void;
  /** The first event from index `from` on that matches. */
  waitFor(pred: (e: PiEvent) => boolean, timeoutMs?: number, from?: number): Promise<PiEvent>;
  stderr(): string;
  exited: Promise<Exit>;
  alive(): boolean;
  /** Closes stdin (pi shuts down cleanly) and waits; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartPiOptions {
  agentDir: string;
  cwd: string;
  /** Path of the extension to load; none = plain pi. */
  extension?: string;
  env?: NodeJS.ProcessEnv;
  /** Let pi discover extensions in its agent folder (default: only `extension`). */
  discoverExtensions?: boolean;
}

export function startPi(opts: StartPiOptions): RpcPi {
  const args = [PI_CLI, "--mode", "rpc", "--offline", "--no-session", "--no-skills", "--no-prompt-templates", "--no-context-files", "--provider", "fake", "--model", "fake-model"];
  if (!opts.discoverExtensions) args.push("--no-extensions");
  if (opts.extension) args.push("-e", opts.extension);
  const proc = spawn(process.execPath, args, {
    cwd: opts.cwd,
    env: childEnv({ PI_CODING_AGENT_DIR: opts.agentDir, PI_OFFLINE: "1", ...opts.env }),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const events: PiEvent[] = [];
  const times: number[] = [];
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  let errText = "";
  readJsonLines(proc.stdout!, events, times, (line) => (errText += `[unparsable stdout] ${line}\n`), wake);
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (d: string) => (errText += d));
  const exited = track(proc).then((exit) => (wake(), exit));
  let nextId = 0;
  const pi: RpcPi = {
    proc,
    events,
    times,
    write(obj) {
      proc.stdin!.write(JSON.stringify(obj) + "\n");
    },
    waitFor(pred, timeoutMs = 15_000, from = 0) {
      return new Promise<PiEvent>((resolve, reject) => {
        const check = () => {
          for (let i = from; i < events.length; i++) {
            if (pred(events[i]!)) {
              done();
              return resolve(events[i]!);
            }
          }
          if (proc.exitCode !== null || proc.signalCode !== null) {
            done();
            reject(new Error(`pi exited (${proc.exitCode ?? proc.signalCode}) before the awaited event; stderr:\n${errText}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for a pi event; last events: ${events
                .slice(-5)
                .map((e) => e.type)
                .join(", ")}; stderr:\n${errText}`,
            ),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async command(cmd, timeoutMs = 15_000) {
      const id = `t${++nextId}`;
      const from = events.length;
      pi.write({ ...cmd, id });
      return pi.waitFor((e) => e.type === "response" && e.id === id, timeoutMs, from);
    },
    stderr: () => errText,
    exited,
    alive: () => running(proc),
    async stop(graceMs = 5000) {
      if (!pi.alive()) return;
      proc.stdin!.end();
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  return pi;
}

/** The text of a tool result ({content:[{type:"text",text}]}). */
export function resultText(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] } | undefined)?.content ?? [];
  return content.map((c) => (c.type === "text" ? (c.text ?? "") : "")).join("");
}
