// Clock jumps and slow disks, with the broker's injectable clock (src/broker/clock.ts) and its
// journal's slow-sync hook, on a broker running in this process (startDaemon) and spoken to over
// real HTTP and WebSocket.
//   - Approval timeouts and the reconnect grace run on monotonic time: stepping the wall clock
//     forward or back by days neither fires them early nor holds them.
//   - Across a restart only wall time exists: a pending approval then waits at most its own timeout
//     (a clock set back does not keep it for days), and expires at once if its deadline passed.
//   - Waits longer than setTimeout's 24.8-day limit wait their full length.
//   - A slow disk (every fdatasync delayed or held) delays acknowledgements but never reorders or
//     loses them; pushes still go out early; a repeated request is not acknowledged before the
//     original is durable.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it, mock } from "node:test";
import { remainingAfterRestart } from "../../src/broker/approvals.js";
import { systemClock } from "../../src/broker/clock.js";
import type { DaemonOptions } from "../../src/broker/daemon.js";
import { Journal } from "../../src/broker/journal.js";
import { tempHome } from "../support/broker.js";
import { ManualClock } from "../support/clock.js";
import { type InProcessBroker, startInProcessBroker } from "../support/in-process-broker.js";
import { makeRng, runSeed, SOAK, summary } from "../support/faults.js";
import { sleep, waitFor, within } from "../support/wait.js";
import { openStream } from "../support/ws.js";

const DAY = 24 * 3600_000;

