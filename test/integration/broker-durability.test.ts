// Single instance, signals, and durability across kill -9, against real broker processes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { access, writeFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { brokerPaths } from "../../src/platform/paths.js";
import { pidAlive } from "../support/process.js";
import { spawnBrokerProcess, startBroker, tempHome, waitForHealthy } from "../support/broker.js";
import { waitFor } from "../support/wait.js";
import { openStream } from "../support/ws.js";

const exitOf = (p: ReturnType<typeof spawnBrokerProcess>) => new Promise<number | null>((r) => (p.exitCode !== null ? r(p.exitCode) : p.once("exit", (c) => r(c))));

function sleeper() {
  const p = spawn("sleep", ["60"], { stdio: "ignore" });
  return { pid: p.pid!, kill: () => p.kill("SIGKILL") };
}

describe("broker lifecycle and durability", () => {
  it("six daemons started at once in one home yield exactly one broker; the others exit 0", async () => {
    const { home, cleanup } = await tempHome();
    const procs = Array.from({ length: 6 }, () => spawnBrokerProcess(home));
    try {
      const record = await waitForHealthy(home);
      const losers = procs.filter((p) => p.pid !== record.pid);
      assert.equal(losers.length, 5, "the discovery record names one of the six");
      assert.deepEqual(await Promise.all(losers.map(exitOf)), [0, 0, 0, 0, 0]);
      assert.ok(pidAlive(record.pid));
    } finally {
      for (const p of procs) p.kill("SIGKILL");
      await cleanup();
    }
  });

  it("SIGTERM exits 0 and deletes the discovery file; a stale record of a dead broker is replaced", async () => {
    const { home, cleanup } = await tempHome();
    try {
      const b = await startBroker(home);
      assert.equal(await b.stop(), 0);
      const file = brokerPaths(home).discoveryFile;
      await assert.rejects(access(file), "discovery file removed on shutdown");

      // A record left by a broker that was killed (dead pid, nothing listening) must not block a new one.
      const dead = sleeper();
      dead.kill();
      await writeFile(file, JSON.stringify({ version: 1, pid: dead.pid, startedAt: new Date().toISOString(), ipcUrl: "http://127.0.0.1:9", bearerToken: "x".repeat(43) }), {
        mode: 0o600,
      });
      const b2 = await startBroker(home);
      assert.notEqual(b2.record.ipcUrl, "http://127.0.0.1:9");
      assert.equal(b2.record.pid, b2.proc.pid);
      await b2.stop();
    } finally {
      await cleanup();
    }
  });

  it("every acknowledged message survives kill -9 with the same ids; endpoints come back reconnecting and reattach", async () => {
    const { home, cleanup } = await tempHome();
    const owner = sleeper();
    let b = await startBroker(home);
    try {
      let s = await openStream(b.record, owner.pid);
      const ep = await b.api.register({ plugin_pid: owner.pid, kind: "pi", session_name: "durable" });
      await s.close();
      // 200 inbox messages and 50 buffered for the reconnecting endpoint, all in flight at once.
      const inbox = await Promise.all(Array.from({ length: 200 }, (_, i) => b.api.ingress({ from: "load", content: `inbox ${i}` })));
      const buffered: string[] = [];
      for (let i = 0; i < 50; i++) buffered.push((await b.api.ingress({ from: "load", content: `buf ${i}`, metadata: { target_endpoint_id: ep.endpoint_id } })).messageId);
      const dismissed = inbox[0]!.undispatched_id!;
      await b.api.dismiss(dismissed);

      await b.kill9();
      b = await b.restart();

      const items = await b.api.undispatched(process.pid);
      const ids = new Set(items.map((i) => i.id));
      for (const m of inbox.slice(1)) assert.ok(ids.has(m.undispatched_id!), `inbox item ${m.undispatched_id} survived`);
      assert.ok(!ids.has(dismissed), "a dismissal is durable too");
      const restored = (await b.api.endpoints()).find((e) => e.endpoint_id === ep.endpoint_id);
      assert.equal(restored?.state, "reconnecting");
      assert.equal(restored?.buffered_count, 50);

      s = await openStream(b.record, owner.pid);
      assert.equal((await b.api.reattach(ep.endpoint_id, owner.pid)).reconnecting_buffer_count, 50);
      const got: string[] = [];
      for (let i = 0; i < 50; i++) got.push((await s.next((f) => f.event === "message_received")).sourceMessageId);
      assert.deepEqual(got, buffered, "same ids, same order");
      await s.close();

      // A clean restart after a kill -9 keeps everything too (compaction on shutdown).
      assert.equal(await b.stop(), 0);
      b = await b.restart();
      assert.equal((await b.api.undispatched(process.pid)).length, 199);
    } finally {
      await b.stop();
      owner.kill();
      await cleanup();
    }
  });

  it("an owner that exits after its stream closed is noticed while reconnecting, long before the 10-minute grace", async () => {
    const { home, cleanup } = await tempHome();
    const b = await startBroker(home); // default grace: 10 minutes
    const owner = sleeper();
    try {
      const s = await openStream(b.record, owner.pid);
      const ep = await b.api.register({ plugin_pid: owner.pid, kind: "pi", session_name: "exiting" });
      await s.close();
      const state = async () => (await b.api.endpoints()).find((e) => e.endpoint_id === ep.endpoint_id)?.state;
      const holds = (probe: () => Promise<boolean>, ms: number, what: string) =>
        waitFor(probe, ms, what, 20).then(
          () => true,
          () => false,
        );
      await holds(async () => (await state()) === "reconnecting", 2000, "the endpoint to be reconnecting");
      assert.equal(await state(), "reconnecting", "the owner was alive when its stream closed");
      owner.kill();
      const gone = await holds(async () => (await state()) === undefined, 5000, "the endpoint to close");
      assert.ok(gone, "closed within 5 s of the owner exiting");
    } finally {
      owner.kill();
      await b.stop();
      await cleanup();
    }
  });

  it("a full inbox refuses with 503 inbox_full and keeps what it has", async () => {
    const { home, cleanup } = await tempHome();
    const b = await startBroker(home, { SWITCHBOARD_INBOX_MAX: "3" });
    try {
      for (let i = 0; i < 3; i++) await b.api.ingress({ from: "t", content: `m${i}` });
      await assert.rejects(b.api.ingress({ from: "t", content: "overflow" }), (e: any) => e.code === "inbox_full" && e.status === 503 && /route or dismiss/.test(e.message));
      assert.deepEqual(
        (await b.api.undispatched(process.pid)).map((i) => i.content),
        ["m0", "m1", "m2"],
      );
    } finally {
      await b.stop();
      await cleanup();
    }
  });

  it("idle exit, when enabled, stops a broker nobody uses", async () => {
    const { home, cleanup } = await tempHome();
    const b = await startBroker(home, { SWITCHBOARD_IDLE_EXIT_MINUTES: "0.02" });
    try {
      const code = await Promise.race([exitOf(b.proc), new Promise((r) => setTimeout(() => r("still running"), 8000))]);
      assert.equal(code, 0);
      await assert.rejects(access(brokerPaths(home).discoveryFile));
    } finally {
      b.proc.kill("SIGKILL");
      await cleanup();
    }
  });
});
