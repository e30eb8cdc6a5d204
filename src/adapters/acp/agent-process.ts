// Starts an ACP agent in its own process group and makes sure the whole group goes away with
// `switchboard acp`, however that ends.
//
// - Own group (`detached`): some npm launchers (codex-acp's node wrapper) leave a native child that
//   does not die with the wrapper, so we signal the group, not the pid. It also keeps the terminal's
//   Ctrl+C away from the agent: Ctrl+C means "cancel the turn" here, not "kill the agent".
// - Normal exit, Ctrl+C twice, SIGTERM, SIGHUP: stop() sends SIGTERM to the group, SIGKILL after a
//   grace, and waits until no member is left.
// - kill -9 of `switchboard acp`: no code of ours runs, so src/exec's group watchdog does it (a
//   `/bin/sh` blocked reading a pipe only we hold; our death closes it, and it kills the group). The
//   agent's stdin closing too makes most agents exit by themselves; the watchdog covers those that do
//   not, and their children.
import { spawn, type ChildProcess } from "node:child_process";
import { groupAlive, signalGroup } from "../../exec/index.js";
import { watchGroup, type GroupWatchdog } from "../../exec/watchdog.js";

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

export class AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<AgentExit>;
  private readonly watchdog: GroupWatchdog;
  private stopping: Promise<void> | undefined;
  private stderrTail = "";

  private constructor(
    child: ChildProcess,
    private readonly opts: AgentProcessOptions,
  ) {
    this.child = child;
    this.pid = child.pid!;
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    child.stderr?.on("data", (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString("utf8")).slice(-4000);
    });
    // Before anything else can happen: from here on, our death takes the agent's group with it.
    this.watchdog = watchGroup(this.pid);
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
    // The group is gone: the watchdog leaves without signalling a group id that could be reused.
    this.watchdog.release();
  }
}
