// One writer per state folder (issue 15, item 1). A broker that is alive but not answering (stopped
// with SIGSTOP) still owns its folder: a second broker refuses to start and names it, a client waits
// and then says it is not answering, and no sequence of stalls, kill -9s, restarts and racing starts
// (by hand and by the CLI) ever leaves two brokers writing the same folder. Writers are counted from
// the outside: every broker logs "broker listening" with its pid, and a writer is such a pid still alive.
// Afterwards every acknowledged message is in the inbox exactly once.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { after, describe, it } from "node:test";
import { BrokerApi } from "../../src/client/api.js";
import { discover } from "../../src/client/discover.js";
import { DiscoveryError } from "../../src/client/errors.js";
import { brokerPaths } from "../../src/platform/paths.js";
import { pidAlive } from "../../src/platform/process.js";
import { CLI_ENTRY, spawnBrokerProcess, startBroker, tempHome, waitForHealthy } from "../support/broker.js";
import { makeRng, runSeed, SOAK, summary, Tally } from "../support/faults.js";
import { sleep, waitFor, within } from "../support/wait.js";

const ROUNDS = SOAK ? 40 : 8;
const ACTIONS = ["stall", "kill", "restart"] as const;

/** Pids that logged "broker listening" for this home and are still alive: the folder's writers. */
async function liveWriters(home: string): Promise<number[]> {
  let text = "";
  try {
    text = await readFile(brokerPaths(home).logFile, "utf8");
  } catch {
    return [];
  }
  const pids = new Set<number>();
  for (const line of text.split("\n")) {
    if (!line.includes('"broker listening"')) continue;
    try {
      pids.add((JSON.parse(line) as { pid: number }).pid);
    } catch {
      // a line torn by kill -9
    }
  }
  return [...pids].filter((pid) => pidAlive(pid));
}

