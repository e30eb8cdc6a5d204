// What every bench does on its way out, whichever way that is (done, failed, Ctrl+C): kill the
// children it started and remove its temporary folder, so nothing outlives a run.
import { existsSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killAllSync, liveChildren } from "./procs.js";
import { machineInfo } from "./machine.js";
import { BROKER_ENTRY, ROOT } from "./servers.js";

export interface BenchLife {
  /** The run's temporary folder, once made; removed by cleanup(). */
  tmp: string | undefined;
  log(msg: string): void;
  /** Prints the error, cleans up and exits 1. */
  fail(msg: string): never;
  cleanup(): void;
  /** After a run: kills children still alive and removes the temporary folder. */
  release(): Promise<void>;
  /** Writes the report to .bench-out/NAME.json and stdout, and says so on stderr. */
  publish(name: string, result: { duration_s?: number; summary?: { passed: number; targeted: number } }): Promise<void>;
  /**
   * The start of a broker bench: dist/broker.js must be built, a watchdog fails the run after `watchdogMs`
   * (clear it when done), and a temporary folder (`tmp`, removed by cleanup) is made under `tmpPrefix`.
   */
  begin(tmpPrefix: string, watchdogMs: number): Promise<{ tmp: string; machine: ReturnType<typeof machineInfo>; watchdog: NodeJS.Timeout }>;
  /** Runs the bench's main and exits with 0, or fails with its error (also when it outlasts `watchdogMs`). */
  run(main: () => Promise<void>, watchdogMs?: number): void;
}

export function benchLife(tag: string): BenchLife {
  const life: BenchLife = {
    tmp: undefined,
    log: (msg) => void process.stderr.write(`[${tag}] ${msg}\n`),
    cleanup() {
      killAllSync();
      if (life.tmp) rmSync(life.tmp, { recursive: true, force: true, maxRetries: 3 });
      life.tmp = undefined;
    },
    fail(msg) {
      process.stderr.write(`[${tag}] error: ${msg}\n`);
      life.cleanup();
      process.exit(1);
    },
    async release() {
      if (liveChildren() > 0) killAllSync();
      if (life.tmp) await rm(life.tmp, { recursive: true, force: true }).catch(() => {});
      life.tmp = undefined;
    },
    async publish(name, result) {
      const text = JSON.stringify(result, null, 2);
      const dir = join(ROOT, ".bench-out");
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `${name}.json`), text + "\n");
      process.stdout.write(text + "\n");
      const targets = result.summary ? `; ${result.summary.passed}/${result.summary.targeted} targets met` : "";
      life.log(`done${result.duration_s === undefined ? "" : ` in ${result.duration_s} s`}${targets}; wrote .bench-out/${name}.json`);
    },
    async begin(tmpPrefix, watchdogMs) {
      if (!existsSync(BROKER_ENTRY)) life.fail(`${BROKER_ENTRY} is missing; run \`npm run build\` first`);
      const watchdog = setTimeout(() => life.fail(`watchdog: the bench took longer than ${watchdogMs / 1000} s`), watchdogMs);
      life.tmp = await mkdtemp(join(tmpdir(), tmpPrefix));
      return { tmp: life.tmp, machine: machineInfo(ROOT, BROKER_ENTRY), watchdog };
    },
    run(main, watchdogMs) {
      if (watchdogMs) setTimeout(() => life.fail(`watchdog: giving up after ${watchdogMs / 60_000} minutes`), watchdogMs).unref();
      main().then(
        () => process.exit(0),
        (err: unknown) => life.fail(String((err as Error)?.stack ?? err)),
      );
    },
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.on(sig, () => {
      life.log(`${sig}: killing children`);
      life.cleanup();
      process.exit(130);
    });
  return life;
}
