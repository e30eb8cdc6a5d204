// The supervisor of an approved command dies by SIGKILL (issue 15, item 7): the command's process group
// must not keep running unsupervised. Checked with the exec layer alone (a Node process that runs a
// command and is killed) and end to end with `switchboard run` against a real broker: the command and
// a background grandchild in its group are gone soon after the kill. Also: a command that ends normally
// leaves no watchdog behind, and the watchdog never signals a group that already ended.
//
//   npm run build && node --import tsx --test --test-reporter=spec test/faults/supervisor.test.ts
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { execCommand } from "../../src/exec/index.js";
import { pidAlive } from "../../src/platform/process.js";
import { CLI_ENTRY, ROOT, startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { SOAK, summary } from "../support/faults.js";
import { waitFor } from "../support/wait.js";
import assert from "node:assert/strict";

const ROUNDS = SOAK ? 10 : 2;
const leftovers = new Set<number>();
const homes: Awaited<ReturnType<typeof tempHome>>[] = [];
const figures: Record<string, number[]> = { exec_gone_ms: [], run_gone_ms: [] };

/** The command: writes its own pid and a background grandchild's pid, then waits for ever. */
function command(dir: string): string {
  return `sleep 1000 & echo $! > '${join(dir, "grandchild")}'; echo $$ > '${join(dir, "leader")}'; wait`;
}

async function pids(dir: string): Promise<number[]> {
  return waitFor(
    async () => {
      const read = async (f: string) => Number((await readFile(join(dir, f), "utf8").catch(() => "")).trim()) || undefined;
      const [a, b] = [await read("leader"), await read("grandchild")];
      return a && b ? [a, b] : undefined;
    },
    20_000,
    "the command to write its pids",
  );
}

async function goneWithin(ps: number[], what: string): Promise<number> {
  for (const p of ps) leftovers.add(p);
  const t0 = performance.now();
  await waitFor(() => ps.every((p) => !pidAlive(p)) || undefined, 15_000, `${what}: the command's group to stop (pids ${ps.join(", ")})`);
  for (const p of ps) leftovers.delete(p);
  return Math.round(performance.now() - t0);
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once("exit", () => r()));
}

describe("faults/supervisor: an approved command does not outlive its supervisor", () => {
  let b: TestBroker | undefined;
  after(async () => {
    for (const p of leftovers) {
      try {
        process.kill(p, "SIGKILL");
      } catch {}
    }
    await b?.stop();
    for (const h of homes) await h.cleanup();
    summary({ suite: "faults/supervisor", rounds: ROUNDS, ...Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, v])) });
  });

  it("exec: a host killed with SIGKILL takes its command's whole group with it", async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const h = await tempHome("sb-fault-sup-");
      homes.push(h);
      // A host process that runs the command through execCommand, as every adapter does.
      const host = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          "-e",
          `import("${join(ROOT, "src/exec/index.ts")}").then(({ execCommand }) => { execCommand({ command: process.argv[1], cwd: process.argv[2] }); setInterval(() => {}, 1000); })`,
          command(h.home),
          h.home,
        ],
        {
          stdio: "ignore",
          cwd: ROOT,
        },
      );
      const ps = await pids(h.home);
      assert.ok(ps.every(pidAlive), "the command runs");
      host.kill("SIGKILL");
      await exited(host);
      figures.exec_gone_ms!.push(await goneWithin(ps, "exec"));
    }
  });

  it("switchboard run: killed with SIGKILL after approval, its command's group stops", async () => {
    const h = await tempHome("sb-fault-sup-run-");
    homes.push(h);
    b = await startBroker(h.home);
    for (let round = 0; round < ROUNDS; round++) {
      const dir = join(h.home, `round-${round}`);
      await mkdir(dir);
      const cli = spawn(process.execPath, [CLI_ENTRY, "run", "--", "sh", "-c", command(dir)], { env: { ...process.env, SWITCHBOARD_HOME: h.home }, stdio: "ignore", cwd: dir });
      const approval = await waitFor(async () => (await b!.api.approvals("pending")).find((a) => a.cwd === dir), 20_000, "the run's approval request");
      await b.api.decide(approval.approval_id, { decision: "approve", decided_by: "test" });
      const ps = await pids(dir);
      cli.kill("SIGKILL");
      await exited(cli);
      figures.run_gone_ms!.push(await goneWithin(ps, "switchboard run"));
    }
  });

  it("a command that ends normally (or is stopped) leaves no watchdog behind", { skip: process.platform !== "linux" ? "reads /proc" : false }, async () => {
    const before = watchdogs();
    const h = execCommand({ command: "true" });
    await h.done;
    await waitFor(() => watchdogs().length <= before.length || undefined, 10_000, "the watchdog to exit after a normal end");
    // Stopped by us: the group is gone, the watchdog released too.
    const s = execCommand({ command: "sleep 1000" });
    await s.stop("test");
    await waitFor(() => watchdogs().length <= before.length || undefined, 10_000, "the watchdog to exit after stop()");
  });
});

/** Pids of the watchdogs running now (`switchboard-watchdog` is their $0). */
function watchdogs(): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8");
      if (cmd.includes("switchboard-watchdog")) out.push(Number(name));
    } catch {}
  }
  return out;
}