describe("faults: clock jumps and slow disks", () => {
  const homes: Array<{ cleanup(): Promise<void> }> = [];
  const running = new Set<InProcessBroker>();
  const report: Record<string, unknown> = { suite: "faults/clock" };
  after(async () => {
    for (const b of running) await b.stop();
    for (const h of homes) await h.cleanup();
    summary(report);
  });

  async function home(): Promise<string> {
    const h = await tempHome("sb-clock-");
    homes.push(h);
    return h.home;
  }

  async function start(h: string, opts: Partial<DaemonOptions>): Promise<InProcessBroker> {
    const b = await startInProcessBroker({ home: h, ...opts });
    running.add(b);
    return b;
  }

  async function stop(b: InProcessBroker): Promise<void> {
    await b.stop();
    running.delete(b);
  }

  it("an approval's timeout runs on monotonic time: wall-clock steps of days neither expire it early nor hold it", async () => {
    const clock = new ManualClock();
    const b = await start(await home(), { clock });
    const owner = await openStream(b.daemon.record, process.pid);
    const ep = (await b.api.register({ plugin_pid: process.pid, kind: "fault" })).endpoint_id;
    const a = await b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: "ten seconds", timeout_ms: 10_000 });
    const state = async () => (await b.api.approval(a.approval_id)).state;

    clock.jumpWall(2 * DAY); // its expires_at is now two days in the past, by the wall clock
    clock.advance(1);
    assert.equal(await state(), "pending", "a wall clock stepped forward does not expire it");
    clock.jumpWall(-5 * DAY);
    clock.advance(9_998);
    assert.equal(await state(), "pending", "nor does one stepped back hold it: 9.999 s have passed");
    clock.advance(1);
    const expired = await b.api.approval(a.approval_id);
    assert.equal(expired.state, "expired", "expired after exactly 10 s of monotonic time");
    assert.equal(expired.expires_at, a.expires_at, "the displayed deadline is what was promised");
    await owner.close();
    await stop(b);
  });

  it("the reconnect grace runs on monotonic time: wall-clock steps of weeks neither close the endpoint early nor keep it", async () => {
    const clock = new ManualClock();
    const b = await start(await home(), { clock, config: { graceMs: 5000 } });
    const owner = await openStream(b.daemon.record, process.pid);
    const ep = (await b.api.register({ plugin_pid: process.pid, kind: "fault" })).endpoint_id;
    await owner.close(); // the owner lives (it is this process): the endpoint waits for a reattach
    const state = async () => (await b.api.endpoints()).find((e) => e.endpoint_id === ep)?.state;
    await waitFor(async () => (await state()) === "reconnecting", 5000, "the endpoint to reconnect");

    clock.jumpWall(30 * DAY);
    clock.advance(0);
    assert.equal(await state(), "reconnecting");
    clock.jumpWall(-60 * DAY);
    clock.advance(4999);
    assert.equal(await state(), "reconnecting", "4.999 s of grace have passed");
    clock.advance(1);
    assert.equal(await state(), undefined, "closed after exactly 5 s");
    await stop(b);
  });

  it("after a restart a pending approval waits at most its own timeout, whatever the wall clock did meanwhile", async () => {
    // The rule, at the edges.
    const a = { created_at: new Date(1_000_000).toISOString(), expires_at: new Date(1_060_000).toISOString() };
    assert.equal(remainingAfterRestart(a, 1_010_000), 50_000, "normal downtime: what is left");
    assert.equal(remainingAfterRestart(a, 1_000_000 - 30 * DAY), 60_000, "clock set back: at most the whole timeout");
    assert.equal(remainingAfterRestart(a, 1_000_000 + DAY), 0, "deadline passed: at once");

    const h = await home();
    const T = Date.now();
    const c1 = new ManualClock(T);
    let b = await start(h, { clock: c1 });
    const owner = await openStream(b.daemon.record, process.pid);
    const ep = (await b.api.register({ plugin_pid: process.pid, kind: "fault" })).endpoint_id;
    const back = (await b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: "clock set back", timeout_ms: 60_000 })).approval_id;
    const normal = (await b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: "normal", timeout_ms: 60_000 })).approval_id;
    await owner.close();
    await stop(b);

    // Down for 10 s by the wall clock: `normal` has 50 s left.
    const c2 = new ManualClock(T + 10_000);
    b = await start(h, { clock: c2 });
    c2.advance(49_999);
    assert.equal((await b.api.approval(normal)).state, "pending");
    c2.advance(1);
    assert.equal((await b.api.approval(normal)).state, "expired");
    assert.equal((await b.api.approval(back)).state, "expired", "the other one too, by the same clock");
    await stop(b);

    // A clock set back 30 days while the broker was down must not keep an approval for 30 days.
    const h2 = await home();
    const d1 = new ManualClock(T);
    b = await start(h2, { clock: d1 });
    const o2 = await openStream(b.daemon.record, process.pid);
    const ep2 = (await b.api.register({ plugin_pid: process.pid, kind: "fault" })).endpoint_id;
    const held = (await b.api.requestApproval({ endpoint_id: ep2, action: "sh", summary: "held?", timeout_ms: 60_000 })).approval_id;
    const forward = (await b.api.requestApproval({ endpoint_id: ep2, action: "sh", summary: "forward", timeout_ms: 60_000 })).approval_id;
    await o2.close();
    await stop(b);
    const d2 = new ManualClock(T - 30 * DAY);
    b = await start(h2, { clock: d2 });
    d2.advance(59_999);
    assert.equal((await b.api.approval(held)).state, "pending");
    d2.advance(1);
    assert.equal((await b.api.approval(held)).state, "expired", "expired within its own 60 s, not 30 days later");
    assert.equal((await b.api.approval(forward)).state, "expired");
    await stop(b);

    // A clock set forward past the deadline: expired at start.
    const h3 = await home();
    const e1 = new ManualClock(T);
    b = await start(h3, { clock: e1 });
    const o3 = await openStream(b.daemon.record, process.pid);
    const ep3 = (await b.api.register({ plugin_pid: process.pid, kind: "fault" })).endpoint_id;
    const late = (await b.api.requestApproval({ endpoint_id: ep3, action: "sh", summary: "late", timeout_ms: 60_000 })).approval_id;
    await o3.close();
    await stop(b);
    const e2 = new ManualClock(T + DAY);
    b = await start(h3, { clock: e2 });
    e2.advance(0);
    assert.equal((await b.api.approval(late)).state, "expired");
    await stop(b);
  });

  it("a wait longer than setTimeout's 24.8-day limit waits its full length", () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      let fired = false;
      systemClock.after(30 * DAY, () => (fired = true));
      mock.timers.tick(2 ** 31); // where a bare setTimeout would already have fired (at once, in fact)
      assert.equal(fired, false);
      mock.timers.tick(30 * DAY - 2 ** 31 - 1000);
      assert.equal(fired, false, "not a second early");
      mock.timers.tick(2000);
      assert.equal(fired, true);
      let cancelled = false;
      const cancel = systemClock.after(30 * DAY, () => (cancelled = true));
      mock.timers.tick(2 ** 31);
      cancel(); // after the first leg: the second must not fire either
      mock.timers.tick(30 * DAY);
      assert.equal(cancelled, false);
    } finally {
      mock.timers.reset();
    }
  });

  it("a slow journal disk delays each acknowledgement until its record is written, in order, and loses nothing", async () => {
    const seed = runSeed();
    const rand = makeRng(seed);
    const dir = join(await home(), "j");
    let syncs = 0;
    const { journal } = await Journal.open<unknown, { i: number }>({
      dir,
      log: () => {},
      beforeSync: async () => {
        syncs++;
        await sleep(rand.int(0, 25));
      },
    });
    const N = SOAK ? 4000 : 400;
    const resolved: number[] = [];
    const problems: string[] = [];
    const segment = () => join(dir, readdirSync(dir).find((f) => f.startsWith("log-"))!);
    const pending: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      pending.push(
        journal.append({ i }).then(() => {
          resolved.push(i);
          if (!readFileSync(segment(), "utf8").includes(`"r":{"i":${i}}`)) problems.push(`record ${i} acknowledged before it was written`);
        }),
      );
      if (rand.chance(0.1)) await sleep(rand.int(0, 8));
    }
    await Promise.all(pending);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      resolved,
      Array.from({ length: N }, (_, i) => i),
      "acknowledged in the order appended",
    );
    assert.ok(journal.stats.batches < N / 4, `group commit under a slow disk: ${journal.stats.batches} syncs for ${N} records`);
    await journal.close();
    const { journal: again, recovered } = await Journal.open<unknown, { i: number }>({ dir, log: () => {} });
    await again.close();
    assert.deepEqual(
      recovered.records.map((r) => r.i),
      Array.from({ length: N }, (_, i) => i),
    );
    Object.assign(report, { slow_journal_seed: seed, slow_journal_records: N, slow_journal_syncs: syncs });
  });

  it("a held fdatasync: the broker answers nothing before it, pushes go out early and in order, and a repeated request waits for the original", { timeout: 30_000 }, async () => {
    let release: (() => void) | undefined;
    let held: Promise<void> | undefined;
    const hold = () => (held = new Promise<void>((r) => (release = r)));
    const letGo = () => {
      held = undefined;
      release?.();
    };
    const h = await home();
    const b = await start(h, { journal: { beforeSync: () => held ?? Promise.resolve() } });
    const owner = await openStream(b.daemon.record, process.pid);
    const ep = (await b.api.register({ plugin_pid: process.pid, kind: "fault" })).endpoint_id;
    const stream = await b.api.startStream({ endpoint_id: ep, action: "sh", command: "make" });
    const approval = await b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: "slow", idempotency_key: "k" });

    hold();
    const answered: string[] = [];
    const track = <T>(name: string, p: Promise<T>) => {
      const t = p.then((v) => (answered.push(name), v));
      t.catch(() => {}); // awaited below; a failed test must not leave unhandled rejections
      return t;
    };
    const sends = [0, 1, 2, 3, 4].map((i) => track(`send ${i}`, b.api.ingress({ from: "slow", content: `m${i}`, metadata: { target_endpoint_id: ep } })));
    const complete1 = track("complete", b.api.completeStream(stream.stream_id, { exit_code: 0 }, process.pid));
    const decide1 = track("decide", b.api.decide(approval.approval_id, { decision: "approve", decided_by: "slow" }));
    await sleep(100);
    // Repeats of requests whose originals are not durable yet: answering them would acknowledge early.
    const complete2 = track("complete again", b.api.completeStream(stream.stream_id, { exit_code: 0 }, process.pid));
    const decide2 = track("decide again", b.api.decide(approval.approval_id, { decision: "approve", decided_by: "slow" }));
    const ask2 = track("ask again", b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: "slow", idempotency_key: "k" }));
    // Pushes are not held back by the disk.
    const pushed = await within(
      Promise.all([0, 1, 2, 3, 4].map((i) => owner.next((f) => f.event === "message_received" && f.content === `m${i}`))),
      5000,
      "the pushes, before the sync",
    );
    await sleep(300);
    assert.deepEqual(answered, [], "nothing is acknowledged while the sync is held");

    letGo();
    const results = await within(Promise.all(sends), 5000, "the sends after the sync");
    assert.deepEqual(
      pushed.map((f) => f.sourceMessageId),
      results.map((r) => r.messageId),
      "pushed in the order accepted",
    );
    assert.equal((await complete1).state, "completed");
    assert.equal((await complete2).state, "completed");
    assert.equal((await decide1).state, "approved");
    assert.equal((await decide2).state, "approved");
    assert.equal((await ask2).approval_id, approval.approval_id);
    // On disk in the order they were accepted.
    const journalDir = join(h, "broker", "journal");
    const lines = (
      await Promise.all(
        (
          await readdir(journalDir)
        )
          .filter((f) => f.startsWith("log-"))
          .sort()
          .map((f) => readFile(join(journalDir, f), "utf8")),
      )
    ).join("");
    const order = [...lines.matchAll(/"t":"q_add".*?"message_id":"(msg_[^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(
      order.slice(-5),
      results.map((r) => r.messageId),
      "journaled in the order accepted",
    );
    await owner.close();
    await stop(b);

    // Nothing was lost or reordered on disk.
    const b2 = await start(h, {});
    const again = await b2.api.endpoints();
    assert.deepEqual(
      again.map((e) => [e.endpoint_id, e.buffered_count]),
      [[ep, 0]],
    );
    assert.equal((await b2.api.approval(approval.approval_id)).state, "approved");
    assert.equal((await b2.api.replayStream(stream.stream_id)).stream.state, "completed");
    await stop(b2);
    report.held_sync = "no answer before the sync; pushes early and in order";
  });
});
