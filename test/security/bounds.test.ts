// Bounds everywhere (issue 15, item 4): every backlog a client can grow has a limit with a setting,
// and reaching it is refused with a stable code and a sentence naming the limit and the setting;
// nothing past the limit is stored. Long approval texts travel as previews (listings, snapshots,
// changes) with the full text one request away; replays come in pages.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BrokerError } from "../../src/client/errors.js";
import { APPROVAL_PREVIEW_BYTES } from "../../src/protocol/index.js";
import { VERDICT_PARTS_BYTES, VERDICT_TEXT_BYTES } from "../../src/broker/approval-preview.js";
import { startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { get, post, del } from "../support/calls.js";
import { openFeed, openStream, type Peer } from "../support/ws.js";
import { summary } from "../support/faults.js";

const LIMITS = {
  SWITCHBOARD_MAX_PENDING_APPROVALS_PER_SESSION: "3",
  SWITCHBOARD_MAX_PENDING_APPROVALS: "5",
  SWITCHBOARD_MAX_APPROVAL_COMMAND_BYTES: "10000",
  SWITCHBOARD_MAX_APPROVAL_DETAIL_BYTES: "2000",
  SWITCHBOARD_MAX_APPROVAL_DIFF_BYTES: "20000",
  SWITCHBOARD_MAX_ENDPOINTS_PER_PID: "4",
  SWITCHBOARD_MAX_STREAMS_PER_PRODUCER: "2",
  SWITCHBOARD_MAX_STREAMS: "3",
  SWITCHBOARD_MAX_SOCKETS: "12",
};

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail("a request past a limit was accepted"),
    (e: unknown) => e as BrokerError,
  );

function assertLimit(e: BrokerError, status: number, code: string, setting: string): void {
  assert.equal(e.status, status, `${code}: status`);
  assert.equal(e.code, code);
  assert.equal(e.extra.setting, setting, `${code} names its setting`);
  assert.ok(e.message.includes(setting) && /[a-z].*\.$/.test(e.message), `${code} is a sentence naming ${setting}: ${e.message}`);
}

