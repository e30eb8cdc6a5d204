/**
 * execCommand: runs one command for an output stream (POSIX only).
 *
 * API
 * ```ts
 * const h = execCommand({ command: "npm test", cwd, env, onOutput: (channel, text) => { ... } });
 * h.pid            // the shell's pid = the process-group id; undefined if spawning failed
 * h.bytes          // live raw byte counters { 1: stdout, 2: stderr }
 * h.resume()       // continue output after onOutput returned false
 * await h.stop("cancelled by user")  // SIGINT -> SIGTERM -> SIGKILL to the whole group
 * const r = await h.done             // ExecResult, or rejects with ExecError
 * ```
 *
 * How the command runs
 * - Through a shell chosen by `resolveShell` (shell.ts): `$SHELL -lc CMD`, else `bash -lc CMD`,
 *   else `sh -c CMD`. `$SHELL` is read from the environment the command gets (`env`).
 * - `env` is the complete environment (not merged with process.env); default process.env.
 * - Spawned with `detached: true`: a new session and process group whose id is the child pid.
 *   Every signal goes to the whole group (`kill(-pgid)`), so grandchildren are reached too.
 *   Consequence: Ctrl+C in the terminal of the *host* process no longer reaches the command;
 *   an `exit` listener kills every group still running when the host exits normally, and
 *   `killAllRunning()` is exported for hosts that exit from a signal handler. A host killed with
 *   SIGKILL runs no handler: a watchdog (watchdog.ts) that reads a pipe only the host holds sees
 *   end-of-file and stops the group (SIGTERM, then SIGKILL); `orphanGuard: false` turns it off.
 * - stdin is /dev/null unless `stdin: "pipe"` (then `writeStdin` / `endStdin`).
 *
 * Output (channels 1 = stdout, 2 = stderr, kept apart)
 * - Each channel has its own StringDecoder, so text is only ever cut at UTF-8 character
 *   boundaries; a character split across reads is held back until complete. The decoders are
 *   flushed when the channel ends (an incomplete trailing sequence becomes U+FFFD, as in any
 *   UTF-8 decoder). Empty texts are never delivered. Order is preserved per channel; there is no
 *   ordering between the two channels (they are separate pipes).
 * - Backpressure: if `onOutput` returns exactly `false`, both pipes are paused and no further
 *   `onOutput` call happens until `handle.resume()`. While paused, at most one stream buffer
 *   (64 KiB) plus the kernel pipe buffer per channel is held; then the command blocks in write().
 *   Nothing is dropped by pausing. Call `resume()` after returning false (not from inside the
 *   callback before returning false: the `false` wins).
 * - Bounded memory: output is never accumulated here; it is handed to `onOutput` as it arrives.
 * - `onOutput` must not throw. If it does, the command is stopped and `done` rejects with an
 *   ExecError (code "output_callback_failed", `cause` = the thrown value).
 *
 * How it ends (`done`)
 * `done` resolves after (1) the shell (group leader) has exited, (2) the process group is gone
 * and (3) both channels were delivered to the end (or abandoned, see below). In detail:
 * - After the leader exits, the rest of the group gets a drain window of `drainMs` (200 ms) to
 *   finish by itself: we wait until both pipes reach EOF and no member of the group is left.
 *   In the common case (no background jobs) that is immediate. When the window ends, whatever
 *   is still alive in the group (a background job `cmd &`, a daemon that did not setsid) gets
 *   SIGKILL and we wait until it is gone (`leftovers: "killed"`). So a background grandchild
 *   holding the pipes open never makes `done` hang, and no process of the group outlives `done`.
 *   We deliberately do not wait for pipe EOF alone: a grandchild can hold the pipes forever.
 *   Presence of the group is checked with `kill(-pgid, 0)` (and /proc on Linux, where unreaped
 *   zombies would otherwise look alive).
 * - With the group gone, the pipes reach EOF as soon as the buffered output is read. If they
 *   do not within `drainMs` of flowing time, a process outside the group (one that called setsid)
 *   holds them; the pipes are destroyed and `output_complete` is false.
 * - While output is paused, (3) waits for `resume()`: a consumer that pauses must resume or stop.
 *   `stop()` while paused (or pausing after stop) discards output not yet delivered once the group
 *   is gone (`output_complete: false`): stopping means the rest of the output is not wanted.
 *
 * Stopping (`stop(reason)`)
 * SIGINT to the group; if the leader is still alive after `stopGraceMs` (default 2000), SIGTERM
 * to the group; after another `stopGraceMs`, SIGKILL to the group. `stopped_by` is the last
 * signal sent before the leader exited, i.e. the one that ended it. Anything left in the group
 * after the leader exits gets SIGKILL at once (no drain wait when stopping). `stop()` returns
 * `done`; calling it again, or after the end, just returns `done`.
 *
 * Exit reporting: `exit_code` / `signal` are as reported by the OS; a process killed by a signal
 * has `exit_code: null` (never 0) and `code` = 128 + signal number (see outcome.ts). A command
 * that traps SIGINT and exits 0 reports exit_code 0 with `stopped_by: "SIGINT"`: callers decide
 * "aborted vs completed" from `stopped_by`.
 *
 * Failing to start: `done` rejects with an ExecError whose message says what to fix (missing or
 * non-directory cwd, no usable shell, spawn error). `pid` is then undefined. The rejection is
 * marked handled, so a caller that never awaits `done` does not crash the process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { groupAlive, signalGroup } from "./group.js";
import { exitOutcome, type ExitOutcome } from "./outcome.js";
import { resolveShell, type ShellChoice } from "./shell.js";
import { watchGroup, type GroupWatchdog } from "./watchdog.js";

export type Channel = 1 | 2;
export type StopSignal = "SIGINT" | "SIGTERM" | "SIGKILL";

export interface ExecOptions {
  /** the command line, run by the shell */
  command: string;
  /** working directory; default process.cwd() */
  cwd?: string;
  /** the complete environment of the command (not merged); default process.env */
  env?: NodeJS.ProcessEnv;
  /** receives decoded text per channel; return `false` to pause until `resume()` */
  onOutput?: (channel: Channel, text: string) => boolean | undefined;
  /** wait per escalation step of `stop()` (SIGINT -> SIGTERM -> SIGKILL); default 2000 ms */
  stopGraceMs?: number;
  /** after the leader exits, how long the rest of the group may run (and hold the pipes) before it is SIGKILLed; default 200 ms */
  drainMs?: number;
  /** shell to use instead of $SHELL (absolute path); no fallback if it is not executable */
  shell?: string;
  /** run the shell as a login shell (`-lc`); default true. The `sh` fallback always uses `-c`. */
  login?: boolean;
  /** "ignore" (default): stdin is /dev/null. "pipe": use `writeStdin` / `endStdin`. */
  stdin?: "ignore" | "pipe";
  /** Stop the group if this process dies first, even by SIGKILL (watchdog.ts); default true. */
  orphanGuard?: boolean;
}