/** Every broker this home ever had, continued and killed: the CLI starts some detached. */
async function killAll(home: string): Promise<void> {
  for (const pid of await liveWriters(home)) {
    try {
      process.kill(pid, "SIGCONT");
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  await waitFor(async () => (await liveWriters(home)).length === 0, 10_000, "every broker of the home to be gone");
}

function runCli(home: string, args: string[]): Promise<{ code: number | null; out: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [CLI_ENTRY, ...args], { env: { ...process.env, SWITCHBOARD_HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  return new Promise((resolve) => proc.once("exit", (code) => resolve({ code, out, proc })));
}

/** A racing broker is done when it exited (refused) or became the folder's writer. */
async function settled(home: string, proc: ChildProcess): Promise<void> {
  await waitFor(async () => proc.exitCode !== null || proc.signalCode !== null || (await liveWriters(home)).includes(proc.pid!), 20_000, `racing broker ${proc.pid} to settle`);
}

function exitOf(proc: ChildProcess): Promise<{ code: number | null; err: string }> {
  let err = "";
  proc.stderr!.removeAllListeners("data");
  proc.stderr!.on("data", (d) => (err += d));
  return new Promise((resolve) => {
    if (proc.exitCode !== null) resolve({ code: proc.exitCode, err });
    else proc.once("exit", (code) => resolve({ code, err }));
  });
}

describe("one writer per state folder", () => {
  const homes: { home: string; cleanup(): Promise<void> }[] = [];
  after(async () => {
    for (const h of homes) {
      await killAll(h.home).catch(() => {});
      await h.cleanup();
    }
  });

  it("while the broker is stopped for 5 s, a second broker refuses naming its pid, a client says it is not answering, and a CLI command never starts another", async () => {
    const h = await tempHome("sb-split-");
    homes.push(h);
    const b = await startBroker(h.home);
    const pid = b.proc.pid!;
    const first = (await b.api.ingress({ from: "test", content: "before the stop" })).messageId;
    b.proc.kill("SIGSTOP");
    try {
      const stoppedAt = Date.now();
      const cli = runCli(h.home, ["status"]);
      const second = spawnBrokerProcess(h.home);
      const refused = await within(exitOf(second), 15_000, "the second broker to exit");
      assert.equal(refused.code, 1, `the second broker refuses to start: ${refused.err}`);
      assert.match(refused.err, new RegExp(`pid ${pid}\\b`), "…and names the pid that holds the folder");
      const client = await discover({ home: h.home, spawn: true, timeoutMs: 1500 }).then(
        () => assert.fail("a stopped broker answered"),
        (e: unknown) => e,
      );
      assert.ok(client instanceof DiscoveryError && client.code === "unresponsive", `the client gives up with "unresponsive": ${String(client)}`);
      assert.match((client as Error).message, new RegExp(`the broker \\(pid ${pid}\\) is not answering`, "i"));
      assert.match((client as Error).message, new RegExp(`kill ${pid}`), "…and says what to do");
      assert.deepEqual(await liveWriters(h.home), [pid], "only the stopped broker is a writer");
      await sleep(Math.max(0, 5000 - (Date.now() - stoppedAt)));
      b.proc.kill("SIGCONT");
      const r = await within(cli, 20_000, "the CLI command");
      // It either waited long enough to see the broker back or gave up naming it; it never started one.
      if (r.code !== 0) assert.match(r.out, new RegExp(`pid ${pid}\\b.*not answering`, "i"), r.out);
      assert.deepEqual(await liveWriters(h.home), [pid], "still exactly one writer");
      const record = await waitForHealthy(h.home, pid);
      const api = new BrokerApi(record);
      const second2 = (await api.ingress({ from: "test", content: "after the stop" })).messageId;
      const inbox = (await api.undispatched(process.pid)).map((i) => i.id);
      assert.deepEqual(inbox, [first, second2]);
    } finally {
      b.proc.kill("SIGCONT");
      await b.stop();
    }
  });

  it("kill, stall and restart loops with racing starts never give two writers, and lose no acknowledged message", async () => {
    const seed = runSeed();
    const rng = makeRng(seed);
    const tally = new Tally();
    const h = await tempHome("sb-split-loop-");
    homes.push(h);
    const acked: string[] = [];
    let maxWriters = 0;
    const check = async (when: string) => {
      const w = await liveWriters(h.home);
      maxWriters = Math.max(maxWriters, w.length);
      assert.ok(w.length <= 1, `seed ${seed}: two writers ${when}: ${w.join(", ")}`);
    };
    const b = await startBroker(h.home);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const record = await waitForHealthy(h.home, undefined, 20_000);
        const pid = record.pid;
        acked.push((await new BrokerApi(record).ingress({ from: "loop", content: `round ${round}` })).messageId);
        const action = round < 3 ? ACTIONS[round]! : rng.pick(ACTIONS);
        tally.add(action);
        // Competitors: brokers started by hand and a CLI command that may start one itself.
        const racers = () => [settled(h.home, spawnBrokerProcess(h.home)), settled(h.home, spawnBrokerProcess(h.home)), runCli(h.home, ["status"])];
        if (action === "stall") {
          process.kill(pid, "SIGSTOP");
          const race = racers();
          // Long enough for a racer's health probes to give up on it (the bug took a few seconds).
          const until = Date.now() + rng.int(2500, 5000);
          while (Date.now() < until) {
            await check(`during a stall of ${pid}`);
            await sleep(100);
          }
          process.kill(pid, "SIGCONT");
          await Promise.all(race);
        } else {
          process.kill(pid, action === "kill" ? "SIGKILL" : "SIGTERM");
          await waitFor(() => !pidAlive(pid), 10_000, `broker ${pid} to exit`);
          await Promise.all(racers());
        }
        await check(`after a ${action}`);
      }
      const record = await waitForHealthy(h.home, undefined, 20_000);
      const api = new BrokerApi(record);
      const inbox = (await api.undispatched(process.pid)).map((i) => i.id);
      assert.deepEqual([...inbox].sort(), [...acked].sort(), `seed ${seed}: every acknowledged message is in the inbox exactly once`);
      summary({ suite: "faults/split-brain", seed, rounds: ROUNDS, actions: tally.counts, maxWriters, messages: acked.length });
    } finally {
      b.proc.kill("SIGCONT");
      await killAll(h.home);
    }
  });
});
