// Register, route, inbox, dispatch, reattach with drain, stream replacement and the observer feed,
// against the real broker process.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { openFeed, openStream } from "../support/ws.js";

/** A live process whose pid can own endpoints, and be killed to test "owner gone". */
function sleeper() {
  const p = spawn("sleep", ["60"], { stdio: "ignore" });
  return { pid: p.pid!, kill: () => new Promise<void>((r) => (p.once("exit", () => r()), p.kill("SIGKILL"))) };
}

const until = async (what: string, fn: () => Promise<boolean>, ms = 5000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
};

describe("broker routing", () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  let b: TestBroker;
  before(async () => {
    home = await tempHome();
    b = await startBroker(home.home, { SWITCHBOARD_GRACE_MS: "1500" });
  });
  after(async () => {
    await b.stop();
    await home.cleanup();
  });

  it("routes by target, session name and correlation; acked pushes leave the queue", async () => {
    const owner = sleeper();
    const s = await openStream(b.record, owner.pid);
    try {
      const alice = await b.api.register({ plugin_pid: owner.pid, kind: "pi", session_name: "alice", workspace: { root: "/w", cwd: "/w/src" }, task_hint: "x".repeat(300) });
      const bob = await b.api.register({ plugin_pid: owner.pid, kind: "vscode", session_name: "bob" });
      const eps = await b.api.endpoints();
      const a = eps.find((e) => e.endpoint_id === alice.endpoint_id)!;
      assert.equal(a.kind, "pi");
      assert.equal(a.label, "alice");
      assert.deepEqual(a.workspace, { root: "/w", cwd: "/w/src" });
      assert.equal([...a.task_hint!].length, 200, "task hints are truncated to 200 code points");
      assert.equal(a.state, "active");

      const r1 = await b.api.ingress({ from: "ci", content: "to alice", metadata: { target_endpoint_id: alice.endpoint_id, thread: "t1" } });
      assert.equal(r1.status, "delivered");
      const f1 = await s.next((f) => f.content === "to alice");
      assert.equal(f1.event, "message_received");
      assert.equal(f1.endpoint_id, alice.endpoint_id);
      assert.equal(f1.from, "ci");
      assert.equal(f1.metadata.thread, "t1");
      assert.equal(f1.sourceMessageId, r1.messageId);
      assert.match(f1.push_id, /^push_/);

      // send by session name from alice to bob; bob's reply (in_reply_to) comes back to alice by correlation.
      const sent = await b.api.send({ endpoint_id: alice.endpoint_id, to: "bob", content: "hi bob", metadata: { note: 1 } });
      assert.equal(sent.status, "delivered");
      const atBob = await s.next((f) => f.content === "hi bob");
      assert.equal(atBob.endpoint_id, bob.endpoint_id);
      assert.equal(atBob.metadata.source_endpoint_id, alice.endpoint_id);
      assert.equal(atBob.metadata.correlation_id, sent.correlation_id);
      assert.equal(atBob.from, "alice");
      const reply = await b.api.ingress({ from: "bob-agent", content: "answer", metadata: { correlation_id: sent.correlation_id } });
      assert.equal(reply.target_endpoint_id, alice.endpoint_id);
      await s.next((f) => f.content === "answer" && f.endpoint_id === alice.endpoint_id);
      const reply2 = await b.api.send({ endpoint_id: bob.endpoint_id, to: alice.endpoint_id, content: "re", metadata: { in_reply_to: sent.correlation_id } });
      assert.equal(reply2.correlation_id, sent.correlation_id, "a reply reuses the correlation id it answers");

      await until("acks to empty the queues", async () => (await b.api.endpoints()).every((e) => e.buffered_count === 0));
      await b.api.unregister(alice.endpoint_id);
      await b.api.unregister(bob.endpoint_id);
    } finally {
      await s.close();
      await owner.kill();
    }
  });

  it("unaddressed messages wait in the inbox; dispatch delivers to any open session; dismiss removes", async () => {
    const owner = sleeper();
    const s = await openStream(b.record, owner.pid);
    try {
      const ep = await b.api.register({ plugin_pid: owner.pid, kind: "pi", session_name: "carol" });
      const m1 = await b.api.ingress({ from: "webhook", content: "<img src=x onerror=alert(1)>", contentType: "text", metadata: { topic: "triage" } });
      const m2 = await b.api.ingress({ from: "webhook", content: "second" });
      assert.equal(m1.status, "undispatched");
      const items = await b.api.undispatched(process.pid);
      const item = items.find((i) => i.id === m1.undispatched_id)!;
      assert.equal(item.reason, "unaddressed");
      assert.equal(item.claim_policy, "owner_select_required");
      assert.equal(item.sender_address, "webhook");
      assert.equal(item.content, "<img src=x onerror=alert(1)>");
      assert.deepEqual(item.metadata, { topic: "triage" });
      assert.equal(item.source_message_id, m1.messageId);

      await assert.rejects(b.api.dispatch(item.id, "ep_nope"), (e: any) => e.code === "dispatch_failed" && /target endpoint not found/.test(e.message));
      assert.ok(
        (await b.api.undispatched(process.pid)).some((i) => i.id === item.id),
        "a failed dispatch leaves the item in the inbox",
      );

      const d = await b.api.dispatch(item.id, ep.endpoint_id);
      assert.equal(d.status, "delivered", "dispatch answers after the target acknowledged the push");
      const pushed = await s.next((f) => f.sourceMessageId === m1.messageId);
      assert.equal(pushed.metadata.dispatched_from, item.id);
      assert.equal(pushed.metadata.topic, "triage");
      assert.ok(!(await b.api.undispatched(process.pid)).some((i) => i.id === item.id));
      await assert.rejects(b.api.dispatch(item.id, ep.endpoint_id), (e: any) => e.code === "dispatch_failed" && /unknown undispatched_id/.test(e.message));

      await b.api.dismiss(m2.undispatched_id!, "spam");
      assert.ok(!(await b.api.undispatched(process.pid)).some((i) => i.id === m2.undispatched_id));
      await b.api.unregister(ep.endpoint_id);
    } finally {
      await s.close();
      await owner.kill();
    }
  });

  it("an endpoint registered with messages_v1: false is refused as a recipient (409 recipient_takes_no_messages); the item stays in the inbox", async () => {
    const owner = sleeper();
    const s = await openStream(b.record, owner.pid);
    try {
      const run = await b.api.register({ plugin_pid: owner.pid, kind: "cli", session_name: "run in repo", runtime_capabilities: { messages_v1: false } });
      const agent = await b.api.register({ plugin_pid: owner.pid, kind: "pi", session_name: "dave" });
      // Old and MASONS clients do not declare it: they take messages.
      const masonsStyle = await b.api.register({ plugin_pid: owner.pid, kind: "claude-code", session_name: "erin", runtime_capabilities: ["foreground_channel_v1"] });
      const views = await b.api.endpoints();
      const view = (id: string) => views.find((e) => e.endpoint_id === id)!;
      assert.equal(view(run.endpoint_id).accepts_messages, false);
      assert.equal(view(agent.endpoint_id).accepts_messages, true);
      assert.equal(view(masonsStyle.endpoint_id).accepts_messages, true);

      const m = await b.api.ingress({ from: "ci", content: "for a human to route" });
      const refused = (e: any) =>
        e.code === "recipient_takes_no_messages" && e.status === 409 && /"run in repo" \(cli\) takes no messages/.test(e.message) && e.extra?.endpoint_id === run.endpoint_id;
      await assert.rejects(b.api.dispatch(m.undispatched_id!, run.endpoint_id), refused);
      assert.ok(
        (await b.api.undispatched(process.pid)).some((i) => i.id === m.undispatched_id),
        "the refused item stays in the inbox",
      );
      // Nor by name, id or metadata on /v1/send and /v1/messages; nothing is stored for it.
      await assert.rejects(b.api.send({ endpoint_id: agent.endpoint_id, to: "run in repo", content: "x" }), refused);
      await assert.rejects(b.api.ingress({ from: "ci", to: run.endpoint_id, content: "x" }), refused);
      await assert.rejects(b.api.ingress({ from: "ci", content: "x", metadata: { target_endpoint_id: run.endpoint_id } }), refused);
      assert.equal(view(run.endpoint_id).buffered_count, 0);
      assert.equal((await b.api.endpoints()).find((e) => e.endpoint_id === run.endpoint_id)!.buffered_count, 0);
      assert.ok(!s.frames.some((f: any) => f.event === "message_received" && f.endpoint_id === run.endpoint_id), "nothing was pushed to it");

      const d = await b.api.dispatch(m.undispatched_id!, agent.endpoint_id);
      assert.equal(d.status, "delivered");
      for (const ep of [run, agent, masonsStyle]) await b.api.unregister(ep.endpoint_id);
    } finally {
      await s.close();
      await owner.kill();
    }
  });

  it("a dropped stream makes the endpoint reconnecting; reattach drains the buffer in order", async () => {
    const owner = sleeper();
    let s = await openStream(b.record, owner.pid);
    const ep = await b.api.register({ plugin_pid: owner.pid, kind: "pi", session_name: "dave" });
    await s.close();
    await until("reconnecting", async () => (await b.api.endpoints()).find((e) => e.endpoint_id === ep.endpoint_id)?.state === "reconnecting");
    for (let i = 0; i < 5; i++) assert.equal((await b.api.ingress({ from: "t", content: `m${i}`, metadata: { target_endpoint_id: ep.endpoint_id } })).status, "stored");
    await assert.rejects(b.api.send({ endpoint_id: ep.endpoint_id, to: "dave", content: "x" }), (e: any) => e.code === "endpoint_not_active");
    await assert.rejects(b.api.reattach(ep.endpoint_id, owner.pid), (e: any) => e.code === "ipc_channel_missing");
    s = await openStream(b.record, owner.pid);
    try {
      const r = await b.api.reattach(ep.endpoint_id, owner.pid);
      assert.deepEqual(r, { restored: true, reconnecting_buffer_count: 5 });
      const got = [];
      for (let i = 0; i < 5; i++) got.push((await s.next((f) => f.event === "message_received")).content);
      assert.deepEqual(got, ["m0", "m1", "m2", "m3", "m4"]);
      assert.equal((await b.api.endpoints()).find((e) => e.endpoint_id === ep.endpoint_id)?.state, "active");
      await b.api.unregister(ep.endpoint_id);
    } finally {
      await s.close();
      await owner.kill();
    }
  });

  it("a second stream for the same pid replaces the first and takes over its endpoints and unacked pushes", async () => {
    const owner = sleeper();
    const first = await openStream(b.record, owner.pid, { autoAck: false });
    const ep = await b.api.register({ plugin_pid: owner.pid, kind: "pi" });
    await b.api.ingress({ from: "t", content: "unacked", metadata: { target_endpoint_id: ep.endpoint_id } });
    await first.next((f) => f.content === "unacked");
    const second = await openStream(b.record, owner.pid);
    try {
      const closed = await first.closed;
      assert.deepEqual(closed, { code: 1000, reason: "replaced" });
      const again = await second.next((f) => f.content === "unacked");
      assert.equal(again.endpoint_id, ep.endpoint_id);
      await b.api.ingress({ from: "t", content: "after", metadata: { target_endpoint_id: ep.endpoint_id } });
      await second.next((f) => f.content === "after");
      assert.equal((await b.api.endpoints()).find((e) => e.endpoint_id === ep.endpoint_id)?.state, "active");
      await b.api.unregister(ep.endpoint_id);
    } finally {
      await second.close();
      await owner.kill();
    }
  });

  it("an owner that died closes its endpoints at once; their buffered messages move to the inbox", async () => {
    const owner = sleeper();
    const s = await openStream(b.record, owner.pid, { autoAck: false });
    const ep = await b.api.register({ plugin_pid: owner.pid, kind: "pi", session_name: "erin" });
    const m = await b.api.ingress({ from: "t", content: "never acked", metadata: { target_endpoint_id: ep.endpoint_id } });
    await s.next((f) => f.content === "never acked");
    await owner.kill();
    s.ws.terminate();
    await until("closed", async () => !(await b.api.endpoints()).some((e) => e.endpoint_id === ep.endpoint_id));
    const item = (await b.api.undispatched(process.pid)).find((i) => i.source_message_id === m.messageId);
    assert.ok(item, "the unacknowledged message is not lost");
    assert.equal(item.reason, "closed_session_continuation");
    assert.equal(item.original_target_endpoint_id, ep.endpoint_id);
    // A message for the closed session by name is a continuation, not an error.
    const late = await b.api.ingress({ from: "t", to: "erin", content: "late" });
    assert.equal(late.status, "undispatched");
    assert.equal((await b.api.undispatched(process.pid)).find((i) => i.id === late.undispatched_id)?.reason, "closed_session_continuation");
  });

  it("grace expiry closes a reconnecting endpoint", async () => {
    const owner = sleeper();
    const s = await openStream(b.record, owner.pid);
    const ep = await b.api.register({ plugin_pid: owner.pid, kind: "pi" });
    await s.close();
    await b.api.ingress({ from: "t", content: "buffered", metadata: { target_endpoint_id: ep.endpoint_id } });
    await until("grace expiry", async () => !(await b.api.endpoints()).some((e) => e.endpoint_id === ep.endpoint_id), 6000);
    assert.ok((await b.api.undispatched(process.pid)).some((i) => i.content === "buffered" && i.reason === "closed_session_continuation"));
    await owner.kill();
  });

  it("the observer feed sends a snapshot, then ordered changes, and resumes with since", async () => {
    const feed = await openFeed(b.record);
    const snap = await feed.next((f) => f.type === "snapshot");
    assert.ok(Array.isArray(snap.endpoints) && Array.isArray(snap.inbox));
    const m = await b.api.ingress({ from: "feed", content: "watch me" });
    const added = await feed.next((f) => f.type === "change" && f.change.kind === "inbox_added");
    assert.equal(added.change.item.id, m.undispatched_id);
    assert.equal(added.seq, snap.seq + 1);
    await feed.close();

    await b.api.dismiss(m.undispatched_id!);
    const resumed = await openFeed(b.record, `?since=${added.seq}&epoch=${added.epoch}`);
    const removed = await resumed.next();
    assert.equal(removed.type, "change", "resume sends only what was missed");
    assert.equal(removed.seq, added.seq + 1);
    assert.deepEqual(removed.change, { kind: "inbox_removed", id: m.undispatched_id, reason: "dismissed" });
    await resumed.close();

    const otherEpoch = await openFeed(b.record, `?since=${added.seq}&epoch=not-this-run`);
    assert.equal((await otherEpoch.next()).type, "snapshot", "another broker run's seq gets a fresh snapshot");
    await otherEpoch.close();
    const future = await openFeed(b.record, `?since=999999`);
    assert.equal((await future.next()).type, "snapshot");
    await future.close();
  });
});