export interface ExecResult extends ExitOutcome {
  /** from spawn to the exit of the leader */
  duration_ms: number;
  /** the stop() signal that ended the command; null if it was not stopped (or ended before) */
  stopped_by: StopSignal | null;
  /** the reason given to stop(), if any */
  stop_reason: string | null;
  /** raw bytes read per channel */
  bytes: { 1: number; 2: number };
  /** false if undelivered output was discarded (stop while paused, or pipes held by a process outside the group) */
  output_complete: boolean;
  /** group members still alive after the leader exited: none, killed by us, or survived SIGKILL (unkillable or not ours) */
  leftovers: "none" | "killed" | "survived";
}

export type ExecErrorCode = "cwd_missing" | "cwd_not_directory" | "cwd_inaccessible" | "no_shell" | "spawn_failed" | "output_callback_failed";

export class ExecError extends Error {
  readonly code: ExecErrorCode;
  constructor(code: ExecErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ExecError";
    this.code = code;
  }
}

export interface ExecHandle {
  /** pid of the shell = process-group id; undefined if the command could not be started */
  readonly pid: number | undefined;
  /** the shell that runs the command; null if none was usable */
  readonly shell: ShellChoice | null;
  readonly done: Promise<ExecResult>;
  /** live raw byte counters per channel */
  readonly bytes: Readonly<{ 1: number; 2: number }>;
  /** true while output is paused by onOutput returning false */
  readonly paused: boolean;
  stop(reason?: string): Promise<ExecResult>;
  resume(): void;
  /** only with `stdin: "pipe"`; returns the stream's write() result (false = wait for drain) */
  writeStdin(data: string | Uint8Array): boolean;
  endStdin(): void;
}

