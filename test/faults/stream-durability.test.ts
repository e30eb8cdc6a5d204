// Stream output is durable before it is acknowledged (issue 15, item 2):
//   - a chunk answer waits for the fdatasync that covers it, and chunks arriving meanwhile share one
//     sync (group commit), checked in process with a disk whose syncs are held;
//   - acknowledged chunks survive kill -9 (rounds of big chunks, each killed right after its answer);
//   - after a crash a running stream's view (last_seq, bytes per channel) matches its replay, and a
//     late `complete` on the stream the restart aborted is refused with 409 and the stream's state.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { BrokerError } from "../../src/client/errors.js";
import { startBroker, tempHome } from "../support/broker.js";
import { get, post } from "../support/calls.js";
import { SOAK, summary } from "../support/faults.js";
import { startInProcessBroker } from "../support/in-process-broker.js";
import { sleep, within } from "../support/wait.js";
import { openStream } from "../support/ws.js";

const KILL_ROUNDS = SOAK ? 40 : 8;

describe("faults: stream output durable before acknowledged", () => {
  const report: Record<string, unknown> = { suite: "faults/stream-durability" };
  after(() => summary(report));

  it("a chunk answer waits for its fdatasync, and chunks arriving meanwhile share one sync", async () => {
    const home = await tempHome("sb-strdur-");
    let held: Promise<void> | undefined;
    let release: (() => void) | undefined;
    let syncs = 0;
    const b = await startInProcessBroker({ home: home.home, streamFiles: { beforeSync: () => (syncs++, held ?? Promise.resolve()) } });
    const api = b.api;
    const owner = await openStream(b.daemon.record, process.pid);
    try {
      const ep = (await api.register({ plugin_pid: process.pid, kind: "fault" })).endpoint_id;
      const s = await api.startStream({ endpoint_id: ep, action: "sh", command: "make" });
      held = new Promise<void>((res) => (release = res));
      const answered: number[] = [];
      const posts = Array.from({ length: 20 }, (_, i) =>
        api.appendChunks(s.stream_id, [{ channel: 1 + (i % 2), data: `line ${i}\n` }], process.pid).then((a) => (answered.push(i), a)),
      );
      await sleep(200);
      assert.deepEqual(answered, [], "no chunk is acknowledged while its sync is held");
      const before = syncs;
      held = undefined;
      release!();
      await within(Promise.all(posts), 10_000, "the chunk answers");
      assert.equal(answered.length, 20);
      const used = syncs - before + 1;
      assert.ok(used <= 3, `20 concurrent chunk posts shared their syncs (${used} syncs)`);
      report.group_commit = { posts: 20, syncs: used };
      const replay = await api.replayStream(s.stream_id);
      assert.equal(replay.chunks.length, 20);
    } finally {
      await owner.close();
      await b.stop();
      await home.cleanup();
    }
  });

  it("acknowledged chunks survive kill -9 right after their answer", async () => {
    const { home, cleanup } = await tempHome("sb-strkill-");
    let b = await startBroker(home);
    let lost = 0;
    try {
      const block = "y".repeat(900 * 1024);
      for (let round = 0; round < KILL_ROUNDS; round++) {
        const owner = await openStream(b.record, process.pid);
        const ep = (await b.api.register({ plugin_pid: process.pid, kind: "fault" })).endpoint_id;
        const s = await b.api.startStream({ endpoint_id: ep, action: "sh", command: `round ${round}` });
        const { last_seq } = await b.api.appendChunks(s.stream_id, [{ channel: 1, data: block }], process.pid);
        await b.kill9(); // at once: the answer must have waited for the disk
        await owner.close();
        b = await b.restart();
        const replay = await b.api.replayStream(s.stream_id);
        if (replay.chunks.at(-1)?.seq !== last_seq || replay.chunks.reduce((n, c) => n + c.data.length, 0) !== block.length) lost++;
      }
      report.kill_rounds = KILL_ROUNDS;
      report.lost = lost;
      assert.equal(lost, 0, `acknowledged output was lost in ${lost} of ${KILL_ROUNDS} rounds`);
    } finally {
      await b.stop();
      await cleanup();
    }
  });

  it("after kill -9 a running stream's view matches its replay, and a late complete gets 409 with its state", async () => {
    const { home, cleanup } = await tempHome("sb-strview-");
    let b = await startBroker(home);
    const owner = await openStream(b.record, process.pid);
    try {
      const ep = (await b.api.register({ plugin_pid: process.pid, kind: "fault" })).endpoint_id;
      const s = await b.api.startStream({ endpoint_id: ep, action: "sh", command: "build" });
      await b.api.appendChunks(
        s.stream_id,
        [
          { channel: 1, data: "out one\n" },
          { channel: 2, data: "err one\n" },
        ],
        process.pid,
      );
      await b.api.appendChunks(s.stream_id, [{ channel: 1, data: "out two, ü\n" }], process.pid);
      await b.kill9();
      b = await b.restart();
      const r = await get(b.api, `/v1/streams/${s.stream_id}`);
      assert.equal(r.stream.state, "aborted");
      const lastSeq = Math.max(...r.chunks.map((c: { seq: number }) => c.seq));
      assert.equal(r.stream.last_seq, lastSeq, "last_seq is the replay's last seq");
      const bytes: Record<string, number> = {};
      for (const c of r.chunks as { channel: number; data: string }[]) bytes[c.channel] = (bytes[c.channel] ?? 0) + Buffer.byteLength(c.data);
      assert.deepEqual(
        Object.fromEntries(Object.entries(r.stream.channels as Record<string, { bytes: number }>).map(([ch, v]) => [ch, v.bytes])),
        bytes,
        "the channels' byte counts are the replay's",
      );
      const listed = (await b.api.streams()).find((x) => x.stream_id === s.stream_id)!;
      assert.equal(listed.last_seq, lastSeq, "the listing agrees");
      const late = await post(b.api, `/v1/streams/${s.stream_id}/complete`, { exit_code: 0 }, { "x-plugin-pid": String(process.pid) }).then(
        () => assert.fail("a late complete on an aborted stream was accepted"),
        (e: unknown) => e as BrokerError,
      );
      assert.equal(late.status, 409);
      assert.equal(late.code, "stream_ended");
      assert.equal(late.extra.state, "aborted");
      assert.match(late.message, /aborted/);
      assert.equal((await get(b.api, `/v1/streams/${s.stream_id}`)).stream.exit_code, null, "the refused complete recorded nothing");
    } finally {
      await owner.close();
      await b.stop();
      await cleanup();
    }
  });
});
