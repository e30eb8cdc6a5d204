// Binary stream frames (capability stream_frames_v1) against the real broker: raw bytes from a
// BrokerClient's socket, cut anywhere, come back whole per channel from the replay, the binary and the
// JSON live followers; a frame that could not be written is resent over HTTP without loss or
// reordering; malformed frames are refused without closing the socket; a replay from a seq deep into
// a large stream starts at that seq.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { BrokerClient } from "../../src/client/client.js";
import { followStream } from "../../src/client/follow.js";
import { StreamWriter, type FrameSender } from "../../src/client/stream-writer.js";
import { encodeProducerChunk } from "../../src/protocol/index.js";
import { startTempBroker, type TempBroker } from "../support/broker.js";
import { openStream } from "../support/ws.js";
import { within } from "../support/wait.js";

/** Text with 2-, 3- and 4-byte characters, so that byte cuts land inside characters. */
function sample(i: number): string {
  return `line ${i}: héllo wörld — ✓ 🚀 日本語 ${"é".repeat(i % 7)}\n`;
}

/** Splits a buffer at pseudo-random byte offsets (ignoring character boundaries on purpose). */
function cutAnywhere(buf: Buffer, seed: number): Buffer[] {
  const parts: Buffer[] = [];
  let at = 0;
  let x = seed;
  while (at < buf.length) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (x % 23);
    parts.push(buf.subarray(at, at + n));
    at += n;
  }
  return parts;
}

