// The approval lifecycle (src/broker/approval-lifecycle.ts) as a pure core: every state against every
// event, and the one rule that matters most, that only the first decision ever wins.
import { test } from "node:test";
import assert from "node:assert/strict";
import { approvalTransition, type ApprovalEvent } from "../../src/broker/approval-lifecycle.js";
import type { ApprovalState } from "../../src/protocol/approvals.js";

const STATES: ApprovalState[] = ["pending", "approved", "rejected", "expired", "cancelled"];
const EVENTS: ApprovalEvent[] = [
  { type: "decide", decision: "approve" },
  { type: "decide", decision: "reject" },
  { type: "withdraw" },
  { type: "expire" },
  { type: "requester_closed" },
];
const label = (e: ApprovalEvent) => (e.type === "decide" ? `decide ${e.decision}` : e.type);

/** The whole table, written out: state → event → outcome (next state, "=" unchanged, or the refusal code). */
const TABLE: Record<ApprovalState, Record<string, string>> = {
  pending: { "decide approve": "approved", "decide reject": "rejected", withdraw: "cancelled", expire: "expired", requester_closed: "cancelled" },
  approved: { "decide approve": "=", "decide reject": "!approval_already_decided", withdraw: "!approval_already_decided", expire: "=", requester_closed: "=" },
  rejected: { "decide approve": "!approval_already_decided", "decide reject": "=", withdraw: "!approval_already_decided", expire: "=", requester_closed: "=" },
  expired: { "decide approve": "!approval_expired", "decide reject": "!approval_expired", withdraw: "!approval_expired", expire: "=", requester_closed: "=" },
  cancelled: { "decide approve": "!approval_cancelled", "decide reject": "!approval_cancelled", withdraw: "=", expire: "=", requester_closed: "=" },
};

test("every state answers every event as the table says", () => {
  for (const state of STATES)
    for (const event of EVENTS) {
      const out = approvalTransition(state, event);
      const got = out.kind === "changed" ? out.next : out.kind === "unchanged" ? "=" : `!${out.code}`;
      assert.equal(got, TABLE[state][label(event)], `${state} + ${label(event)}`);
    }
});

test("refusals carry a sentence", () => {
  for (const state of STATES)
    for (const event of EVENTS) {
      const out = approvalTransition(state, event);
      if (out.kind === "refused") assert.match(out.message, /^[A-Z].*\.$/, `${state} + ${label(event)}`);
    }
});

test("only the first decision wins, whatever comes after it", () => {
  for (const first of EVENTS) {
    const out = approvalTransition("pending", first);
    assert.equal(out.kind, "changed");
    const settled = (out as { next: ApprovalState }).next;
    // Any sequence of later events leaves the state where the first put it.
    for (const a of EVENTS)
      for (const b of EVENTS) {
        for (const e of [a, b]) assert.notEqual(approvalTransition(settled, e).kind, "changed", `${settled} moved on ${label(e)}`);
      }
  }
});

test("a decided approval repeats the same decision idempotently and refuses the other", () => {
  assert.deepEqual(approvalTransition("approved", { type: "decide", decision: "approve" }), { kind: "unchanged" });
  const other = approvalTransition("approved", { type: "decide", decision: "reject" });
  assert.equal(other.kind, "refused");
  assert.match((other as { message: string }).message, /first decision stands/);
});
