// The binary stream frame codec, the UTF-8 boundary rule, and the stream file reader.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readRecords, recordHeader, type Piece } from "../../src/broker/stream-file.js";
import { decodeFollowerChunk, decodeProducerChunk, encodeFollowerChunk, encodeProducerChunk, incompleteUtf8Tail } from "../../src/protocol/index.js";

describe("binary stream frames", () => {
  it("round-trips producer and follower chunks, including seqs beyond 32 bits", () => {
    const data = Buffer.from("héllo 🚀\n");
    const p = decodeProducerChunk(encodeProducerChunk("str_abc-DEF_123", 2, 2 ** 40 + 5, data));
    assert.ok(typeof p !== "string");
    assert.deepEqual({ ...p, data: p.data.toString() }, { streamId: "str_abc-DEF_123", channel: 2, seq: 2 ** 40 + 5, data: data.toString() });
    const f = decodeFollowerChunk(encodeFollowerChunk(16, 7, data));
    assert.deepEqual({ ...f!, data: f!.data.toString() }, { channel: 16, seq: 7, data: data.toString() });
  });

  it("refuses malformed producer frames with a sentence", () => {
    const good = encodeProducerChunk("str_x", 1, 1, Buffer.from("a"));
    const cases: Array<[string, Buffer]> = [
      ["too short", good.subarray(0, 9)],
      ["unknown type", Buffer.concat([Buffer.from([2]), good.subarray(1)])],
      ["channel 0", Buffer.concat([good.subarray(0, 1), Buffer.from([0]), good.subarray(2)])],
      ["channel 17", Buffer.concat([good.subarray(0, 1), Buffer.from([17]), good.subarray(2)])],
      ["seq 0", encodeProducerChunk("str_x", 1, 0, Buffer.from("a"))],
      ["id longer than the frame", Buffer.concat([good.subarray(0, 8), Buffer.from([100]), good.subarray(9)])],
      ["id with odd characters", encodeProducerChunk("../etc", 1, 1, Buffer.from("a"))],
    ];
    for (const [what, frame] of cases) {
      const r = decodeProducerChunk(frame);
      assert.equal(typeof r, "string", what);
      assert.match(r as string, /^[A-Z].+\.$/, `${what}: a sentence`);
    }
  });

  it("finds an incomplete UTF-8 character at the end, and only that", () => {
    const euro = Buffer.from("€"); // 3 bytes
    const rocket = Buffer.from("🚀"); // 4 bytes
    assert.equal(incompleteUtf8Tail(Buffer.from("abc")), 0);
    assert.equal(incompleteUtf8Tail(Buffer.from("a€")), 0);
    assert.equal(incompleteUtf8Tail(Buffer.concat([Buffer.from("a"), euro.subarray(0, 1)])), 1);
    assert.equal(incompleteUtf8Tail(Buffer.concat([Buffer.from("a"), euro.subarray(0, 2)])), 2);
    assert.equal(incompleteUtf8Tail(rocket), 0);
    for (let n = 1; n < 4; n++) assert.equal(incompleteUtf8Tail(rocket.subarray(0, n)), n);
    assert.equal(incompleteUtf8Tail(Buffer.from([0x80, 0x80, 0x80, 0x80])), 0, "stray continuation bytes are left alone");
    assert.equal(incompleteUtf8Tail(Buffer.alloc(0)), 0);
  });
});

describe("stream file", () => {
  it("reads records from a seq and a channel, and stops at a record torn by a crash", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sb-file-"));
    try {
      const rec = (seq: number, ch: number, s: string) => [recordHeader(seq, ch, Buffer.byteLength(s)), Buffer.from(s)];
      const whole = Buffer.concat([...rec(1, 1, "one\n"), ...rec(2, 2, "two\n"), ...rec(3, 1, "three\n")]);
      const torn = Buffer.concat([whole, ...rec(4, 1, "four\n")]).subarray(0, whole.length + 13);
      const file = join(dir, "s.out");
      await writeFile(file, torn);
      const read = async (from: number, ch?: number) => {
        const got: string[] = [];
        await readRecords(file, from, ch, (p: Piece) => void got.push(`${p.seq}:${p.channel}:${p.data}`));
        return got;
      };
      assert.deepEqual(await read(1), ["1:1:one\n", "2:2:two\n", "3:1:three\n"]);
      assert.deepEqual(await read(2, 1), ["3:1:three\n"]);
      assert.deepEqual(await read(1, 2), ["2:2:two\n"]);
      const none: string[] = [];
      await readRecords(join(dir, "missing.out"), 1, undefined, (p) => void none.push(String(p.seq)));
      assert.deepEqual(none, []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
