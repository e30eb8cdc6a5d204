// The producer side of a stream against the real broker: big bursts are split under the 1 MiB body
// limit, batches never overtake each other, and backpressure pauses and resumes the producer.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { StreamWriter } from "../../src/client/stream-writer.js";
import { startTempBroker, type TempBroker } from "../support/broker.js";
import { openStream, type Peer } from "../support/ws.js";

describe("StreamWriter", () => {
  let b: TempBroker;
  let owner: Peer;
  let ep: string;
  before(async () => {
    b = await startTempBroker();
    owner = await openStream(b.record, process.pid);
    ep = (await b.api.register({ plugin_pid: process.pid, kind: "cli" })).endpoint_id;
  });
  after(async () => {
    await owner.close();
    await b.cleanup();
  });

  it("delivers a 6 MB burst whole and in order, pausing the producer while it is behind", async () => {
    const errors: Error[] = [];
    const w = await StreamWriter.start(
      { endpoint_id: ep, action: "sh", command: "burst" },
      { api: async () => b.api, pluginPid: process.pid, highWaterBytes: 512 * 1024, onError: (e) => errors.push(e) },
    );
    let expected = "";
    let pauses = 0;
    let i = 0;
    // A producer that obeys write()'s answer, and writes again from inside the drain listener.
    await new Promise<void>((done) => {
      const pump = () => {
        while (i < 100) {
          const data = `${i}:` + "é".repeat(30_000) + "\n";
          expected += data;
          i++;
          if (!w.write(i % 3 === 0 ? 2 : 1, data)) {
            pauses++;
            w.onDrain(pump);
            return;
          }
        }
        done();
      };
      pump();
    });
    const end = await w.complete({ exit_code: 0 });
    assert.deepEqual(errors, []);
    assert.equal(end?.state, "completed");
    assert.ok(pauses > 0, "the producer was asked to pause");
    const replay = await b.api.replayStream(w.streamId);
    assert.deepEqual(
      replay.chunks.map((c) => c.seq),
      Array.from({ length: 100 }, (_, k) => k + 1),
      "every chunk, in order",
    );
    assert.equal(replay.chunks.map((c) => c.data).join(""), expected);
  });
});
