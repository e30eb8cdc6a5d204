// What happened to an approval, in the one wording every place uses (protocol/approval-outcome.ts):
// a request that timed out was denied, and says so.
import { test } from "node:test";
import assert from "node:assert/strict";
import { approvalOutcome, TIMED_OUT_NOT_RUN, timedOutText } from "../../src/protocol/approval-outcome.js";
import { expiresIn } from "../../src/webview/format.js";

const at = (s: string) => `2026-12-06T03:00:${s}.000Z`;
const base = { decided_by: null, reason: null, created_at: at("00"), decided_at: at("30") };

test("each outcome in words; timed out reads as denied with how long it waited", () => {
  assert.deepEqual(approvalOutcome({ ...base, state: "expired", reason: "timed out", decided_by: "broker" }), {
    text: "denied: timed out after 30 s with nobody deciding",
    denied: true,
  });
  assert.deepEqual(approvalOutcome({ ...base, state: "approved", decided_by: "rule tests (user rules)" }), { text: "approved by rule tests (user rules)", denied: false });
  assert.deepEqual(approvalOutcome({ ...base, state: "rejected", decided_by: "alice", reason: "not now" }), { text: "rejected by alice: not now", denied: true });
  assert.deepEqual(approvalOutcome({ ...base, state: "cancelled" }), { text: "withdrawn by the agent", denied: true });
  assert.deepEqual(approvalOutcome({ ...base, state: "pending", decided_at: null }), { text: "pending", denied: false });
  assert.equal(timedOutText(), "denied: timed out with nobody deciding", "without times, no duration");
  assert.equal(timedOutText({ created_at: "x", decided_at: "y" }), "denied: timed out with nobody deciding", "unparsable times: no duration");
  assert.match(TIMED_OUT_NOT_RUN, /^Not run: denied because .* timed out\.$/);
});

test("a pending card counts down to being denied", () => {
  const now = Date.parse(at("00"));
  assert.equal(expiresIn(at("45"), now), "times out in 45 s");
  assert.equal(expiresIn(at("00"), now), "timing out: denied");
  assert.equal(expiresIn(null, now), null);
});
