import assert from "node:assert/strict";
import { mkdtemp, rm, appendFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Journal } from "../../src/broker/journal.js";
import { Store, type EndpointRecord, type JournalRecord, type StoreSnapshot } from "../../src/broker/store.js";

const ep = (id: string, state: EndpointRecord["state"] = "active"): EndpointRecord => ({
  endpoint_id: id,
  owner_token: "t",
  plugin_pid: 1,
  kind: "test",
  session_name: id,
  workspace: null,
  task_hint: null,
  agent_id: null,
  tracking_ref: null,
  runtime_capabilities: null,
  client_kind: null,
  client_version: null,
  state,
  registered_at: "2026-01-01T00:00:00.000Z",
  last_seen_at: "2026-01-01T00:00:00.000Z",
});
const msg = (id: string) => ({ message_id: id, from: "x", content: id, content_type: "text", metadata: {}, arrived_at: "t" });
const item = (id: string) => ({ ...msg(id), id, source_message_id: id, sender_address: "x", reason: "unaddressed" as const, claim_policy: "owner_select_required" as const });

const RECORDS: JournalRecord[] = [
  { t: "ep", ep: ep("e1") },
  { t: "ep", ep: ep("e2") },
  { t: "q_add", ep: "e1", push: { push_id: "p1", message: msg("m1") } },
  { t: "q_add", ep: "e1", push: { push_id: "p2", message: msg("m2") } },
  { t: "q_add", ep: "e1", push: { push_id: "p3", message: msg("m3") } },
  { t: "q_del", ep: "e1", push_id: "p2" },
  { t: "in_add", item: item("i1") },
  { t: "in_add", item: item("i2") },
  { t: "in_del", id: "i1" },
  { t: "corr", id: "c1", ep: "e2" },
  { t: "ep", ep: ep("e2", "closed") },
];

describe("store", () => {
  it("applies records: queues keep order, deletes remove exactly one, closing drops the queue", () => {
    const s = new Store();
    for (const r of RECORDS) s.apply(r);
    assert.deepEqual(
      [...s.queue("e1")].map((p) => p.push_id),
      ["p1", "p3"],
    );
    assert.deepEqual([...s.inbox.keys()], ["i2"]);
    assert.equal(s.correlations.get("c1"), "e2");
    assert.deepEqual(
      s.openEndpoints().map((e) => e.endpoint_id),
      ["e1"],
    );
    assert.equal(s.endpoints.get("e2")?.state, "closed");
    assert.equal(s.view(s.endpoints.get("e1")!).buffered_count, 2);
  });

  it("a snapshot plus the remaining records rebuilds the same state as replaying everything", () => {
    const full = new Store();
    for (const r of RECORDS) full.apply(r);
    for (let cut = 0; cut <= RECORDS.length; cut++) {
      const head = new Store();
      for (const r of RECORDS.slice(0, cut)) head.apply(r);
      const rebuilt = Store.fromSnapshot(JSON.parse(JSON.stringify(head.toSnapshot())));
      for (const r of RECORDS.slice(cut)) rebuilt.apply(r);
      assert.deepEqual(rebuilt.toSnapshot(), full.toSnapshot(), `cut at ${cut}`);
    }
  });

  it("bounds remembered closed endpoints and correlations", () => {
    const s = new Store({ closedEndpoints: 2, correlations: 3, approvalHistory: 2, endedStreams: 2 });
    for (let i = 0; i < 5; i++) s.apply({ t: "ep", ep: ep(`c${i}`, "closed") });
    for (let i = 0; i < 5; i++) s.apply({ t: "corr", id: `k${i}`, ep: "e" });
    assert.deepEqual([...s.endpoints.keys()], ["c3", "c4"]);
    assert.deepEqual([...s.correlations.keys()], ["k2", "k3", "k4"]);
  });

  it("journal replay with a torn last record restores every complete record", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sb-store-"));
    try {
      const { journal } = await Journal.open<StoreSnapshot, JournalRecord>({ dir });
      for (const r of RECORDS) void journal.append(r);
      await journal.flush();
      await journal.close();
      const [segment] = (await readdir(dir)).filter((f) => f.startsWith("log-"));
      await appendFile(join(dir, segment!), '{"s":999,"r":{"t":"in_add","item":{"id":"torn"'); // crash mid-write
      const { journal: j2, recovered } = await Journal.open<StoreSnapshot, JournalRecord>({ dir });
      assert.equal(recovered.tornTail, true);
      const s = Store.fromSnapshot(recovered.snapshot);
      for (const r of recovered.records) s.apply(r);
      const expected = new Store();
      for (const r of RECORDS) expected.apply(r);
      assert.deepEqual(s.toSnapshot(), expected.toSnapshot());
      assert.equal(s.inbox.has("torn"), false);
      await j2.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
