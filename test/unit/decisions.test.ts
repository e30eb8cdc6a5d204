// The shared decision inbox of the adapters (src/adapters/shared/decisions.ts): a decision pushed
// before anyone waits is kept, one pushed while waiting ends the wait, and a wait ends by itself.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Decisions } from "../../src/adapters/shared/decisions.js";
import type { StreamEventFrame } from "../../src/client/index.js";

const resolved = (id: string, state = "approved"): StreamEventFrame => ({ event: "approval_resolved", endpointId: "ep", approval: { approval_id: id, state } });

test("a decision that beats the wait is kept for it, once", async () => {
  const d = new Decisions();
  assert.equal(d.onFrame(resolved("a1")), true);
  assert.equal((await d.next("a1", 1000))?.state, "approved");
  assert.equal(await d.next("a1", 10), undefined, "taken once");
});

test("a decision pushed while waiting ends the wait; other frames are left alone", async () => {
  const d = new Decisions();
  const waiting = d.next("a2", 10_000);
  assert.equal(d.onFrame({ event: "stream_cancelled", endpointId: "ep", stream_id: "s" }), false);
  d.onFrame(resolved("a2", "rejected"));
  assert.equal((await waiting)?.state, "rejected");
});

test("a pending or malformed push decides nothing", async () => {
  const d = new Decisions();
  assert.equal(d.onFrame(resolved("a3", "pending")), true);
  assert.equal(d.onFrame({ event: "approval_resolved", endpointId: "ep" }), true);
  assert.equal(await d.next("a3", 10), undefined);
});

test("a wait ends after its time or when aborted", async () => {
  const d = new Decisions();
  assert.equal(await d.next("x", 5), undefined);
  const ac = new AbortController();
  const w = d.next("y", 10_000, ac.signal);
  ac.abort();
  assert.equal(await w, undefined);
});
