// Output streams against the real broker: per-channel fidelity, replay from a sequence number, live
// followers (late, slow), the producer's socket path, cancel, producer checks and the file cap.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { CLI_ENTRY, startBroker, startTempBroker, tempHome, type TempBroker, type TestBroker } from "../support/broker.js";
import { get, post } from "../support/calls.js";
import { openStream, type Peer } from "../support/ws.js";
import { waitFor } from "../support/wait.js";

function follow(b: TestBroker, id: string, query = ""): Promise<{ frames: any[]; ended: Promise<any>; ws: WebSocket }> {
  const ws = new WebSocket(`${b.record.ipcUrl.replace("http", "ws")}/v1/streams/${id}/live${query}`, { headers: { authorization: `Bearer ${b.record.bearerToken}` } });
  const frames: any[] = [];
  const ended = new Promise<any>((resolve) =>
    ws.on("message", (d) => {
      const f = JSON.parse(d.toString());
      frames.push(f);
      if (f.type === "end") resolve(f);
    }),
  );
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ frames, ended, ws }));
    ws.once("error", reject);
  });
}

const text = (frames: any[], channel: number) =>
  frames
    .filter((f) => f.type === "chunk" && f.channel === channel)
    .map((f) => f.data)
    .join("");

describe("output streams", () => {
  let b: TempBroker;
  let producer: Peer;
  let ep: string;
  const pidHdr = () => ({ "x-plugin-pid": String(process.pid) });
  before(async () => {
    b = await startTempBroker({ env: { SWITCHBOARD_STREAM_CAP_BYTES: String(200 * 1024) } });
    producer = await openStream(b.record, process.pid);
    ep = (await b.api.register({ plugin_pid: process.pid, kind: "pi", session_name: "runner" })).endpoint_id;
  });
  after(async () => {
    await producer.close();
    await b.cleanup();
  });

  const start = (extra: object = {}) => post(b.api, "/v1/streams", { endpoint_id: ep, action: "sh", command: "make", cwd: "/w", ...extra });

  it("keeps channels apart byte for byte, ends with exit code, and replays from a sequence number", async () => {
    const s = await start();
    assert.equal(s.state, "streaming");
    assert.equal(s.status, 102);
    const live = await follow(b, s.stream_id);
    const parts = [
      { channel: 1, data: "out 1\n" },
      { channel: 2, data: "err ☃ 1\n" },
      { channel: 1, data: "€uro 😀\r\n" },
      { channel: 2, data: "\u001b[31mred\u001b[0m\n" },
      { channel: 3, data: "aux" },
    ];
    await post(b.api, `/v1/streams/${s.stream_id}/chunks`, { chunks: parts.slice(0, 2) }, pidHdr());
    await post(b.api, `/v1/streams/${s.stream_id}/chunks`, { chunks: parts.slice(2) }, pidHdr());
    const done = await post(b.api, `/v1/streams/${s.stream_id}/complete`, { exit_code: 3, duration_ms: 12 }, pidHdr());
    assert.equal(done.state, "completed");
    assert.equal(done.status, 500);
    assert.equal(done.exit_code, 3);
    assert.equal(done.last_seq, 5);
    assert.deepEqual(done.channels["1"], { bytes: Buffer.byteLength("out 1\n€uro 😀\r\n"), truncated: false });

    const end = await live.ended;
    assert.equal(end.stream.exit_code, 3);
    assert.equal(live.frames[0].type, "hello");
    assert.equal(text(live.frames, 1), "out 1\n€uro 😀\r\n");
    assert.equal(text(live.frames, 2), "err ☃ 1\n\u001b[31mred\u001b[0m\n");
    assert.deepEqual(
      live.frames.filter((f) => f.type === "chunk").map((f) => f.seq),
      [1, 2, 3, 4, 5],
    );
    live.ws.close();

    const full = await get(b.api, `/v1/streams/${s.stream_id}`);
    assert.deepEqual(
      full.chunks.map((c: any) => [c.channel, c.seq, c.data]),
      parts.map((p, i) => [p.channel, i + 1, p.data]),
    );
    const errOnly = await get(b.api, `/v1/streams/${s.stream_id}?channel=2&from_seq=3`);
    assert.deepEqual(
      errOnly.chunks.map((c: any) => c.data),
      ["\u001b[31mred\u001b[0m\n"],
    );
    const late = await follow(b, s.stream_id, "?from_seq=2");
    await late.ended;
    assert.deepEqual(
      late.frames.filter((f) => f.type === "chunk").map((f) => f.seq),
      [2, 3, 4, 5],
      "a late terminal replays from where it asks",
    );
    late.ws.close();
  });

  it("takes chunks as frames on the producer's socket, in order, and drops retried sequence numbers", async () => {
    const s = await start({ action: "env", command: "cat big" });
    const live = await follow(b, s.stream_id);
    const expected: string[] = [];
    for (let i = 1; i <= 300; i++) {
      const data = `line ${i} ${"x".repeat(i % 50)}\n`;
      expected.push(data);
      producer.ws.send(JSON.stringify({ event: "stream_chunk", stream_id: s.stream_id, channel: 1, seq: i, data }));
    }
    producer.ws.send(JSON.stringify({ event: "stream_chunk", stream_id: s.stream_id, channel: 1, seq: 300, data: "duplicate\n" }));
    await post(b.api, `/v1/streams/${s.stream_id}/complete`, { exit_code: 0, last_seq: 300 }, pidHdr());
    const end = await live.ended;
    assert.equal(end.stream.status, 200);
    assert.equal(text(live.frames, 1), expected.join(""));
    live.ws.close();
  });

  it("a viewer's cancel ends the stream as 499, tells the producer, and later output is dropped quietly", async () => {
    const s = await start();
    const c = await post(b.api, `/v1/streams/${s.stream_id}/cancel`, { reason: "user pressed Ctrl+C" });
    assert.equal(c.state, "cancelled");
    assert.equal(c.status, 499);
    const push = await producer.next((f) => f.event === "stream_cancelled" && f.stream_id === s.stream_id);
    assert.equal(push.reason, "user pressed Ctrl+C");
    await post(b.api, `/v1/streams/${s.stream_id}/chunks`, { chunks: [{ channel: 1, data: "late" }] }, pidHdr());
    const after = await post(b.api, `/v1/streams/${s.stream_id}/complete`, { exit_code: null, signal: "SIGINT" }, pidHdr());
    assert.equal(after.state, "cancelled");
    assert.equal(after.signal, "SIGINT", "how the process ended is still recorded");
  });

  it("a stream the producer cannot stop (cancellable: false) refuses a cancel with a sentence, in the API and the CLI, and runs on", async () => {
    const s = await start({ cancellable: false, note: "the agent runs it" });
    assert.equal(s.cancellable, false);
    await assert.rejects(post(b.api, `/v1/streams/${s.stream_id}/cancel`, { reason: "stop" }), (err: Error & { code?: string; status?: number }) => {
      assert.equal(err.code, "stream_not_cancellable");
      assert.match(err.message, /cannot be stopped here: "runner" runs it itself; stop it there\./);
      return true;
    });
    const cli = spawnSync(process.execPath, [CLI_ENTRY, "streams", "cancel", s.stream_id], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", SWITCHBOARD_HOME: b.home },
    });
    assert.notEqual(cli.status, 0);
    assert.match(cli.stderr, /cannot be stopped here: .* \(stream_not_cancellable\)/);
    assert.equal((await get(b.api, `/v1/streams/${s.stream_id}`)).stream.state, "streaming", "still running");
    const done = await post(b.api, `/v1/streams/${s.stream_id}/complete`, { exit_code: null, reason: "exit status not reported" }, pidHdr());
    assert.deepEqual([done.state, done.status, done.exit_code, done.reason, done.cancellable], ["completed", 500, null, "exit status not reported", false]);
  });

  it("after a cancel, followers' end waits for the producer's report: cancelled, with its signal and duration, the same as the stream's view", async () => {
    const s = await start();
    const live = await follow(b, s.stream_id);
    await post(b.api, `/v1/streams/${s.stream_id}/chunks`, { chunks: [{ channel: 1, data: "working\n" }] }, pidHdr());
    const c = await post(b.api, `/v1/streams/${s.stream_id}/cancel`, { reason: "stopped in demo" });
    assert.equal(c.state, "cancelled");
    await producer.next((f) => f.event === "stream_cancelled" && f.stream_id === s.stream_id);
    // Until the producer reports, the follower has no end (it would have no signal and no duration).
    await get(b.api, `/v1/streams/${s.stream_id}`);
    assert.ok(!live.frames.some((f) => f.type === "end"), `no end before the producer's report: ${JSON.stringify(live.frames)}`);
    // A follower that connects in between waits for the same report.
    const late = await follow(b, s.stream_id);
    await post(b.api, `/v1/streams/${s.stream_id}/complete`, { exit_code: null, signal: "SIGINT", duration_ms: 14_200 }, pidHdr());
    for (const f of [live, late]) {
      const end = (await f.ended).stream;
      assert.equal(end.state, "cancelled");
      assert.equal(end.status, 499);
      assert.equal(end.signal, "SIGINT");
      assert.equal(end.duration_ms, 14_200);
      assert.equal(end.reason, "stopped in demo");
      f.ws.close();
    }
    const listed = (await get(b.api, `/v1/streams/${s.stream_id}`)).stream;
    assert.deepEqual([listed.state, listed.signal, listed.duration_ms], ["cancelled", "SIGINT", 14_200]);
  });

  it("after a cancel whose producer aborts instead of completing, followers get the end at once", async () => {
    const s = await start();
    const live = await follow(b, s.stream_id);
    await post(b.api, `/v1/streams/${s.stream_id}/cancel`, { reason: "stop" });
    await post(b.api, `/v1/streams/${s.stream_id}/abort`, { reason: "gave up" }, pidHdr());
    const end = (await live.ended).stream;
    assert.equal(end.state, "cancelled");
    assert.equal(end.reason, "stop");
    live.ws.close();
  });

  it("the producer can abort; only the producer may write", async () => {
    const s = await start();
    await assert.rejects(
      post(b.api, `/v1/streams/${s.stream_id}/chunks`, { chunks: [{ channel: 1, data: "x" }] }, { "x-plugin-pid": "1" }),
      (e: any) => e.code === "stream_not_producer",
    );
    const a = await post(b.api, `/v1/streams/${s.stream_id}/abort`, { reason: "agent stopped" }, pidHdr());
    assert.equal(a.state, "aborted");
    assert.equal(a.status, 499);
    assert.equal(a.reason, "agent stopped");
    await assert.rejects(post(b.api, `/v1/streams/${s.stream_id}/chunks`, { chunks: [{ channel: 1, data: "x" }] }, pidHdr()), (e: any) => e.code === "stream_ended");
  });

  it("bad chunks and unknown streams are refused", async () => {
    const s = await start();
    await assert.rejects(post(b.api, `/v1/streams/${s.stream_id}/chunks`, { chunks: [{ channel: 0, data: "x" }] }), (e: any) => e.code === "bad_request");
    await assert.rejects(post(b.api, `/v1/streams/${s.stream_id}/chunks`, { chunks: [{ channel: 1, data: 5 }] }), (e: any) => e.code === "bad_request");
    await assert.rejects(get(b.api, "/v1/streams/str_nope"), (e: any) => e.status === 404 && e.code === "stream_unknown");
    await assert.rejects(start({ approval_id: "apr_nope" }), (e: any) => e.code === "approval_unknown");
    const pending = await post(b.api, "/v1/approvals", { endpoint_id: ep, action: "sh", summary: "x" });
    await assert.rejects(start({ approval_id: pending.approval_id }), (e: any) => e.code === "approval_not_approved");
    await post(b.api, `/v1/approvals/${pending.approval_id}/decision`, { decision: "approve", decided_by: "t" });
    const linked = await start({ approval_id: pending.approval_id });
    assert.equal((await get(b.api, `/v1/approvals/${pending.approval_id}`)).stream_id, linked.stream_id);
    await post(b.api, `/v1/streams/${s.stream_id}/complete`, { exit_code: 0 }, pidHdr());
    await post(b.api, `/v1/streams/${linked.stream_id}/complete`, { exit_code: 0 }, pidHdr());
  });

  it("output beyond the file cap is flagged truncated and the tail is kept", async () => {
    const s = await start();
    const chunk = "y".repeat(50 * 1024);
    for (let i = 0; i < 6; i++) await post(b.api, `/v1/streams/${s.stream_id}/chunks`, { chunks: [{ channel: 1, data: chunk + i }] }, pidHdr());
    const r = await get(b.api, `/v1/streams/${s.stream_id}`);
    assert.equal(r.truncated, true);
    assert.equal(r.stream.channels["1"].truncated, true);
    assert.equal(r.stream.channels["1"].bytes, 6 * (50 * 1024 + 1));
    assert.ok(r.tail["1"].endsWith("5"), "the tail holds the latest output");
    assert.ok(r.chunks.length < 6);
    await post(b.api, `/v1/streams/${s.stream_id}/complete`, { exit_code: 0 }, pidHdr());
  });
});

