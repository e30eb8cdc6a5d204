// What every bench does on its way out, whichever way that is (done, failed, Ctrl+C): kill the
// children it started and remove its temporary folder, so nothing outlives a run.
import { rmSync } from "node:fs";
import { killAllSync } from "./procs.js";

export interface BenchLife {
  /** The run's temporary folder, once made; removed by cleanup(). */
  tmp: string | undefined;
  log(msg: string): void;
  /** Prints the error, cleans up and exits 1. */
  fail(msg: string): never;
  cleanup(): void;
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
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.on(sig, () => {
      life.log(`${sig}: killing children`);
      life.cleanup();
      process.exit(130);
    });
  return life;
}
