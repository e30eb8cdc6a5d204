// One running command after its spawn: how it ends (exec.ts has the contract). The leader's exit opens
// a drain window for the rest of its process group, stop() escalates SIGINT -> SIGTERM -> SIGKILL,
// leftovers of the group are SIGKILLed and waited for, and `done` settles once the group is gone and
// the output (channels.ts) was delivered or abandoned. Groups still running are killed when the host
// process exits.
import type { ChildProcess } from "node:child_process";
import { OutputChannels } from "./channels.js";
import { groupAlive, signalGroup } from "./group.js";
import { exitOutcome } from "./outcome.js";
import type { ShellChoice } from "./shell.js";
import { cwdProblem, spawnError } from "./start-errors.js";
import { ExecError, type ExecHandle, type ExecOptions, type ExecResult, type StopSignal } from "./types.js";
import type { GroupWatchdog } from "./watchdog.js";

const DEFAULT_STOP_GRACE_MS = 2000;
const DEFAULT_DRAIN_MS = 200;
/** after SIGKILL to the group, how long to wait for it to disappear */
const REAP_TIMEOUT_MS = 2000;
const REAP_POLL_MS = 10;
const ESCALATION: readonly StopSignal[] = ["SIGINT", "SIGTERM", "SIGKILL"];

// ---- groups still running, killed if the host process exits ----------------------------------

const live = new Set<Run>();
let exitHookInstalled = false;

/** SIGKILLs the process group of every command still running. Synchronous; safe in an exit handler. */
export function killAllRunning(): void {
  for (const run of live) run.killGroupNow();
}

function track(run: Run): void {
  live.add(run);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", killAllRunning);
  }
}

// ---------------------------------------------------------------------------------------------

export class Run {
  readonly handle: ExecHandle;
  private readonly pgid: number | undefined;
  private readonly startedAt = performance.now();
  private readonly output: OutputChannels;
  private readonly graceMs: number;
  private readonly drainMs: number;
  private readonly command: string;

  private exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | null = null;
  private stopRequested = false;
  private stopReason: string | null = null;
  private stoppedBy: StopSignal | null = null;
  private reaping = false;
  private groupGone = false;
  private leftovers: ExecResult["leftovers"] = "none";
  private finished = false;

  private escalationTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private drainDeadline = 0;
  private abandonTimer: NodeJS.Timeout | undefined;
  private reapTimer: NodeJS.Timeout | undefined;

  private resolve!: (r: ExecResult) => void;
  private reject!: (e: Error) => void;

  constructor(
    private readonly child: ChildProcess,
    shell: ShellChoice,
    private readonly cwd: string,
    opts: ExecOptions,
    private readonly guard?: GroupWatchdog,
  ) {
    this.command = opts.command;
    this.pgid = child.pid;
    this.graceMs = opts.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.drainMs = opts.drainMs ?? DEFAULT_DRAIN_MS;
    const done = new Promise<ExecResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    done.catch(() => {});
    const self = this;
    this.handle = {
      pid: child.pid,
      shell,
      done,
      get bytes() {
        return { 1: self.output.bytes[1], 2: self.output.bytes[2] };
      },
      get paused() {
        return self.output.paused;
      },
      stop: (reason?: string) => this.stop(reason),
      resume: () => this.output.resume(),
      writeStdin: (data) => {
        if (!child.stdin) throw new Error('stdin is not a pipe: start the command with stdin: "pipe"');
        return child.stdin.write(data);
      },
      endStdin: () => {
        child.stdin?.end();
      },
    };

    child.on("error", (err) => this.onSpawnError(err));
    child.on("exit", (code, signal) => this.onLeaderExit(code, signal));
    child.stdin?.on("error", () => {}); // EPIPE after the command exits is not our problem
    this.output = new OutputChannels(child, opts.onOutput, {
      progress: () => this.progress(),
      paused: () => {
        clearTimeout(this.abandonTimer);
        this.abandonTimer = undefined;
      },
      callbackFailed: () => void this.stop("output callback threw"),
    });
    if (this.pgid !== undefined) track(this);
  }

  private onSpawnError(err: Error): void {
    if (this.pgid !== undefined || this.finished) return; // only spawn failures matter here
    this.finished = true;
    this.output.close();
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    this.child.stdin?.destroy();
    const code = (err as NodeJS.ErrnoException).code;
    const badCwd = code === "ENOENT" ? cwdProblem(this.cwd) : null;
    this.reject(badCwd ?? spawnError(this.handle.shell?.file ?? "the shell", this.command, err));
  }

