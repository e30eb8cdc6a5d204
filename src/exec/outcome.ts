/**
 * How a command ended, as numbers a stream or a CLI can report (pure).
 *
 * - Exited by itself: `exit_code` = N, `signal` = null, `code` = N.
 * - Killed by a signal: `exit_code` = null (never 0), `signal` = "SIGKILL" etc., and the
 *   shell convention `code` = 128 + signal number (SIGINT 130, SIGKILL 137, SIGTERM 143), which
 *   is what a CLI should exit with and what rummy's `stream/completed {exit_code}` can carry.
 * - Neither (Node never reports this, but the type allows it): `code` = 1.
 */
import { constants } from "node:os";

export interface ExitOutcome {
  exit_code: number | null;
  signal: NodeJS.Signals | null;
  code: number;
}

/** The signal number on this platform (SIGINT = 2 ...), or null for an unknown name. */
export function signalNumber(signal: string): number | null {
  const n = (constants.signals as Record<string, number | undefined>)[signal];
  return typeof n === "number" ? n : null;
}

export function exitOutcome(exitCode: number | null, signal: NodeJS.Signals | null): ExitOutcome {
  if (signal !== null) {
    const n = signalNumber(signal);
    return { exit_code: null, signal, code: 128 + (n ?? 0) };
  }
  if (exitCode !== null) return { exit_code: exitCode, signal: null, code: exitCode };
  return { exit_code: null, signal: null, code: 1 };
}

/**
 * One line for logs and terminals, e.g. "exited with code 3", "killed by SIGTERM",
 * "stopped (SIGINT): exited with code 130", "stopped (SIGKILL): killed by SIGKILL".
 */
export function describeOutcome(r: { exit_code: number | null; signal: NodeJS.Signals | null; stopped_by?: NodeJS.Signals | null | undefined }): string {
  const how = r.signal !== null ? `killed by ${r.signal}` : r.exit_code !== null ? `exited with code ${r.exit_code}` : "ended without an exit code or signal";
  return r.stopped_by ? `stopped (${r.stopped_by}): ${how}` : how;
}
