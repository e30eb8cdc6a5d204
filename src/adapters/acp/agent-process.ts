// Starts an ACP agent in its own process group and makes sure the whole group goes away with
// `switchboard acp`, however that ends.
//
// - Own group (`detached`): some npm launchers (codex-acp's node wrapper) leave a native child that
//   does not die with the wrapper, so we signal the group, not the pid. It also keeps the terminal's
//   Ctrl+C away from the agent: Ctrl+C means "cancel the turn" here, not "kill the agent".
// - Normal exit, Ctrl+C twice, SIGTERM, SIGHUP: stop() sends SIGTERM to the group, SIGKILL after a
//   grace, and waits until no member is left.
// - kill -9 of `switchboard acp`: no code of ours runs, so a watchdog does it. It is `/bin/sh` (about
//   1 MB, not a second Node), in its own group (so Ctrl+C and the group kill do not reach it), blocked
//   reading a pipe from us. When we die the kernel closes the pipe, `read` sees end of file, and the
//   watchdog kills the agent's group (TERM, then KILL). On a normal stop we write `done` first, so it
//   exits without touching a group id that could have been reused. The agent's stdin closing too makes
//   most agents exit by themselves; the watchdog covers those that do not, and their children.
import { spawn, type ChildProcess } from "node:child_process";
import { groupAlive, signalGroup } from "../../exec/index.js";

export interface AgentProcessOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Grace between SIGTERM and SIGKILL when stopping; default 2 s. */
  graceMs?: number;
}

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// dash's `kill` takes no `--`: `kill -TERM -PGID` is the form that reaches a group in every sh.
const WATCHDOG = [
  'trap "" INT HUP TERM QUIT',
  'IFS= read -r line',
  '[ "$line" = done ] && exit 0',
  'kill -TERM "-$1" 2>/dev/null || exit 0',
  "i=0",
  'while [ "$i" -lt 30 ] && kill -0 "-$1" 2>/dev/null; do sleep 0.1; i=$((i+1)); done',
  'kill -KILL "-$1" 2>/dev/null',
  "exit 0",
].join("\n");

export class AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<AgentExit>;
  private readonly watchdog: ChildProcess | undefined;
  private stopping: Promise<void> | undefined;
  private stderrTail = "";

  private constructor(child: ChildProcess, private readonly opts: AgentProcessOptions) {
    this.child = child;
    this.pid = child.pid!;
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    child.stderr?.on("data", (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString("utf8")).slice(-4000);
    });
    try {
      this.watchdog = spawn("/bin/sh", ["-c", WATCHDOG, "switchboard-acp-watchdog", String(this.pid)], { detached: true, stdio: ["pipe", "ignore", "ignore"] });
      this.watchdog.on("error", () => {});
      this.watchdog.stdin!.on("error", () => {});
      // Neither the watchdog nor its pipe keeps our event loop alive.
      this.watchdog.unref();
      (this.watchdog.stdin as unknown as { unref?: () => void }).unref?.();
    } catch {
      this.watchdog = undefined;
    }
  }

  /** Spawns the agent; rejects with a sentence when it cannot be started. */
  static start(opts: AgentProcessOptions): Promise<AgentProcess> {
    return new Promise((resolve, reject) => {
      const child = spawn(opts.command, [...opts.args], { cwd: opts.cwd, env: opts.env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
      child.once("error", (err: NodeJS.ErrnoException) => {
        const why = err.code === "ENOENT" ? "not found (is it installed and on PATH?)" : err.code === "EACCES" ? "not executable" : err.message;
        reject(new Error(`Could not start ${opts.command}: ${why}`));
      });
      child.once("spawn", () => resolve(new AgentProcess(child, opts)));
    });
  }

  /** The last few KB the agent wrote to stderr (shown when it fails). */
  get stderr(): string {
    return this.stderrTail;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stops the whole group: SIGTERM, SIGKILL after the grace; resolves when no member is left. */
  stop(): Promise<void> {
    return (this.stopping ??= this.doStop());
  }

  private async doStop(): Promise<void> {
    const grace = this.opts.graceMs ?? 2000;
    this.child.stdin?.end();
    signalGroup(this.pid, "SIGTERM");
    const deadline = Date.now() + grace;
    while (groupAlive(this.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    if (groupAlive(this.pid)) {
      signalGroup(this.pid, "SIGKILL");
      const hard = Date.now() + 2000;
      while (groupAlive(this.pid) && Date.now() < hard) await new Promise((r) => setTimeout(r, 25));
    }
    this.releaseWatchdog();
  }

  /** The group is gone: tell the watchdog to leave without killing anything. */
  private releaseWatchdog(): void {
    const w = this.watchdog;
    if (!w?.stdin || w.stdin.destroyed) return;
    w.stdin.end("done\n");
  }
}
