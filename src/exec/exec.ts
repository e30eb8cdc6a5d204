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
import { Run } from "./run.js";
import { resolveShell } from "./shell.js";
import { cwdProblem, failedHandle, isExecutableFile, spawnError } from "./start-errors.js";
import { ExecError, type ExecHandle, type ExecOptions } from "./types.js";
import { watchGroup } from "./watchdog.js";

// Where each part lives: types.ts (the API's types), start-errors.ts (failing to start), run.ts (how a
// run ends: drain, stop, reap, outcome), channels.ts (the output), group.ts, shell.ts, watchdog.ts.
export { killAllRunning } from "./run.js";
export { ExecError } from "./types.js";
export type { Channel, ExecErrorCode, ExecHandle, ExecOptions, ExecResult, StopSignal } from "./types.js";

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