describe("binary stream frames", { timeout: 60_000 }, () => {
  let b: TempBroker;
  let client: BrokerClient;
  let ep: string;
  before(async () => {
    b = await startTempBroker();
    client = new BrokerClient({ discover: { home: b.home, spawn: false }, clientKind: "test", clientVersion: "0" });
    await client.connect();
    ep = (await client.registerEndpoint({ kind: "test", session_name: "frames" })).endpointId;
  });
  after(async () => {
    await client.close();
    await b.cleanup();
  });

  const writerFor = (command: string, frames: FrameSender, errors: Error[] = []) =>
    StreamWriter.start(
      { endpoint_id: ep, action: "sh", command },
      { api: () => client.brokerApi("output_streams_v1"), pluginPid: client.pluginPid, frames, onError: (e) => errors.push(e) },
    );

  it("brings bytes cut inside characters back whole, per channel, to the replay and to binary and JSON followers", async () => {
    assert.equal(client.capabilities.stream_frames_v1, true);
    let sent = 0;
    const w = await writerFor("interleaved", (frame, done) => {
      sent++;
      return client.sendStreamFrame(frame, done);
    });
    const out = Buffer.from(Array.from({ length: 200 }, (_, i) => sample(i)).join(""));
    const err = Buffer.from(Array.from({ length: 120 }, (_, i) => `E${sample(i)}`).join(""));
    const binary: Record<number, string> = { 1: "", 2: "" };
    const following = followStream(b.record, w.streamId, { onChunk: (ch, data) => (binary[ch] += data) });
    // A JSON follower: no binary=1.
    const json: Record<number, string> = { 1: "", 2: "" };
    const jsonWs = new WebSocket(`${b.record.ipcUrl.replace("http", "ws")}/v1/streams/${w.streamId}/live`, { headers: { authorization: `Bearer ${b.record.bearerToken}` } });
    let jsonBinaryFrames = 0;
    const jsonEnded = new Promise<void>((resolve) =>
      jsonWs.on("message", (data, isBinary) => {
        if (isBinary) return void jsonBinaryFrames++;
        const f = JSON.parse(data.toString());
        if (f.type === "chunk") json[f.channel] += f.data;
        if (f.type === "end") resolve();
      }),
    );
    const a = cutAnywhere(out, 7);
    const e = cutAnywhere(err, 11);
    for (let i = 0; i < Math.max(a.length, e.length); i++) {
      if (a[i]) w.write(1, a[i]!);
      if (e[i]) w.write(2, e[i]!);
    }
    const end = await w.complete({ exit_code: 0, signal: null });
    assert.equal(end?.state, "completed");
    assert.equal(sent, a.length + e.length, "every chunk went as a binary frame");

    const replay = await (await client.brokerApi("output_streams_v1")).replayStream(w.streamId);
    const byChannel = (ch: number) => replay.chunks.filter((c) => c.channel === ch).map((c) => c.data);
    for (const [ch, want] of [
      [1, out],
      [2, err],
    ] as const) {
      const pieces = byChannel(ch);
      assert.equal(pieces.join(""), want.toString("utf8"), `channel ${ch} replays byte for byte`);
      assert.ok(
        pieces.every((p) => !p.includes("\uFFFD")),
        `no chunk of channel ${ch} splits a character`,
      );
      assert.equal(replay.stream.channels[String(ch)]!.bytes, want.length);
    }
    await within(following.done, 10_000, "the binary follower's end");
    await within(jsonEnded, 10_000, "the JSON follower's end");
    jsonWs.close();
    assert.equal(binary[1], out.toString("utf8"));
    assert.equal(binary[2], err.toString("utf8"));
    assert.equal(json[1], out.toString("utf8"));
    assert.equal(json[2], err.toString("utf8"));
    assert.equal(jsonBinaryFrames, 0, "a follower that did not ask for binary gets JSON only");
  });

  it("resends over HTTP what the socket could not write, in order and once", async () => {
    let n = 0;
    const w = await writerFor("fallback", (frame, done) => {
      n++;
      if (n === 5) {
        // Accepted, then reported unwritten (the socket closed under it).
        setTimeout(() => done(new Error("socket closed")), 20);
        return true;
      }
      if (n > 5) return false; // the socket is gone
      return client.sendStreamFrame(frame, done);
    });
    let want = "";
    for (let i = 0; i < 40; i++) {
      const line = sample(i);
      want += line;
      w.write(1, line);
    }
    const end = await w.complete({ exit_code: 0, signal: null });
    assert.equal(end?.state, "completed");
    assert.equal(end?.last_seq, 40);
    const replay = await (await client.brokerApi("output_streams_v1")).replayStream(w.streamId);
    assert.deepEqual(
      replay.chunks.map((c) => c.seq),
      Array.from({ length: 40 }, (_, i) => i + 1),
      "every seq once, in order",
    );
    assert.equal(replay.chunks.map((c) => c.data).join(""), want);
  });

  it("answers a malformed binary frame with bad_frame and keeps the socket", async () => {
    const pid = 2_120_000_001;
    const peer = await openStream(b.record, pid);
    const producerEp = (await b.api.register({ plugin_pid: pid, kind: "test" })).endpoint_id;
    const stream = await b.api.startStream({ endpoint_id: producerEp, action: "sh", command: "bad frames" });
    const bad = [
      Buffer.from([]),
      Buffer.from([9, 1, 0, 0, 0, 0, 0, 1, 3, 65, 66, 67]),
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 1, 1, 65]),
      Buffer.from([1, 1, 0, 0, 0, 0, 0, 0, 1, 65]),
      Buffer.from([1, 1, 0, 0, 0, 0, 0, 1, 200, 65]),
      Buffer.from([1, 1, 0, 0, 0, 0, 0, 1, 2, 0x3c, 0x3e]),
    ];
    for (const frame of bad) peer.ws.send(frame);
    for (let i = 0; i < bad.length; i++) {
      const f = await peer.next((x) => x.event === "error");
      assert.equal(f.error, "bad_frame");
      assert.match(f.message, /\w+ \w+/);
    }
    // The socket still works: a good frame is taken.
    peer.ws.send(encodeProducerChunk(stream.stream_id, 1, 1, Buffer.from("still here\n")));
    const view = await b.api.completeStream(stream.stream_id, { exit_code: 0, last_seq: 1 }, pid);
    assert.equal(view.channels["1"]?.bytes, 11);
    // Another pid's frames for this stream are dropped, not written.
    const other = await openStream(b.record, pid + 1);
    other.ws.send(encodeProducerChunk(stream.stream_id, 1, 2, Buffer.from("intruder\n")));
    const again = await b.api.replayStream(stream.stream_id);
    assert.deepEqual(
      again.chunks.map((c) => c.data),
      ["still here\n"],
    );
    await other.close();
    await peer.close();
  });

  it("replays from a seq deep into a large stream, starting exactly there", async () => {
    const w = await writerFor("large", (frame, done) => client.sendStreamFrame(frame, done));
    const block = "x".repeat(64 * 1024 - 1) + "\n";
    for (let i = 0; i < 200; i++) w.write(1, block); // 12.5 MiB: several index entries
    await w.complete({ exit_code: 0, signal: null });
    const api = await client.brokerApi("output_streams_v1");
    const r = await api.replayStream(w.streamId, { fromSeq: 150 });
    assert.deepEqual(
      r.chunks.map((c) => c.seq),
      Array.from({ length: 51 }, (_, i) => 150 + i),
    );
    assert.ok(r.chunks.every((c) => c.data === block));
  });
});
