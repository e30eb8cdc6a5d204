// A backlog of pending approvals against the real broker: what the broker keeps count of as it goes
// (pending per session and in total, the approval of each idempotency key, history) stays equal to
// what it holds, through every way an approval leaves `pending` and through a crash; a saved rule
// decides exactly the pending requests it allows however many are waiting. Timing is bench/backlog.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BrokerError } from "../../src/client/errors.js";
import type { Approval } from "../../src/protocol/index.js";
import { startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { del, post } from "../support/calls.js";
import { openStream, type Peer } from "../support/ws.js";
import { until } from "../support/wait.js";

const TOTAL = 6;
const LIMITS = { SWITCHBOARD_MAX_PENDING_APPROVALS_PER_SESSION: "4", SWITCHBOARD_MAX_PENDING_APPROVALS: String(TOTAL) };

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail("a request past the limit was accepted"),
    (e: unknown) => e as BrokerError,
  );

describe("approval backlog: counts", () => {
  let h: { home: string; cleanup(): Promise<void> };
  let b: TestBroker;
  let stream: Peer;

  before(async () => {
    h = await tempHome("sb-backlog-");
    b = await startBroker(h.home, LIMITS);
    // The test process owns every session: it lives, so its sessions wait for it across the crash below.
    stream = await openStream(b.record, process.pid);
  });
  after(async () => {
    await stream.close();
    await b.stop();
    await h.cleanup();
  });

  const session = async (name: string) => (await b.api.register({ plugin_pid: process.pid, kind: "backlog", session_name: name })).endpoint_id;
  const ask = (endpoint: string, extra: Record<string, unknown> = {}): Promise<Approval> =>
    b.api.requestApproval({ endpoint_id: endpoint, action: "sh", summary: "backlog", command: "make deploy", ...extra } as never);
  let fresh = 0;
  /** One more request, from a session with room of its own: accepted unless the total is reached. */
  const oneMore = async () => ask(await session(`more-${++fresh}`));
  const state = async (id: string) => (await b.api.approval(id)).state;

  /** The broker holds TOTAL pending, and its own count says so: one more is refused. */
  async function atLimit(when: string): Promise<void> {
    assert.equal((await b.api.approvals("pending")).length, TOTAL, `${when}: pending listed`);
    const e = await refusal(oneMore());
    assert.equal(e.code, "approvals_full", `${when}: one more is refused with approvals_full`);
  }

  it("the pending count follows asks, decisions, withdrawals, expiry, retries, a closed session and a crash", async () => {
    const a = await session("a");
    const bb = await session("b");
    const A = [await ask(a, { idempotency_key: "kA" }), await ask(a), await ask(a), await ask(a)];
    assert.equal((await refusal(ask(a))).code, "session_approvals_full", "per session");
    const B = [await ask(bb), await ask(bb)];
    await atLimit("filled");
    assert.equal((await ask(a, { idempotency_key: "kA" })).approval_id, A[0]!.approval_id, "a retry at the limit is answered with the approval it repeats");

    await b.api.decide(A[0]!.approval_id, { decision: "reject", decided_by: "backlog" });
    await oneMore();
    await atLimit("after a decision");

    await del(b.api, `/v1/approvals/${B[0]!.approval_id}`);
    await oneMore();
    await atLimit("after a withdrawal");

    await b.api.decide(A[1]!.approval_id, { decision: "approve", decided_by: "backlog" });
    const expiring = await oneMore().then((x) => x); // fills the place again …
    await b.api.decide(expiring.approval_id, { decision: "reject", decided_by: "backlog" });
    const timed = await ask(await session("timed"), { timeout_ms: 300 }); // … with one that expires
    await atLimit("with one about to expire");
    await until("the timed approval to expire", async () => (await state(timed.approval_id)) === "expired");
    await oneMore();
    await atLimit("after an expiry");

    await b.api.unregister(bb);
    await until("the closed session's approval to be cancelled", async () => (await state(B[1]!.approval_id)) === "cancelled");
    await oneMore();
    await atLimit("after the session closed");

    // A crash: everything pending is pending again, and counted again.
    await stream.close();
    await b.kill9();
    b = await b.restart();
    stream = await openStream(b.record, process.pid);
    await atLimit("after a crash");
    assert.equal((await ask(a, { idempotency_key: "kA" })).approval_id, A[0]!.approval_id, "after a crash, the key still names its approval");
    await b.api.decide(A[2]!.approval_id, { decision: "reject", decided_by: "backlog" });
    await oneMore();
    await atLimit("after a decision after the crash");

    // History lists only what ended, newest first, with the backlog around it.
    const history = await b.api.approvalHistory(100);
    const ended = [A[0]!, B[0]!, A[1]!, expiring, timed, B[1]!, A[2]!].map((x) => x.approval_id);
    assert.deepEqual(new Set(history.map((x) => x.approval_id)), new Set(ended), "history holds exactly the ended ones");
    assert.ok(
      history.every((x, i) => i === 0 || history[i - 1]!.decided_at! >= x.decided_at!),
      "newest first",
    );
    assert.equal(history[0]!.approval_id, A[2]!.approval_id);
  });
});

describe("approval backlog: a rule saved with many pending", () => {
  let h: { home: string; cleanup(): Promise<void> };
  let b: TestBroker;
  let stream: Peer;
  before(async () => {
    h = await tempHome("sb-backlog-rule-");
    b = await startBroker(h.home);
    stream = await openStream(b.record, process.pid);
  });
  after(async () => {
    await stream.close();
    await b.stop();
    await h.cleanup();
  });

  it("decides exactly the pending requests it allows, answers them all, and the rest stay pending", async () => {
    const ep = (await b.api.register({ plugin_pid: process.pid, kind: "backlog", session_name: "many" })).endpoint_id;
    const asked: Approval[] = [];
    for (let i = 0; i < 300; i++)
      asked.push(await b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: `#${i}`, command: i % 3 === 0 ? `npm run test:shard${i}` : `make deploy-${i}` }));
    const allowed = asked.filter((_, i) => i % 3 === 0).map((a) => a.approval_id);
    // Requests keep being answered while the rule is applied (no timing here: only that they are).
    const saving = post(b.api, "/v1/policy/rules", { scope: "session", endpoint_id: ep, rule: { id: "tests", decision: "allow", command: "npm run test:*" } });
    const health = await Promise.all(Array.from({ length: 5 }, () => b.api.health()));
    assert.ok(health.every((x) => x.ok));
    const { decided } = await saving;
    assert.deepEqual(decided, allowed, "the ids it decided, in the order they were asked");
    const pending = await b.api.approvals("pending");
    assert.equal(pending.length, 200);
    assert.ok(pending.every((a) => a.command!.startsWith("make deploy-")));
    for (const id of [allowed[0]!, allowed.at(-1)!]) {
      const a = await b.api.approval(id);
      assert.equal(a.state, "approved");
      assert.equal(a.decided_by, `rule tests (session many)`);
    }
    // The requester is told of each, as of a person's decision.
    const told = new Set<string>();
    await until("an approval_resolved push for each decided request", async () => {
      for (const f of stream.frames) if (f.event === "approval_resolved") told.add(f.approval.approval_id);
      return allowed.every((id) => told.has(id));
    });
  });
});
