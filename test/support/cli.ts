// The `switchboard` CLI (dist/cli.js) as a user runs it against the broker of a throwaway home.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { childEnv } from "./env.js";
import { CLI_ENTRY } from "./paths.js";

export interface CliResult {
  /** The exit code (null if it was killed: see timeoutMs). */
  code: number;
  stdout: string;
  stderr: string;
}

const exec = promisify(execFile);

/**
 * `node dist/cli.js ARGS…` with SWITCHBOARD_HOME=home, run to its end (killed after `timeoutMs`). A non-zero
 * exit is a result, not an error: tests check the code and the sentence.
 */
export async function runCli(home: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  try {
    const r = await exec(process.execPath, [CLI_ENTRY, ...args], { cwd: o.cwd, env: childEnv({ SWITCHBOARD_HOME: home, ...o.env }), timeout: o.timeoutMs ?? 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout?: string; stderr?: string };
    return { code: err.code, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}