describe("security: bounds", () => {
  let h: { home: string; cleanup(): Promise<void> };
  let b: TestBroker;
  const peers: Peer[] = [];
  let checks = 0;
  // Stand-in pids: the broker only needs an open /v1/stream for a pid to register under it.
  const PID_A = 4_000_001;
  const PID_B = 4_000_002;
  const PID_C = 4_000_003;
  const ep = { a: "", b: "", c: "" };

  before(async () => {
    h = await tempHome("sb-bounds-");
    b = await startBroker(h.home, LIMITS);
    for (const pid of [PID_A, PID_B, PID_C]) peers.push(await openStream(b.record, pid));
    ep.a = (await b.api.register({ plugin_pid: PID_A, kind: "bounds", session_name: "a" })).endpoint_id;
    ep.b = (await b.api.register({ plugin_pid: PID_B, kind: "bounds", session_name: "b" })).endpoint_id;
    ep.c = (await b.api.register({ plugin_pid: PID_C, kind: "bounds", session_name: "c" })).endpoint_id;
  });
  after(async () => {
    for (const p of peers) await p.close();
    await b.stop();
    await h.cleanup();
    summary({ suite: "security/bounds", checks });
  });

  it("pending approvals per session and in total; sizes of command, detail and diff in UTF-8 bytes", async () => {
    const ask = (endpoint: string, extra: Record<string, unknown> = {}) => b.api.requestApproval({ endpoint_id: endpoint, action: "sh", summary: "bounded", ...extra } as never);
    const mine = [await ask(ep.a), await ask(ep.a), await ask(ep.a)];
    assertLimit(await refusal(ask(ep.a)), 429, "session_approvals_full", "SWITCHBOARD_MAX_PENDING_APPROVALS_PER_SESSION");
    await ask(ep.b);
    await ask(ep.b);
    assertLimit(await refusal(ask(ep.c)), 429, "approvals_full", "SWITCHBOARD_MAX_PENDING_APPROVALS");
    assert.equal((await b.api.approvals("pending")).length, 5, "nothing past a limit was stored");
    // Deciding or withdrawing makes room again.
    await b.api.decide(mine[0]!.approval_id, { decision: "reject", decided_by: "bounds" });
    await del(b.api, `/v1/approvals/${mine[1]!.approval_id}`);
    await ask(ep.a);
    // Sizes: bytes, not characters (3,334 euro signs are 10,002 bytes).
    await b.api.decide(mine[2]!.approval_id, { decision: "reject", decided_by: "bounds" });
    assertLimit(await refusal(ask(ep.c, { command: "€".repeat(3334) })), 413, "approval_too_large", "SWITCHBOARD_MAX_APPROVAL_COMMAND_BYTES");
    assertLimit(await refusal(ask(ep.c, { detail: "d".repeat(2001) })), 413, "approval_too_large", "SWITCHBOARD_MAX_APPROVAL_DETAIL_BYTES");
    assertLimit(await refusal(ask(ep.c, { diff: "+".repeat(20_001) })), 413, "approval_too_large", "SWITCHBOARD_MAX_APPROVAL_DIFF_BYTES");
    const ok = await ask(ep.c, { command: "€".repeat(3333) });
    assert.equal(ok.command, "€".repeat(3333), "the requester's answer carries its full command");
    for (const a of await b.api.approvals("pending")) if (a.endpoint_id !== ep.c) await b.api.decide(a.approval_id, { decision: "reject", decided_by: "bounds" });
    await b.api.decide(ok.approval_id, { decision: "reject", decided_by: "bounds" });
    checks += 9;
  });

  it("listings, snapshots and changes carry bounded previews; GET /v1/approvals/:id has the full text", async () => {
    const feed = await openFeed(b.record);
    peers.push(feed);
    await feed.next((f) => f.type === "snapshot");
    const command = "echo " + "ü".repeat(4000) + " | sh"; // 8,009 bytes
    const diff = "+x\n".repeat(6000); // 18,000 bytes
    const a = await b.api.requestApproval({ endpoint_id: ep.c, action: "edit", summary: "big", command, diff });
    const isPreview = (p: { command: string | null; diff: string | null; truncated?: Record<string, number> }, where: string) => {
      assert.ok(Buffer.byteLength(p.command!) <= APPROVAL_PREVIEW_BYTES && command.startsWith(p.command!), `${where}: the command is a prefix within the preview size`);
      assert.ok(Buffer.byteLength(p.diff!) <= APPROVAL_PREVIEW_BYTES && diff.startsWith(p.diff!), `${where}: the diff is a prefix within the preview size`);
      assert.deepEqual(p.truncated, { command: Buffer.byteLength(command), diff: Buffer.byteLength(diff) }, `${where}: truncated gives the full sizes`);
    };
    isPreview((await b.api.approvals("pending")).find((x) => x.approval_id === a.approval_id)!, "GET /v1/approvals");
    isPreview(
      (await feed.next((f) => f.type === "change" && f.change.kind === "approval_upserted" && f.change.approval.approval_id === a.approval_id)).change.approval,
      "approval_upserted",
    );
    const late = await openFeed(b.record);
    peers.push(late);
    isPreview(
      (await late.next((f) => f.type === "snapshot")).approvals.find((x: { approval_id: string }) => x.approval_id === a.approval_id),
      "the snapshot",
    );
    const full = await b.api.approval(a.approval_id);
    assert.equal(full.command, command, "GET /v1/approvals/:id: the full command");
    assert.equal(full.diff, diff, "…and the full diff");
    assert.equal(full.truncated, undefined, "…and no truncated field");
    await b.api.decide(a.approval_id, { decision: "approve", decided_by: "bounds" });
    isPreview((await b.api.approvalHistory(5)).find((x) => x.approval_id === a.approval_id)!, "history");
    const pushed = await peers[2]!.next((f) => f.event === "approval_resolved" && f.approval.approval_id === a.approval_id);
    assert.equal(pushed.approval.command, command, "the requester's approval_resolved push carries the whole text");
    checks += 6;
  });

  it("the policy's verdict is bounded too: in the approval, and so in every preview, however long the command", async () => {
    // 30 pipeline parts of about 240 bytes after a long first one (9 KB in all): the verdict explains
    // each, and its sentence quotes the first.
    const command = Array.from({ length: 30 }, (_, i) => `grep -e ${String(i).padStart(2, "0")}${"y".repeat(225)}`).join(" | ");
    const a = await b.api.requestApproval({ endpoint_id: ep.c, action: "sh", summary: "many parts", command: `cat ${"z".repeat(2000)} | ${command}` });
    const full = await b.api.approval(a.approval_id);
    const policy = full.policy!;
    assert.equal(policy.decision, "ask");
    assert.ok(Buffer.byteLength(policy.reason) <= VERDICT_TEXT_BYTES && policy.reason.includes("…"), `the sentence is cut: ${Buffer.byteLength(policy.reason)} bytes`);
    assert.ok(policy.parts.length >= 4 && policy.parts.length < 31, `the first parts that fit: ${policy.parts.length}`);
    assert.ok(policy.parts.reduce((n, p) => n + Buffer.byteLength(p.part) + Buffer.byteLength(p.reason), 0) <= VERDICT_PARTS_BYTES);
    assert.ok(policy.parts[0]!.part.startsWith("cat zzz") && policy.parts[1]!.part.startsWith("grep -e 00"), "in order");
    const listed = (await b.api.approvals("pending")).find((x) => x.approval_id === a.approval_id)!;
    assert.deepEqual(listed.policy, policy, "a preview carries the same bounded verdict");
    await b.api.decide(a.approval_id, { decision: "reject", decided_by: "bounds" });
    checks += 4;
  });

  it("endpoints per pid", async () => {
    const extra = [];
    for (let i = 0; i < 3; i++) extra.push((await b.api.register({ plugin_pid: PID_A, kind: "bounds" })).endpoint_id);
    assertLimit(await refusal(b.api.register({ plugin_pid: PID_A, kind: "bounds" })), 429, "pid_endpoints_full", "SWITCHBOARD_MAX_ENDPOINTS_PER_PID");
    assert.equal((await b.api.endpoints()).filter((e) => e.plugin_pid === PID_A).length, 4);
    await b.api.unregister(extra[0]!);
    extra[0] = (await b.api.register({ plugin_pid: PID_A, kind: "bounds" })).endpoint_id;
    for (const id of extra) await b.api.unregister(id);
    checks += 2;
  });

  it("running streams per producer and in total", async () => {
    const start = (endpoint: string) => b.api.startStream({ endpoint_id: endpoint, action: "sh", command: "x" });
    const s1 = await start(ep.a);
    const s2 = await start(ep.a);
    assertLimit(await refusal(start(ep.a)), 429, "producer_streams_full", "SWITCHBOARD_MAX_STREAMS_PER_PRODUCER");
    const s3 = await start(ep.b);
    assertLimit(await refusal(start(ep.c)), 429, "streams_full", "SWITCHBOARD_MAX_STREAMS");
    await b.api.completeStream(s1.stream_id, { exit_code: 0 }, PID_A);
    const s4 = await start(ep.c);
    for (const [s, pid] of [
      [s2, PID_A],
      [s3, PID_B],
      [s4, PID_C],
    ] as const)
      await b.api.completeStream(s.stream_id, { exit_code: 0 }, pid);
    checks += 2;
  });

  it("open WebSockets", async () => {
    const opened: Peer[] = [];
    let status = 101;
    for (let i = 0; i < 20 && status === 101; i++) {
      const p = await openFeed(b.record).catch((e: Error) => e);
      if (p instanceof Error) status = Number(/HTTP (\d+)/.exec(p.message)?.[1] ?? 0);
      else opened.push(p);
    }
    assert.equal(status, 503, "an upgrade past the limit is refused");
    const res = await fetch(b.record.ipcUrl + "/health");
    assert.equal(res.status, 200, "HTTP is still served");
    for (const p of opened) await p.close();
    checks += 2;
  });

  it("replays come in pages of max_bytes with next_from_seq; the pages join to the whole", async () => {
    const s = await b.api.startStream({ endpoint_id: ep.b, action: "sh", command: "paged" });
    for (let i = 0; i < 10; i++) await b.api.appendChunks(s.stream_id, [{ channel: 1, data: String(i).repeat(1000) }], PID_B);
    const page = await get(b.api, `/v1/streams/${s.stream_id}?max_bytes=2500`);
    assert.equal(page.chunks.length, 2);
    assert.equal(page.next_from_seq, 3);
    const whole = await b.api.replayStream(s.stream_id, { maxBytes: 2500 });
    assert.equal(whole.chunks.map((c) => c.data).join(""), Array.from({ length: 10 }, (_, i) => String(i).repeat(1000)).join(""));
    assert.equal(whole.next_from_seq, null);
    const bad = await refusal(get(b.api, `/v1/streams/${s.stream_id}?max_bytes=0`));
    assert.equal(bad.status, 400);
    await post(b.api, `/v1/streams/${s.stream_id}/complete`, { exit_code: 0 }, { "x-plugin-pid": String(PID_B) });
    checks += 4;
  });
});