const DEFAULT_STOP_GRACE_MS = 2000;
const DEFAULT_DRAIN_MS = 200;
/** after SIGKILL to the group, how long to wait for it to disappear */
const REAP_TIMEOUT_MS = 2000;
const REAP_POLL_MS = 10;
const ESCALATION: readonly StopSignal[] = ["SIGINT", "SIGTERM", "SIGKILL"];

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function cwdProblem(cwd: string): ExecError | null {
  try {
    if (!statSync(cwd).isDirectory()) {
      return new ExecError("cwd_not_directory", `working directory ${cwd} is not a directory: pass a directory as cwd`);
    }
    accessSync(cwd, fsConstants.X_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      return new ExecError("cwd_missing", `working directory ${cwd} does not exist: create it or pass an existing cwd`);
    }
    return new ExecError("cwd_inaccessible", `working directory ${cwd} cannot be entered (${code ?? String(err)}): fix its permissions or pass another cwd`);
  }
}

function spawnError(shellFile: string, command: string, err: Error): ExecError {
  const code = (err as NodeJS.ErrnoException).code;
  const hint =
    code === "E2BIG"
      ? `the command is too long (${Buffer.byteLength(command)} bytes): pass long input through a file or stdin`
      : code === "EACCES"
        ? `permission denied: make ${shellFile} executable or choose another shell`
        : code === "EAGAIN" || code === "EMFILE" || code === "ENFILE"
          ? "the system is out of processes or file descriptors: retry later"
          : "check the shell and the working directory";
  return new ExecError("spawn_failed", `could not start ${shellFile} (${err.message}): ${hint}`, { cause: err });
}

function failedHandle(error: ExecError, shell: ShellChoice | null): ExecHandle {
  const done = Promise.reject<ExecResult>(error);
  done.catch(() => {}); // handled: a caller that ignores `done` must not crash the host
  return {
    pid: undefined,
    shell,
    done,
    bytes: { 1: 0, 2: 0 },
    paused: false,
    stop: () => done,
    resume: () => {},
    writeStdin: () => false,
    endStdin: () => {},
  };
}

// ---------------------------------------------------------------------------------------------
// Groups still running, killed if the host process exits.

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

export function execCommand(opts: ExecOptions): ExecHandle {
  if (process.platform === "win32") {
    return failedHandle(new ExecError("spawn_failed", "running commands needs a POSIX system (process groups and signals); Windows is not supported"), null);
  }
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const shell = resolveShell(env, isExecutableFile, { override: opts.shell, login: opts.login });
  const badCwd = cwdProblem(cwd);
  if (badCwd) return failedHandle(badCwd, shell);
  if (!shell) {
    const message =
      opts.shell !== undefined
        ? `shell ${opts.shell} is not an executable file: pass an absolute path to a shell`
        : "no usable shell: set SHELL to an executable shell, or install bash or /bin/sh";
    return failedHandle(new ExecError("no_shell", message), null);
  }
  let child: ChildProcess;
  try {
    child = spawn(shell.file, [...shell.args, opts.command], {
      cwd,
      env,
      detached: true,
      stdio: [opts.stdin === "pipe" ? "pipe" : "ignore", "pipe", "pipe"],
    });
  } catch (err) {
    return failedHandle(spawnError(shell.file, opts.command, err as Error), shell);
  }
  // Before anything else can happen: a supervisor killed from here on leaves no command behind.
  const guard = opts.orphanGuard !== false && child.pid !== undefined ? watchGroup(child.pid) : undefined;
  return new Run(child, shell, cwd, opts, guard).handle;
}

class Run {
  readonly handle: ExecHandle;
  private readonly pgid: number | undefined;
  private readonly startedAt = performance.now();
  private readonly decoders = { 1: new StringDecoder("utf8"), 2: new StringDecoder("utf8") };
  private readonly eof = { 1: false, 2: false };
  private readonly bytes = { 1: 0, 2: 0 };
  private readonly queue: Array<[Channel, string]> = [];
  private readonly graceMs: number;
  private readonly drainMs: number;
  private readonly command: string;
  private onOutput: ExecOptions["onOutput"];