  private onLeaderExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exit) return;
    this.exit = { code, signal, at: performance.now() };
    clearTimeout(this.escalationTimer);
    this.escalationTimer = undefined;
    if (this.stopRequested) this.reapGroup();
    else {
      this.drainDeadline = this.exit.at + this.drainMs;
      this.drainTick();
    }
    this.progress();
  }

  /** Drain window: wait for pipe EOF and an empty group, at most until drainDeadline. */
  private drainTick(): void {
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    if (this.reaping || this.pgid === undefined) return;
    if (this.output.delivered() && !groupAlive(this.pgid)) {
      this.reaping = true;
      return this.onGroupGone();
    }
    const remaining = this.drainDeadline - performance.now();
    if (remaining <= 0) return this.reapGroup();
    this.drainTimer = setTimeout(() => this.drainTick(), Math.min(remaining, REAP_POLL_MS));
  }

  private stop(reason?: string): Promise<ExecResult> {
    if (this.finished || this.stopRequested || this.pgid === undefined) return this.handle.done;
    this.stopRequested = true;
    this.stopReason = reason ?? null;
    if (!this.exit) this.escalate(0);
    else if (!this.reaping) this.reapGroup();
    this.progress();
    return this.handle.done;
  }

  private escalate(step: number): void {
    const signal = ESCALATION[step];
    if (!signal || this.exit || this.pgid === undefined) return;
    this.stoppedBy = signal;
    signalGroup(this.pgid, signal);
    if (step + 1 < ESCALATION.length) this.escalationTimer = setTimeout(() => this.escalate(step + 1), this.graceMs);
  }

  /** After the leader exited: SIGKILL whatever is left of the group, then wait until it is gone. */
  private reapGroup(): void {
    if (this.reaping || this.pgid === undefined) return;
    this.reaping = true;
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    const pgid = this.pgid;
    if (!groupAlive(pgid)) return this.onGroupGone();
    this.leftovers = "killed";
    signalGroup(pgid, "SIGKILL");
    const deadline = performance.now() + REAP_TIMEOUT_MS;
    const poll = () => {
      if (!groupAlive(pgid)) return this.onGroupGone();
      if (performance.now() >= deadline) {
        this.leftovers = "survived";
        return this.onGroupGone();
      }
      this.reapTimer = setTimeout(poll, REAP_POLL_MS);
    };
    poll();
  }

  private onGroupGone(): void {
    this.groupGone = true;
    live.delete(this);
    this.progress();
  }

  /** Used by killAllRunning (host exit): synchronous SIGKILL, no waiting. */
  killGroupNow(): void {
    if (this.pgid !== undefined && !this.groupGone) signalGroup(this.pgid, "SIGKILL");
  }

  /** Re-evaluates what is still missing before `done` can settle. */
  private progress(): void {
    if (this.finished || !this.exit) return;
    const delivered = this.output.delivered();
    if (!this.groupGone) {
      // Both pipes just ended: check the group now rather than at the next drain tick.
      if (delivered && this.drainTimer) this.drainTick();
      return;
    }
    if (delivered) return this.finish();
    if (this.output.paused) {
      if (this.stopRequested) this.abandonOutput();
      return;
    }
    // Flowing, group gone, pipes still open: only a process outside the group can hold them.
    this.abandonTimer ??= setTimeout(() => this.abandonOutput(), this.drainMs);
  }

  private abandonOutput(): void {
    if (this.finished) return;
    this.output.abandon();
    this.finish();
  }

  private finish(): void {
    if (this.finished || !this.exit) return;
    this.finished = true;
    this.output.close();
    for (const t of [this.escalationTimer, this.drainTimer, this.abandonTimer, this.reapTimer]) clearTimeout(t);
    live.delete(this);
    this.guard?.release(); // the group is gone (or left to what survived SIGKILL): nothing left to guard
    this.child.stdin?.destroy();
    const callbackError = this.output.callbackError;
    if (callbackError) {
      this.reject(
        new ExecError("output_callback_failed", `the onOutput callback threw, so the command was stopped: ${String(callbackError.value)}`, {
          cause: callbackError.value,
        }),
      );
      return;
    }
    this.resolve({
      ...exitOutcome(this.exit.code, this.exit.signal),
      duration_ms: Math.round(this.exit.at - this.startedAt),
      stopped_by: this.stoppedBy,
      stop_reason: this.stopReason,
      bytes: { 1: this.output.bytes[1], 2: this.output.bytes[2] },
      output_complete: this.output.complete,
      leftovers: this.leftovers,
    });
  }
}
