// The journal's on-disk format (src/broker/journal-format.ts) as a pure core: record lines, the
// snapshot document and its sliced serialization.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeLine, parseLine, parseSnapshot, segmentName, segmentNumber, snapshotHead } from "../../src/broker/journal-format.js";
import { stringifySliced } from "../../src/broker/slices.js";

describe("journal format", () => {
  it("a record line is the bytes of JSON.stringify({s, r}) and parses back", () => {
    const rec = { t: "ep", x: [1, "two", { three: null }] };
    const line = encodeLine(42, rec);
    assert.equal(line, `${JSON.stringify({ s: 42, r: rec })}\n`);
    assert.deepEqual(parseLine((line as string).trimEnd()), { s: 42, r: rec });
  });

  it("a record that is no JSON value is refused, with its error", () => {
    assert.ok(typeof encodeLine(1, 1n) !== "string");
    assert.ok(typeof encodeLine(1, undefined) !== "string");
  });

  it("lines without a positive integer seq or a record are not records", () => {
    for (const text of ['{"s":0,"r":1}', '{"s":1.5,"r":1}', '{"s":1}', '{"r":1}', "[1]", "null", '{"s":1,"r":', ""]) assert.equal(parseLine(text), undefined, text);
  });

  it("segment names sort by number and read back", () => {
    assert.equal(segmentName(7), "log-0000000007.ndjson");
    assert.equal(segmentNumber(segmentName(7)), 7);
    assert.equal(segmentNumber("snapshot.json"), undefined);
  });

  it("a snapshot is checked: version 1, a non-negative integer seq, a state", () => {
    assert.deepEqual(parseSnapshot(`${snapshotHead(5)}{"a":1}}`), { seq: 5, state: { a: 1 } });
    const cases: [string, string][] = [
      ["{", "invalid JSON"],
      ["3", "not an object"],
      ['{"version":2,"seq":1,"state":{}}', "unsupported version 2"],
      ['{"version":1,"seq":-1,"state":{}}', "bad seq"],
      ['{"version":1,"seq":1}', "missing state"],
    ];
    for (const [text, why] of cases) assert.equal((parseSnapshot(text) as { unusable: string }).unusable, why, text);
  });

  it("the sliced serialization is JSON.stringify of the state", async () => {
    const state = { endpoints: [{ id: "a" }, { id: "b", n: [1, 2] }], inbox: [], none: undefined, count: 3, name: "x", holes: [undefined, 1] };
    let text = "";
    for await (const part of stringifySliced(state)) text += part;
    assert.equal(text, JSON.stringify(state));
  });
});