  private paused = false;
  private pumping = false;
  private exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | null = null;
  private stopRequested = false;
  private stopReason: string | null = null;
  private stoppedBy: StopSignal | null = null;
  private reaping = false;
  private groupGone = false;
  private leftovers: ExecResult["leftovers"] = "none";
  private outputComplete = true;
  private callbackError: { value: unknown } | null = null;
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
    this.onOutput = opts.onOutput;
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
        return { 1: self.bytes[1], 2: self.bytes[2] };
      },
      get paused() {
        return self.paused;
      },
      stop: (reason?: string) => this.stop(reason),
      resume: () => this.resume(),
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
    for (const channel of [1, 2] as const) {
      const stream = channel === 1 ? child.stdout : child.stderr;
      if (!stream) {
        this.eof[channel] = true;
        continue;
      }
      stream.on("data", (chunk: Buffer) => this.onData(channel, chunk));
      stream.on("end", () => this.onEnd(channel));
      stream.on("error", () => this.onEnd(channel));
      stream.on("close", () => this.onEnd(channel));
    }
    if (this.pgid !== undefined) track(this);
  }

  // ---- output -------------------------------------------------------------------------------

  private onData(channel: Channel, chunk: Buffer): void {
    this.bytes[channel] += chunk.length;
    const text = this.decoders[channel].write(chunk);
    if (text) this.queue.push([channel, text]);
    this.pump();
  }

  private onEnd(channel: Channel): void {
    if (this.eof[channel] || this.finished) return;
    this.eof[channel] = true;
    const tail = this.decoders[channel].end();
    if (tail) this.queue.push([channel, tail]);
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.paused && this.queue.length > 0) {
        const [channel, text] = this.queue.shift()!;
        if (this.deliver(channel, text) === false) this.pause();
      }
    } finally {
      this.pumping = false;
    }
    this.progress();
  }

  private deliver(channel: Channel, text: string): boolean | undefined {
    if (!this.onOutput) return;
    try {
      return this.onOutput(channel, text);
    } catch (err) {
      this.callbackError = { value: err };
      this.onOutput = undefined; // keep draining the pipes, deliver nothing more
      void this.stop("output callback threw");
      return;
    }
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.child.stdout?.pause();
    this.child.stderr?.pause();
    clearTimeout(this.abandonTimer);
    this.abandonTimer = undefined;
  }

  private resume(): void {
    if (!this.paused || this.finished) return;
    this.paused = false;
    this.pump();
    if (this.paused || this.finished) return;
    this.child.stdout?.resume();
    this.child.stderr?.resume();
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  private onSpawnError(err: Error): void {
    if (this.pgid !== undefined || this.finished) return; // only spawn failures matter here
    this.finished = true;
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
    if (this.delivered() && !groupAlive(this.pgid)) {
      this.reaping = true;
      return this.onGroupGone();
    }
    const remaining = this.drainDeadline - performance.now();
    if (remaining <= 0) return this.reapGroup();
    this.drainTimer = setTimeout(() => this.drainTick(), Math.min(remaining, REAP_POLL_MS));
  }

  private delivered(): boolean {
    return this.eof[1] && this.eof[2] && this.queue.length === 0;
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
    const delivered = this.delivered();
    if (!this.groupGone) {
      // Both pipes just ended: check the group now rather than at the next drain tick.
      if (delivered && this.drainTimer) this.drainTick();
      return;
    }
    if (delivered) return this.finish();
    if (this.paused) {
      if (this.stopRequested) this.abandonOutput();
      return;
    }
    // Flowing, group gone, pipes still open: only a process outside the group can hold them.
    this.abandonTimer ??= setTimeout(() => this.abandonOutput(), this.drainMs);
  }

  private abandonOutput(): void {
    if (this.finished) return;
    this.outputComplete = false;
    this.queue.length = 0;
    this.eof[1] = this.eof[2] = true; // the partial characters left in the decoders are dropped
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.finished || !this.exit) return;
    this.finished = true;
    for (const t of [this.escalationTimer, this.drainTimer, this.abandonTimer, this.reapTimer]) clearTimeout(t);
    live.delete(this);
    this.guard?.release(); // the group is gone (or left to what survived SIGKILL): nothing left to guard
    this.child.stdin?.destroy();
    if (this.callbackError) {
      this.reject(
        new ExecError("output_callback_failed", `the onOutput callback threw, so the command was stopped: ${String(this.callbackError.value)}`, {
          cause: this.callbackError.value,
        }),
      );
      return;
    }
    this.resolve({
      ...exitOutcome(this.exit.code, this.exit.signal),
      duration_ms: Math.round(this.exit.at - this.startedAt),
      stopped_by: this.stoppedBy,
      stop_reason: this.stopReason,
      bytes: { 1: this.bytes[1], 2: this.bytes[2] },
      output_complete: this.outputComplete,
      leftovers: this.leftovers,
    });
  }
}