describe("slow and fast followers", () => {
  it("a slow follower gets a resync and a replay and never loses a byte; a fast one is not held back", async () => {
    const { home, cleanup } = await tempHome();
    const b = await startBroker(home);
    const producer = await openStream(b.record, process.pid);
    try {
      const ep = (await b.api.register({ plugin_pid: process.pid, kind: "pi" })).endpoint_id;
      const s = await post(b.api, "/v1/streams", { endpoint_id: ep, action: "sh", command: "yes" });
      const slow = await follow(b, s.stream_id);
      const fast = await follow(b, s.stream_id);
      const payload = "z".repeat(64 * 1024 - 10);
      let expectedLength = payload.length + 1;
      // Both followers are live (past their first replay) once they have the first chunk.
      producer.ws.send(JSON.stringify({ event: "stream_chunk", stream_id: s.stream_id, channel: 1, seq: 1, data: payload + 0 }));
      await waitFor(() => slow.frames.some((f) => f.type === "chunk") && fast.frames.some((f) => f.type === "chunk"), 5000, "the first chunk at both followers");
      slow.ws.pause(); // stop reading, so its socket and the kernel buffers fill up
      for (let i = 1; i < 400; i++) {
        expectedLength += payload.length + String(i).length;
        producer.ws.send(JSON.stringify({ event: "stream_chunk", stream_id: s.stream_id, channel: 1, seq: i + 1, data: payload + i }));
      }
      // Frames may still be in flight: `last_seq` makes the broker wait for them before ending.
      await post(b.api, `/v1/streams/${s.stream_id}/complete`, { exit_code: 0, last_seq: 400 }, { "x-plugin-pid": String(process.pid) });
      await fast.ended;
      const fastText = text(fast.frames, 1);
      assert.equal(fastText.length, expectedLength);
      assert.ok(fastText.endsWith(payload + 399));
      slow.ws.resume();
      await slow.ended;
      assert.ok(
        slow.frames.some((f) => f.type === "resync"),
        "the slow follower was told it is being replayed",
      );
      const seqs = slow.frames.filter((f) => f.type === "chunk").map((f) => f.seq);
      assert.deepEqual(
        seqs,
        Array.from({ length: 400 }, (_, i) => i + 1),
        "every chunk exactly once, in order",
      );
      assert.equal(text(slow.frames, 1), fastText);
      slow.ws.close();
      fast.ws.close();
    } finally {
      await producer.close();
      await b.stop();
      await cleanup();
    }
  });
});

