// No work that grows with the square of the backlog (issue 15, item 3). The cost is counted, not
// timed: bytes copied by the audit log's appends, and the structures behind queues, history and the
// feed ring must stay correct when they are O(1) per operation. Figures: bench/limits.ts.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { AuditLog, type AuditFields } from "../../src/broker/audit.js";
import { Feed } from "../../src/broker/feed.js";
import { Store, type JournalRecord } from "../../src/broker/store.js";
import { parseAuditLines, verifyChain } from "../../src/platform/audit-chain.js";
import { waitFor } from "../support/wait.js";
import type { Approval } from "../../src/protocol/index.js";

const fields = (i: number, command: string): AuditFields => ({
  at: new Date(1_700_000_000_000 + i).toISOString(),
  approval_id: `apr_${i}`,
  endpoint_id: "ep_1",
  session: "s",
  action: "sh",
  summary: "cancel",
  command,
  cwd: null,
  outcome: "cancelled",
  reason: "requester closed",
  decided_by: "broker",
});

describe("backlog costs", () => {
  it("the audit log copies each appended byte a bounded number of times, however many appends wait", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sb-audit-"));
    const realConcat = Buffer.concat;
    let copied = 0;
    (Buffer as { concat: typeof Buffer.concat }).concat = (list: readonly Uint8Array[], total?: number) => {
      const out = realConcat(list, total);
      copied += out.length;
      return out;
    };
    try {
      const log = await AuditLog.open(join(dir, "audit.ndjson"));
      const command = "c".repeat(4096);
      const appends = Array.from({ length: 2000 }, (_, i) => log.append(fields(i, command)));
      (Buffer as { concat: typeof Buffer.concat }).concat = realConcat;
      const records = await Promise.all(appends);
      const written = (await readFile(join(dir, "audit.ndjson"))).length;
      assert.ok(copied <= 2 * written, `2,000 queued appends copied ${copied} bytes for ${written} written (quadratic would be ~${Math.round((written * 2000) / 2)})`);
      assert.equal(records.at(-1)!.seq, 2000);
      assert.equal(verifyChain(parseAuditLines(await readFile(join(dir, "audit.ndjson"), "utf8"))).ok, true, "the chain is whole");
      await log.close();
    } finally {
      (Buffer as { concat: typeof Buffer.concat }).concat = realConcat;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("queues acknowledge in any order, and history keeps the most recently ended", () => {
    const store = new Store({ closedEndpoints: 3, correlations: 10, approvalHistory: 5, endedStreams: 5 });
    const ids = Array.from({ length: 20_000 }, (_, i) => `p${i}`);
    for (const id of ids) store.apply({ t: "q_add", ep: "e", push: { push_id: id, frame: {} } });
    const acked = new Set<string>();
    for (let i = 0; i < ids.length; i += 3) {
      store.apply({ t: "q_del", ep: "e", push_id: ids[i]! });
      acked.add(ids[i]!);
    }
    assert.deepEqual(
      [...store.queue("e")].map((p) => p.push_id),
      ids.filter((id) => !acked.has(id)),
    );
    assert.equal(store.queueSize("e"), ids.length - acked.size);
    const approval = (i: number, state: Approval["state"]) => ({ approval_id: `a${i}`, state }) as Approval;
    for (let i = 0; i < 10; i++) store.apply({ t: "apr", a: approval(i, "pending") });
    for (let i = 0; i < 10; i++) store.apply({ t: "apr", a: approval(9 - i, "cancelled") } as JournalRecord);
    // Ended in the order a9 … a0: the five most recently ended are a4 … a0.
    assert.deepEqual([...store.approvals.keys()].sort(), ["a0", "a1", "a2", "a3", "a4"]);
    const again = Store.fromSnapshot(store.toSnapshot(), { closedEndpoints: 3, correlations: 10, approvalHistory: 5, endedStreams: 5 });
    again.apply({ t: "apr", a: approval(99, "rejected") });
    assert.equal(again.approvals.size, 5, "a restored store keeps trimming");
    assert.ok(!again.approvals.has("a4"), "…the oldest ended first");
  });

  it("the feed ring resumes exactly the missed changes after it wrapped many times", async () => {
    const feed = new Feed(() => ({ endpoints: [], inbox: [], approvals: [], streams: [] }), 100);
    for (let i = 0; i < 1050; i++) feed.publish({ kind: "inbox_removed", id: `m${i}`, reason: "dismissed" });
    const sent: string[] = [];
    const ws = {
      readyState: 1,
      OPEN: 1,
      bufferedAmount: 0,
      send: (t: string, o?: unknown, done?: () => void) => (sent.push(t), (typeof o === "function" ? o : done)?.()),
      on: () => {},
      close: () => {},
    };
    const since = feed.currentSeq - 30;
    feed.attach(ws as never, since, feed.epoch);
    // Two more while the missed ones are sent: after them, in order.
    feed.publish({ kind: "inbox_removed", id: "late1", reason: "dismissed" });
    feed.publish({ kind: "inbox_removed", id: "late2", reason: "dismissed" });
    await waitFor(() => sent.length >= 32, 5000, "the missed changes and the two new ones");
    const seqs = sent.map((t) => JSON.parse(t).seq as number);
    assert.deepEqual(
      seqs,
      Array.from({ length: 32 }, (_, i) => since + 1 + i),
      "the 30 missed changes and the 2 new ones, in order",
    );
    sent.length = 0;
    feed.attach(ws as never, feed.currentSeq - 101, feed.epoch);
    await waitFor(() => sent.length > 0, 5000, "the snapshot");
    assert.equal(JSON.parse(sent[0]!).type, "snapshot", "older than the ring: a snapshot");
  });

  it("a snapshot of a large backlog goes out in fragments of one message, and the changes made meanwhile after it, in order", async () => {
    const items = Array.from({ length: 3000 }, (_, i) => ({ id: `m${i}`, content: "x".repeat(400) }));
    const feed = new Feed(() => ({ endpoints: [], inbox: items as never, approvals: [], streams: [] }));
    const frames: { text: string; fin: boolean }[] = [];
    const ws = {
      readyState: 1,
      OPEN: 1,
      bufferedAmount: 0,
      // Written out on a later turn, as a socket would.
      send: (text: string, o: { fin?: boolean } | undefined, done?: () => void) => (frames.push({ text, fin: o?.fin ?? true }), setImmediate(() => done?.())),
      on: () => {},
      close: () => {},
    };
    const seq = feed.currentSeq;
    feed.attach(ws as never, undefined, undefined);
    // Changes while it is being sent: each must come after the snapshot, whole and in order.
    for (let i = 0; i < 5; i++) {
      feed.publish({ kind: "inbox_removed", id: `m${i}`, reason: "dismissed" });
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => frames.filter((f) => f.fin).length === 6, 10_000, "the snapshot and the five changes");
    const end = frames.findIndex((f) => f.fin);
    assert.ok(end > 0, `the snapshot came in ${end + 1} fragments`);
    const snap = JSON.parse(
      frames
        .slice(0, end + 1)
        .map((f) => f.text)
        .join(""),
    );
    assert.equal(snap.type, "snapshot");
    assert.equal(snap.seq, seq, "the snapshot is the state when the observer attached");
    assert.equal(snap.inbox.length, 3000);
    assert.deepEqual(
      frames.slice(end + 1).map((f) => JSON.parse(f.text).seq),
      [1, 2, 3, 4, 5].map((i) => seq + i),
      "then the changes, each whole, in order",
    );
  });
});
