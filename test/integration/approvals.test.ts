// Approvals against the real broker: idempotency, the racing-decision rule, long-poll, timeout,
// withdrawal, requester closing, a crash with approvals pending, and the tamper-evident audit log.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { verifyChain } from "../../src/platform/audit-chain.js";
import { startBroker, startTempBroker, tempHome, type TempBroker } from "../support/broker.js";
import { del, get, post } from "../support/calls.js";
import { openFeed, openStream } from "../support/ws.js";
import { runCli } from "../support/cli.js";

describe("approvals", () => {
  let b: TempBroker;
  let stream: Awaited<ReturnType<typeof openStream>>;
  let ep: string;
  before(async () => {
    b = await startTempBroker();
    stream = await openStream(b.record, process.pid);
    ep = (await b.api.register({ plugin_pid: process.pid, kind: "pi", session_name: "agent-1" })).endpoint_id;
  });
  after(async () => {
    await stream.close();
    await b.cleanup();
  });

  const ask = (extra: object = {}) => post(b.api, "/v1/approvals", { endpoint_id: ep, action: "sh", summary: "run tests", command: "npm test", cwd: "/w", ...extra });

  it("a request is pending with an unguessable id and shows in lists and the feed", async () => {
    const feed = await openFeed(b.record);
    await feed.next((f) => f.type === "snapshot");
    const a = await ask({ diff: "--- a\n+++ b\n" });
    assert.equal(a.state, "pending");
    assert.match(a.approval_id, /^apr_[A-Za-z0-9_-]{22}$/);
    assert.equal(a.session, "agent-1");
    assert.equal(a.session_kind, "pi");
    assert.equal(a.command, "npm test");
    assert.equal(a.execute, "agent");
    assert.ok((await get(b.api, "/v1/approvals?state=pending")).approvals.some((x: any) => x.approval_id === a.approval_id));
    const change = await feed.next((f) => f.type === "change" && f.change.kind === "approval_upserted");
    assert.equal(change.change.approval.approval_id, a.approval_id);
    await feed.close();
    const snap = await openFeed(b.record);
    assert.ok(
      (await snap.next()).approvals.some((x: any) => x.approval_id === a.approval_id),
      "a new window's snapshot shows pending approvals",
    );
    await snap.close();
    await del(b.api, `/v1/approvals/${a.approval_id}`);
  });

  it("repeating an idempotency key returns the same approval", async () => {
    const [a1, a2] = await Promise.all([ask({ idempotency_key: "k1" }), ask({ idempotency_key: "k1" })]);
    assert.equal(a1.approval_id, a2.approval_id);
    assert.equal((await ask({ idempotency_key: "k1" })).approval_id, a1.approval_id);
    assert.notEqual((await ask({ idempotency_key: "k2" })).approval_id, a1.approval_id);
  });

  it("many concurrent decisions: exactly one wins, same decisions repeat its result, others get 409", async () => {
    const a = await ask();
    const decisions = Array.from({ length: 40 }, (_, i) =>
      post(b.api, `/v1/approvals/${a.approval_id}/decision`, { decision: i % 2 ? "reject" : "approve", decided_by: `window-${i}`, reason: `r${i}` }).then(
        (r) => ({ ok: true as const, r }),
        (e) => ({ ok: false as const, e }),
      ),
    );
    const results = await Promise.all(decisions);
    const final = await get(b.api, `/v1/approvals/${a.approval_id}`);
    assert.ok(final.state === "approved" || final.state === "rejected");
    const winning = final.state === "approved" ? "approve" : "reject";
    for (const [i, res] of results.entries()) {
      const mine = i % 2 ? "reject" : "approve";
      if (mine === winning) {
        assert.ok(res.ok, `decision ${i} agrees with the winner`);
        assert.equal(res.r.decided_by, final.decided_by, "everyone sees the first decider");
        assert.equal(res.r.reason, final.reason);
      } else {
        assert.ok(!res.ok);
        assert.equal(res.e.code, "approval_already_decided");
        assert.equal(res.e.status, 409);
        assert.equal(res.e.extra.state, final.state);
      }
    }
    const push = await stream.next((f) => f.event === "approval_resolved" && f.approval.approval_id === a.approval_id);
    assert.equal(push.approval.state, final.state, "the requester is told once, with the winning decision");
    assert.match(push.push_id, /^push_/);
  });

  it("a long-poll returns as soon as the approval is decided", async () => {
    const a = await ask();
    const waiting = get(b.api, `/v1/approvals/${a.approval_id}?wait_ms=10000`);
    const t0 = Date.now();
    setTimeout(() => void post(b.api, `/v1/approvals/${a.approval_id}/decision`, { decision: "approve", decided_by: "me" }), 100);
    const decided = await waiting;
    assert.equal(decided.state, "approved");
    assert.ok(Date.now() - t0 < 5000);
    const timedOut = await get(b.api, `/v1/approvals/${(await ask()).approval_id}?wait_ms=50`);
    assert.equal(timedOut.state, "pending");
  });

  it("timeout expires it; a late decision gets 409 with the state", async () => {
    const a = await ask({ timeout_ms: 200 });
    const done = await get(b.api, `/v1/approvals/${a.approval_id}?wait_ms=5000`);
    assert.equal(done.state, "expired");
    await assert.rejects(
      post(b.api, `/v1/approvals/${a.approval_id}/decision`, { decision: "approve", decided_by: "me" }),
      (e: any) => e.status === 409 && e.code === "approval_expired" && e.extra.state === "expired",
    );
  });

  it("withdrawal cancels; deciding it then gets 409 approval_cancelled", async () => {
    const a = await ask();
    assert.equal((await del(b.api, `/v1/approvals/${a.approval_id}`)).state, "cancelled");
    assert.equal((await del(b.api, `/v1/approvals/${a.approval_id}`)).state, "cancelled", "withdrawing twice is harmless");
    await assert.rejects(post(b.api, `/v1/approvals/${a.approval_id}/decision`, { decision: "reject", decided_by: "me" }), (e: any) => e.code === "approval_cancelled");
  });

  it("when the requesting endpoint closes, its pending approvals are cancelled", async () => {
    const other = (await b.api.register({ plugin_pid: process.pid, kind: "pi", session_name: "short-lived" })).endpoint_id;
    const a = await post(b.api, "/v1/approvals", { endpoint_id: other, action: "edit", summary: "edit x" });
    await b.api.unregister(other);
    assert.equal((await get(b.api, `/v1/approvals/${a.approval_id}`)).state, "cancelled");
  });

  it("bad requests are refused with stable codes", async () => {
    await assert.rejects(post(b.api, "/v1/approvals", { endpoint_id: ep, action: "rm", summary: "x" }), (e: any) => e.code === "bad_request" && /action/.test(e.message));
    await assert.rejects(post(b.api, "/v1/approvals", { endpoint_id: "ep_nope", action: "sh", summary: "x" }), (e: any) => e.code === "unknown_endpoint");
    await assert.rejects(get(b.api, "/v1/approvals/apr_nope"), (e: any) => e.status === 404 && e.code === "approval_unknown");
    await assert.rejects(get(b.api, "/v1/approvals?state=weird"), (e: any) => e.code === "bad_request");
    const a = await ask();
    await assert.rejects(post(b.api, `/v1/approvals/${a.approval_id}/decision`, { decision: "maybe", decided_by: "x" }), (e: any) => e.code === "bad_request");
    await assert.rejects(post(b.api, `/v1/approvals/${a.approval_id}/decision`, { decision: "approve" }), (e: any) => /decided_by/.test(e.message));
  });

  it("history lists decided approvals, newest first", async () => {
    const h = (await get(b.api, "/v1/approvals/history?limit=3")).approvals;
    assert.equal(h.length, 3);
    assert.ok(h.every((a: any) => a.state !== "pending"));
    assert.ok(h[0].decided_at >= h[1].decided_at);
  });

  it("the audit log is read in pages of bounded size: the pages together are the whole log, and a made-up offset is refused", async () => {
    for (let i = 0; i < 12; i++) await post(b.api, `/v1/approvals/${(await ask({ summary: `page ${i}` })).approval_id}/decision`, { decision: "reject", decided_by: "pager" });
    const whole = (await readFile(join(b.home, "broker", "audit", "audit.ndjson"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.ok(whole.length >= 12);
    const pages: any[] = [];
    for (let from: number | null = 0; from !== null; ) {
      const page = await get(b.api, `/v1/audit?limit=5${from ? `&from=${from}` : ""}`);
      assert.ok(page.records.length >= 1 && page.records.length <= 5, `a page holds 1 to 5 records (${page.records.length})`);
      pages.push(page);
      from = page.next;
    }
    assert.equal(pages.length, Math.ceil(whole.length / 5));
    assert.deepEqual(
      pages.flatMap((p) => p.records),
      whole,
      "the pages, in order, are the file",
    );
    assert.deepEqual((await b.api.auditAll()).records, whole, "the client's auditAll walks the same pages");
    assert.equal((await get(b.api, "/v1/audit")).next, null, "the default page (1,000 records) holds this whole log");
    const second = pages[1].records[0];
    const offset = pages[0].next as number;
    for (const bad of [`from=${offset + 1}`, `from=${offset - 1}`, "from=999999999", "from=-1", "from=x", "limit=0", "limit=5001"]) {
      await assert.rejects(get(b.api, `/v1/audit?${bad}`), (e: any) => e.status === 400 && e.code === "bad_request" && /from|limit/.test(e.message), bad);
    }
    assert.deepEqual((await get(b.api, `/v1/audit?from=${offset}&limit=1`)).records, [second], "a next offset reads on from its record");
    const listed = await runCli(b.home, ["audit", "verify"]);
    assert.match(listed.stdout, new RegExp(`intact: ${whole.length} records`), "switchboard audit verify reads every page");
  });

  it("the audit log chains every outcome, and tampering is detected at the first broken record", async () => {
    const audit = await get(b.api, "/v1/audit");
    assert.ok(audit.records.length >= 5);
    const check = verifyChain(audit.records);
    assert.equal(check.ok, true);
    assert.equal((check as { head: string }).head, audit.head);
    const cli = (args: string[]) => runCli(b.home, args);
    const intact = await cli(["audit", "verify"]);
    assert.equal(intact.code, 0);
    assert.match(intact.stdout, /The audit log is intact: \d+ records/);
    const file = join(b.home, "broker", "audit", "audit.ndjson");
    const lines = (await readFile(file, "utf8")).trim().split("\n");
    const third = JSON.parse(lines[2]!);
    third.outcome = third.outcome === "approved" ? "rejected" : "approved";
    lines[2] = JSON.stringify(third);
    await writeFile(file, lines.join("\n") + "\n");
    const tampered = verifyChain((await get(b.api, "/v1/audit")).records);
    assert.equal(tampered.ok, false);
    assert.equal((tampered as { seq: unknown }).seq, 3);
    assert.match((tampered as { problem: string }).problem, /content was changed/);
    const broken = await cli(["audit", "verify"]);
    assert.equal(broken.code, 1, "switchboard audit verify fails on a tampered log");
    assert.match(broken.stdout, /broken at record 3 \(seq 3\): it does not match its own digest/);
  });
});

describe("approvals across a crash", () => {
  it("a pending approval survives kill -9 and every new window sees it again", async () => {
    const { home, cleanup } = await tempHome();
    let b = await startBroker(home);
    let s = await openStream(b.record, process.pid);
    try {
      const ep = (await b.api.register({ plugin_pid: process.pid, kind: "pi" })).endpoint_id;
      const a = await post(b.api, "/v1/approvals", { endpoint_id: ep, action: "sh", summary: "deploy", command: "make deploy", timeout_ms: 600_000 });
      const decided = await post(b.api, "/v1/approvals", { endpoint_id: ep, action: "env", summary: "ls", command: "ls" });
      await post(b.api, `/v1/approvals/${decided.approval_id}/decision`, { decision: "approve", decided_by: "w1" });
      await s.close();
      await b.kill9();
      b = await b.restart();
      const feed = await openFeed(b.record);
      const snap = await feed.next();
      assert.deepEqual(
        snap.approvals.map((x: any) => x.approval_id),
        [a.approval_id],
      );
      assert.equal(snap.approvals[0].command, "make deploy");
      await feed.close();
      assert.equal((await get(b.api, `/v1/approvals/${decided.approval_id}`)).state, "approved");
      // The requester comes back, and a decision after the crash still reaches it.
      s = await openStream(b.record, process.pid);
      await b.api.reattach(ep, process.pid);
      await post(b.api, `/v1/approvals/${a.approval_id}/decision`, { decision: "reject", decided_by: "w2", reason: "not today" });
      const push = await s.next((f) => f.event === "approval_resolved" && f.approval.approval_id === a.approval_id);
      assert.equal(push.approval.reason, "not today");
      assert.equal(verifyChain((await get(b.api, "/v1/audit")).records).ok, true);
    } finally {
      await s.close();
      await b.stop();
      await cleanup();
    }
  });
});