describe("streams across a restart", () => {
  it("a stream running when the broker died is aborted with a reason, and its output can still be replayed", async () => {
    const { home, cleanup } = await tempHome();
    let b = await startBroker(home);
    const p = await openStream(b.record, process.pid);
    try {
      const ep = (await b.api.register({ plugin_pid: process.pid, kind: "pi" })).endpoint_id;
      const s = await post(b.api, "/v1/streams", { endpoint_id: ep, action: "sh", command: "sleep 100" });
      await post(b.api, `/v1/streams/${s.stream_id}/chunks`, { chunks: [{ channel: 1, data: "before crash\n" }] });
      await b.kill9();
      b = await b.restart();
      const r = await get(b.api, `/v1/streams/${s.stream_id}`);
      assert.equal(r.stream.state, "aborted");
      assert.match(r.stream.reason, /restarted/);
      assert.deepEqual(
        r.chunks.map((c: any) => c.data),
        ["before crash\n"],
      );
    } finally {
      await p.close();
      await b.stop();
      await cleanup();
    }
  });

  it("output the broker acknowledged over HTTP is in the stream file: a kill -9 right after the answer loses none of it", async () => {
    const { home, cleanup } = await tempHome();
    let b = await startBroker(home);
    let p = await openStream(b.record, process.pid);
    try {
      // Three crashes, each right after 8 big requests sent at once (8 x 900 KB, under the
      // backpressure mark): a broker that answered before writing would still have megabytes to write.
      for (let crash = 1; crash <= 3; crash++) {
        const ep = (await b.api.register({ plugin_pid: process.pid, kind: "pi" })).endpoint_id;
        const s = await post(b.api, `/v1/streams`, { endpoint_id: ep, action: "sh", command: "yes" });
        const sent = Array.from({ length: 8 }, (_, i) => `${i}`.repeat(900 * 1024 - 1) + "\n");
        await Promise.all(sent.map((data) => post(b.api, `/v1/streams/${s.stream_id}/chunks`, { chunks: [{ channel: 1, data }] })));
        await b.kill9();
        await p.close();
        b = await b.restart();
        p = await openStream(b.record, process.pid);
        // The whole replay in one page (max_bytes), since the 8 chunks are over the default page.
        const r = await get(b.api, `/v1/streams/${s.stream_id}?max_bytes=${16 * 1024 * 1024}`);
        assert.equal(r.stream.state, "aborted");
        assert.equal(r.next_from_seq ?? null, null);
        const got: string[] = r.chunks.map((c: any) => c.data);
        assert.equal(got.length, sent.length, `crash ${crash}: replayed ${got.length} of ${sent.length} acknowledged chunks`);
        assert.deepEqual(got.map((d) => d[0]).sort(), sent.map((d) => d[0]).sort());
        assert.ok(got.every((d) => d === sent[Number(d[0])]));
      }
    } finally {
      await p.close();
      await b.stop();
      await cleanup();
    }
  });
});
