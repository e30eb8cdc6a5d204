// The store's approval indexes (src/broker/store.ts), kept as records are applied instead of found by
// a scan per request: the approval of an endpoint's idempotency key, and the ended approvals that
// history lists. Checked against a recount over every approval after each of many random records,
// through trimming of history and through a restart (snapshot, then the records after it).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Store, type JournalRecord, type StoreLimits } from "../../src/broker/store.js";
import type { Approval } from "../../src/protocol/index.js";
import { approval as approvalFixture } from "../support/webview/fixtures.js";

const LIMITS: StoreLimits = { closedEndpoints: 10, correlations: 10, approvalHistory: 7, endedStreams: 5 };
const ENDPOINTS = ["ep_a", "ep_b", "ep_c"];
const KEYS = ["k1", "k2", "k3", "k4", null];

/** A small deterministic generator (tests must not depend on chance). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const approval = (id: string, endpoint: string, key: string | null): Approval =>
  approvalFixture({ approval_id: id, endpoint_id: endpoint, session: endpoint, summary: id, command: `echo ${id}`, cwd: null, idempotency_key: key });

/** What a scan over every approval finds: the retry lookup and history as they were before the indexes. */
function recount(store: Store) {
  const all = [...store.approvals.values()];
  const byKey: Record<string, string | undefined> = {};
  for (const ep of ENDPOINTS) for (const key of KEYS) if (key) byKey[`${ep}/${key}`] = all.find((a) => a.endpoint_id === ep && a.idempotency_key === key)?.approval_id;
  return { byKey, ended: all.filter((a) => a.state !== "pending").map((a) => a.approval_id) };
}

function indexed(store: Store) {
  const byKey: Record<string, string | undefined> = {};
  for (const ep of ENDPOINTS) for (const key of KEYS) if (key) byKey[`${ep}/${key}`] = store.approvalByKey(ep, key)?.approval_id;
  return { byKey, ended: store.endedApprovalList().map((a) => a.approval_id) };
}

describe("approval indexes", () => {
  it("the key index and the ended list equal a recount after every record, through trimming and a restart", () => {
    const next = rng(15);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    let store = new Store(LIMITS);
    const log: JournalRecord[] = [];
    let snapshotAt = -1;
    let snapshot = store.toSnapshot();
    let n = 0;
    let checks = 0;
    for (let step = 0; step < 3000; step++) {
      const pending = [...store.approvals.values()].filter((a) => a.state === "pending");
      let rec: JournalRecord;
      if (pending.length === 0 || next() < 0.55) {
        // A new request; as the desk does, a key already kept for that endpoint is a retry, not a new approval.
        const ep = pick(ENDPOINTS);
        const key = pick(KEYS);
        if (key && store.approvalByKey(ep, key)) continue;
        rec = { t: "apr", a: approval(`apr_${n++}`, ep, key) };
      } else {
        const a = pick(pending);
        const state = pick(["approved", "rejected", "expired", "cancelled"] as const);
        // Decisions come as the changed fields (apr_upd); a stream link changes an ended one again.
        rec =
          next() < 0.8
            ? { t: "apr_upd", id: a.approval_id, set: { state, decided_at: `2026-01-01T00:00:${String(step % 60).padStart(2, "0")}.000Z` } }
            : { t: "apr", a: { ...a, state } };
      }
      if (next() < 0.05 && pending.length) rec = { t: "apr_upd", id: pick([...store.approvals.keys()]), set: { stream_id: `str_${step}` } };
      store.apply(rec);
      log.push(rec);
      assert.deepEqual(indexed(store), recount(store), `after record ${log.length - 1}: ${JSON.stringify(rec)}`);
      checks++;
      if (step % 400 === 399) {
        snapshot = store.toSnapshot();
        snapshotAt = log.length - 1;
      }
      if (step % 700 === 699) {
        // A restart: the last snapshot, then the records after it.
        const restored = Store.fromSnapshot(JSON.parse(JSON.stringify(snapshot)), LIMITS);
        for (const r of log.slice(snapshotAt + 1)) restored.apply(JSON.parse(JSON.stringify(r)) as JournalRecord);
        assert.deepEqual(indexed(restored), indexed(store), `a restart at record ${log.length - 1} rebuilds the same indexes`);
        store = restored;
      }
    }
    assert.ok(checks > 2000);
    // Bounded: the key index holds at most one entry per kept approval, history at most its limit.
    const sizes = store.approvalIndexSizes;
    assert.ok(sizes.ended <= LIMITS.approvalHistory, `ended ${sizes.ended}`);
    assert.ok(sizes.byIdempotencyKey <= store.approvals.size, `key index ${sizes.byIdempotencyKey} for ${store.approvals.size} approvals`);
  });

  it("a key whose approval left history can be used again, and then names the new one", () => {
    const store = new Store({ ...LIMITS, approvalHistory: 1 });
    store.apply({ t: "apr", a: approval("apr_old", "ep_a", "k") });
    store.apply({ t: "apr_upd", id: "apr_old", set: { state: "rejected" } });
    store.apply({ t: "apr", a: { ...approval("apr_other", "ep_b", null), state: "approved" } }); // pushes apr_old out of history
    assert.equal(store.approvals.has("apr_old"), false);
    assert.equal(store.approvalByKey("ep_a", "k"), undefined, "forgotten with its approval");
    store.apply({ t: "apr", a: approval("apr_new", "ep_a", "k") });
    assert.equal(store.approvalByKey("ep_a", "k")?.approval_id, "apr_new");
    assert.equal(store.approvalByKey("ep_b", "k"), undefined, "keys are per endpoint");
  });
});
