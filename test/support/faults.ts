// Shared pieces of the fault suites (test/faults): soak switch, seeded randomness, stand-in owner
// processes and error classification; the soak switch and summary line are in soak.ts (re-exported).
import { spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { BrokerError, BrokerUnreachableError } from "../../src/client/errors.js";

export { SOAK, summary, Tally } from "./soak.js";

export interface Rng {
  (): number; // [0, 1)
  int(lo: number, hi: number): number; // lo..hi inclusive
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: small, fast, good enough to pick test actions; the same seed replays the same choices. */
export function makeRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (() => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as Rng;
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  next.pick = (items) => items[Math.floor(next() * items.length)]!;
  next.chance = (p) => next() < p;
  return next;
}

/** The seed of this run: SWITCHBOARD_FAULT_SEED if set (to replay a failure), else a fresh one. */
export function runSeed(): number {
  const fixed = process.env.SWITCHBOARD_FAULT_SEED;
  return fixed ? Number(fixed) >>> 0 : randomInt(2 ** 31);
}

/**
 * Processes that stand in for endpoint owners (the broker only checks that an owner pid is alive).
 * Killing one is "the agent died". Every one is killed at the end, also on failure.
 */
export class Owners {
  private readonly procs = new Map<number, ChildProcess>();

  spawn(): number {
    const p = spawn("sleep", ["600"], { stdio: "ignore" });
    this.procs.set(p.pid!, p);
    return p.pid!;
  }

  async kill(pid: number): Promise<void> {
    const p = this.procs.get(pid);
    if (!p) return;
    this.procs.delete(pid);
    if (p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await gone; // reaped: the broker's pid check now sees it gone
  }

  async killAll(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((pid) => this.kill(pid)));
  }
}

/** How a request ended, for a client that must tell "refused" from "no answer". */
export type Outcome = "unreachable" | `refused:${string}`;

export function outcomeOf(err: unknown): Outcome {
  if (err instanceof BrokerUnreachableError) return "unreachable";
  // A cut-off answer (the broker died mid-response) is no answer either.
  if (err instanceof BrokerError) return err.code === "invalid_response" ? "unreachable" : `refused:${err.code}`;
  throw err; // a bug in the test itself
}
