/** src/exec: runs one command for an output stream. See exec.ts for the full contract. */
export { execCommand, killAllRunning, ExecError } from "./exec.js";
export type { Channel, ExecErrorCode, ExecHandle, ExecOptions, ExecResult, StopSignal } from "./exec.js";
export { resolveShell, shellQuote } from "./shell.js";
export type { ShellChoice } from "./shell.js";
export { describeOutcome, exitOutcome, signalNumber } from "./outcome.js";
export type { ExitOutcome } from "./outcome.js";
export { groupAlive, pidAlive, signalGroup } from "./group.js";
