// The public types of execCommand (options, handle, result) and its one error class, apart from the
// machinery so that a reader of the API need not read how a run is driven. The contract is in exec.ts.
import type { ExitOutcome } from "./outcome.js";
import type { ShellChoice } from "./shell.js";

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
