// Starts the real broker daemon (dist/broker.js, built by `npm run build`) as a child process on
// loopback, in a throwaway state folder, and cleans everything up afterwards.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BrokerApi } from "../../src/client/api.js";
import { brokerPaths } from "../../src/platform/paths.js";
import { probeHealth, readDiscovery } from "../../src/platform/discovery.js";
import type { DiscoveryRecord } from "../../src/protocol/index.js";
import { track } from "./children.js";
import { childEnv } from "./env.js";
import { BROKER_ENTRY, CLI_ENTRY, ROOT } from "./paths.js";

export { childEnv };

export { BROKER_ENTRY, CLI_ENTRY, ROOT };

export async function tempHome(prefix = "sb-test-"): Promise<{ home: string; cleanup(): Promise<void> }> {
  const home = await mkdtemp(join(tmpdir(), prefix));
  return { home, cleanup: () => rm(home, { recursive: true, force: true }) };
}

export interface TestBroker {
  home: string;
  record: DiscoveryRecord;
  proc: ChildProcess;
  api: BrokerApi;
  /** Graceful stop (SIGTERM); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** kill -9, no clean-up by the broker. */
  kill9(): Promise<void>;
  /** Start a new broker process on the same home (after stop or kill9), under the same shell options. */
  restart(extraEnv?: NodeJS.ProcessEnv): Promise<TestBroker>;
}

export interface BrokerProcessOptions {
  /**
   * Shell commands run before the broker replaces the shell (`sh -c '<shell> && exec node broker.js'`,
   * same pid): limits a test needs the broker to start under, e.g. `umask 000` or `ulimit -n 256`.
   */
  shell?: string;
}

export function spawnBrokerProcess(home: string, env: NodeJS.ProcessEnv = {}, args: string[] = [], o: BrokerProcessOptions = {}): ChildProcess {
  const argv = [BROKER_ENTRY, ...args];
  const [file, fileArgs] = o.shell ? ["/bin/sh", ["-c", `${o.shell} && exec "$0" "$@"`, process.execPath, ...argv]] : [process.execPath, argv];
  const proc = spawn(file, fileArgs, {
    env: childEnv({ SWITCHBOARD_HOME: home, ...env }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  void track(proc);
  proc.stdout!.resume();
  proc.stderr!.resume();
  return proc;
}

export async function waitForHealthy(home: string, pid?: number, timeoutMs = 10_000): Promise<DiscoveryRecord> {
  const file = brokerPaths(home).discoveryFile;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const read = await readDiscovery(file).catch(() => undefined);
    if (read?.kind === "ok" && (pid === undefined || read.record.pid === pid) && (await probeHealth(read.record.ipcUrl, 500))) return read.record;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`broker in ${home} did not become healthy within ${timeoutMs} ms`);
}

export async function startBroker(home: string, env: NodeJS.ProcessEnv = {}, o: BrokerProcessOptions = {}): Promise<TestBroker> {
  const proc = spawnBrokerProcess(home, env, [], o);
  const record = await waitForHealthy(home, proc.pid);
  const exited = track(proc).then((e) => e.code);
  return {
    home,
    record,
    proc,
    api: new BrokerApi(record),
    async stop() {
      proc.kill("SIGTERM");
      return exited;
    },
    async kill9() {
      proc.kill("SIGKILL");
      await exited;
    },
    restart: (extraEnv = {}) => startBroker(home, { ...env, ...extraEnv }, o),
  };
}

export interface TempBroker extends TestBroker {
  /** Stops the broker (if it still runs) and removes its home. */
  cleanup(): Promise<void>;
}

/** startBroker in a fresh tempHome: a suite's before() and after() in one line each. */
export async function startTempBroker(o: { prefix?: string; env?: NodeJS.ProcessEnv } = {}): Promise<TempBroker> {
  const home = await tempHome(o.prefix);
  try {
    const b = await startBroker(home.home, o.env);
    return {
      ...b,
      async cleanup() {
        if (b.proc.exitCode === null && b.proc.signalCode === null) await b.stop();
        await home.cleanup();
      },
    };
  } catch (err) {
    await home.cleanup();
    throw err;
  }
}

/** The text replayed chunks hold on `channel` (1 stdout, 2 stderr), in order. */
export function outputOf(chunks: ReadonlyArray<{ channel: number; data: string }>, channel: number): string {
  return chunks
    .filter((c) => c.channel === channel)
    .map((c) => c.data)
    .join("");
}
