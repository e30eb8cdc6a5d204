// What one process may do to another's things, and the approval ids and decisions, against the real broker.
//
// The token is the only credential: every holder is the same user (docs/security.md). Within that, the
// broker keeps processes from stepping on each other by the pid they identify with (x-plugin-pid on the
// WebSocket and on requests, plugin_pid in bodies): another pid may not set an endpoint's task hint,
// reattach it, unregister it, withdraw its approvals or write to, complete or abort its streams, and a
// push can only be acknowledged on the socket it was sent on. Deciding an approval and cancelling a
// stream are for everybody (any window, the CLI), by design.
//
// Approval ids are 16 random bytes: not guessable, so a random well-formed id is simply unknown (404).
// A decision never changes an approval that has left `pending`: a replay after expiry, withdrawal or
// another decision gets 409 with the state, also after a restart.
//
//   npm run build && node --import tsx --test --test-reporter=spec test/security/ownership.test.ts
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { parseAuditLines, verifyChain } from "../../src/platform/audit-chain.js";
import { CLI_ENTRY, ROOT, childEnv, startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { sleep, waitFor } from "../support/wait.js";
import { openStream, type Peer } from "../support/ws.js";
import { SOAK, Summary, raw, round } from "./helpers.js";

const S = new Summary("security/ownership");
const json = (v: unknown) => JSON.stringify(v);
// Two live pids that are not each other: the broker checks liveness when a stream closes.
const PID_A = process.pid;
const PID_B = process.ppid;

describe("security/ownership: endpoints, approvals and streams of other processes", () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  let b: TestBroker;
  let a: Peer;
  let bPeer: Peer;
  let epA: string;
  let epB: string;
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    raw(b.record, method, path, { body: body === undefined ? undefined : json(body), headers });

  before(async () => {
    home = await tempHome("sb-sec-own-");
    // The id test asks for more approvals at once than the default bounds (src/broker/limits.ts) allow.
    b = await startBroker(home.home, { SWITCHBOARD_MAX_PENDING_APPROVALS_PER_SESSION: "20000", SWITCHBOARD_MAX_PENDING_APPROVALS: "20000" });
    a = await openStream(b.record, PID_A, { autoAck: false });
    bPeer = await openStream(b.record, PID_B);
    epA = (await call("POST", "/v1/endpoint/register", { plugin_pid: PID_A, kind: "pi", session_name: "alice", task_hint: "alice's task" })).body.endpoint_id;
    epB = (await call("POST", "/v1/endpoint/register", { plugin_pid: PID_B, kind: "pi", session_name: "bob" })).body.endpoint_id;
  });
  after(async () => {
    await a?.close().catch(() => {});
    await bPeer?.close().catch(() => {});
    await b?.stop();
    await home?.cleanup();
    S.print();
  });

  const endpoint = async (id: string) => ((await call("GET", "/v1/endpoints")).body.endpoints as any[]).find((e) => e.endpoint_id === id);

  it("an idempotency key reused for a different request is refused with 409, never answered with the first approval", async () => {
    // Two endpoints of B (whose socket acknowledges pushes, so the withdrawals at the end leave nothing queued).
    const ep1 = (await call("POST", "/v1/endpoint/register", { plugin_pid: PID_B, kind: "pi", session_name: "idem-1" })).body.endpoint_id;
    const ep2 = (await call("POST", "/v1/endpoint/register", { plugin_pid: PID_B, kind: "pi", session_name: "idem-2" })).body.endpoint_id;
    const first = await call("POST", "/v1/approvals", { endpoint_id: ep1, action: "sh", summary: "list files", command: "ls -la", idempotency_key: "idem-1" });
    S.equal(first.status, 200);
    // The same request again: the same approval (a retry).
    const again = await call("POST", "/v1/approvals", { endpoint_id: ep1, action: "sh", summary: "list files", command: "ls -la", idempotency_key: "idem-1" });
    S.equal(again.body.approval_id, first.body.approval_id, "a true retry returns the approval it created");
    const changes: [string, Record<string, unknown>][] = [
      ["command", { command: "rm -rf /" }],
      ["summary", { summary: "list files (really)" }],
      ["action", { action: "env" }],
      ["cwd", { cwd: "/" }],
      ["detail", { detail: "more" }],
      ["diff", { diff: "--- a\n+++ b\n" }],
      ["execute", { execute: "editor" }],
    ];
    for (const [field, change] of changes) {
      const r = await call("POST", "/v1/approvals", { endpoint_id: ep1, action: "sh", summary: "list files", command: "ls -la", idempotency_key: "idem-1", ...change });
      S.error(r, 409, "idempotency_key_reused", `the key with another ${field}`);
      S.ok(r.body.approval_id === first.body.approval_id && r.body.fields.includes(field), `the refusal names the approval and the field (${field}): ${r.body.message}`);
      S.ok(!("state" in r.body) && !("command" in r.body), "the refusal is not the first approval");
    }
    const list = (await call("GET", "/v1/approvals?state=pending")).body.approvals as any[];
    S.equal(list.filter((x) => x.idempotency_key === "idem-1").length, 1, "still one approval for the key");
    S.equal(list.find((x) => x.idempotency_key === "idem-1").command, "ls -la", "…asking for what was first asked");
    // Another endpoint may use the same key for its own request.
    const other = await call("POST", "/v1/approvals", { endpoint_id: ep2, action: "sh", summary: "x", command: "rm -rf /", idempotency_key: "idem-1" });
    S.equal(other.status, 200, "keys are per endpoint");
    S.ok(other.body.approval_id !== first.body.approval_id, "…a new approval");
    await call("DELETE", `/v1/endpoint/${ep1}`);
    await call("DELETE", `/v1/endpoint/${ep2}`);
  });

  it("another pid cannot set the task hint, reattach or unregister an endpoint", async () => {
    S.error(await call("POST", `/v1/endpoint/${epA}/task-hint`, { plugin_pid: PID_B, task_hint: "hijacked" }), 403, "ownership_mismatch", "task hint from B");
    S.equal((await endpoint(epA)).task_hint, "alice's task", "the hint is unchanged");
    S.error(await call("POST", `/v1/endpoint/${epA}/reattach`, { plugin_pid: PID_B }), 403, "reattach_pid_mismatch", "reattach from B");
    S.error(await call("DELETE", `/v1/endpoint/${epA}`, undefined, { "x-plugin-pid": String(PID_B) }), 403, "ownership_mismatch", "unregister from B");
    S.equal((await endpoint(epA))?.state, "active", "A's endpoint is still open and active");
    S.equal((await endpoint(epA)).plugin_pid, PID_A, "…and still A's");

    // Messages for A still reach A's socket only.
    await call("POST", "/v1/send", { endpoint_id: epB, to: epA, content: "for alice" });
    const got = await a.next((f) => f.event === "message_received" && f.content === "for alice");
    S.equal(got.endpoint_id, epA);
    await sleep(50);
    S.ok(!bPeer.frames.some((f) => f.content === "for alice"), "B's socket never saw A's message");
    a.ws.send(json({ event: "push_ack", push_id: got.push_id }));

    // The owner itself may do all of it (the positive control).
    S.equal((await call("POST", `/v1/endpoint/${epA}/task-hint`, { plugin_pid: PID_A, task_hint: "still alice" })).status, 200);
    S.equal((await endpoint(epA)).task_hint, "still alice");
  });

  it("a push can only be acknowledged on the socket it was sent on", async () => {
    await call("POST", "/v1/messages", { from: "ci", content: "ack me", metadata: { target_endpoint_id: epA } });
    const push = await a.next((f) => f.event === "message_received" && f.content === "ack me");
    // B acknowledges A's push on its own socket: it must not count.
    bPeer.ws.send(json({ event: "push_ack", push_id: push.push_id }));
    await sleep(100);
    S.equal((await endpoint(epA)).buffered_count, 1, "the push is still unacknowledged");
    // A replacing stream for A gets it again, with the same push_id.
    const a2 = await openStream(b.record, PID_A, { autoAck: false });
    await a.closed;
    a = a2;
    const again = await a.next((f) => f.event === "message_received" && f.content === "ack me");
    S.equal(again.push_id, push.push_id, "re-sent with the same push_id");
    a.ws.send(json({ event: "push_ack", push_id: again.push_id }));
    await waitFor(async () => (await endpoint(epA)).buffered_count === 0, 5000, "A's own ack to count");
    S.ok(true, "A's own ack counted");
  });

  it("another pid cannot write to, complete or abort a stream; anyone may cancel it (a viewer's stop)", async () => {
    const start = await call("POST", "/v1/streams", { endpoint_id: epA, action: "sh", command: "make" });
    S.equal(start.status, 200, start.text);
    const id = start.body.stream_id as string;
    const pidB = { "x-plugin-pid": String(PID_B) };
    const pidA = { "x-plugin-pid": String(PID_A) };
    S.error(await call("POST", `/v1/streams/${id}/chunks`, { chunks: [{ channel: 1, data: "forged by B\n" }] }, pidB), 403, "stream_not_producer", "chunks from B");
    S.error(await call("POST", `/v1/streams/${id}/complete`, { exit_code: 0 }, pidB), 403, "stream_not_producer", "complete from B");
    S.error(await call("POST", `/v1/streams/${id}/abort`, { reason: "B says so" }, pidB), 403, "stream_not_producer", "abort from B");
    // Chunk frames on B's own /v1/stream socket for A's stream are dropped; A's are taken.
    bPeer.ws.send(json({ event: "stream_chunk", stream_id: id, channel: 1, data: "forged frame from B\n" }));
    a.ws.send(json({ event: "stream_chunk", stream_id: id, channel: 1, data: "real frame from A\n" }));
    const replay = await waitFor(
      async () => {
        const r = (await call("GET", `/v1/streams/${id}`)).body;
        return r.chunks.some((c: any) => c.data.includes("real frame from A")) ? r : undefined;
      },
      5000,
      "A's chunk frame",
    );
    const text = replay.chunks.map((c: any) => c.data).join("");
    S.ok(!text.includes("forged"), `nothing of B's is in A's stream: ${JSON.stringify(text)}`);
    S.equal(replay.stream.state, "streaming", "still running");
    const done = await call("POST", `/v1/streams/${id}/complete`, { exit_code: 0 }, pidA);
    S.equal(done.body.state, "completed", "the producer completes it");

    const s2 = (await call("POST", "/v1/streams", { endpoint_id: epA, action: "sh", command: "sleep 100" })).body.stream_id as string;
    const cancelled = await call("POST", `/v1/streams/${s2}/cancel`, { reason: "stopped from a window" }, pidB);
    S.equal(cancelled.body.state, "cancelled", "a viewer may cancel");
    const told = await a.next((f) => f.event === "stream_cancelled" && f.stream_id === s2);
    S.equal(told.endpoint_id, epA, "and the producer is told");
    a.ws.send(json({ event: "push_ack", push_id: told.push_id }));
  });

  it("another pid cannot withdraw an approval; its requester can", async () => {
    const ap = (await call("POST", "/v1/approvals", { endpoint_id: epA, action: "sh", summary: "deploy", command: "make deploy" })).body;
    const r = await call("DELETE", `/v1/approvals/${ap.approval_id}`, undefined, { "x-plugin-pid": String(PID_B) });
    S.error(r, 403, "ownership_mismatch", "withdraw from B");
    S.equal(r.body.state, "pending");
    S.equal((await call("GET", `/v1/approvals/${ap.approval_id}`)).body.state, "pending", "still pending");
    const w = await call("DELETE", `/v1/approvals/${ap.approval_id}`, undefined, { "x-plugin-pid": String(PID_A) });
    S.equal(w.body.state, "cancelled", "the requester withdraws it");
    const resolved = await a.next((f) => f.event === "approval_resolved" && f.approval.approval_id === ap.approval_id);
    a.ws.send(json({ event: "push_ack", push_id: resolved.push_id }));
  });

  it("approval ids are 128 random bits: right length and alphabet, unique, no shared prefixes, every bit balanced", async () => {
    const source = await readFile(join(ROOT, "src/broker/approvals.ts"), "utf8");
    S.ok(/approval_id: `apr_\$\{randomBytes\(16\)\.toString\("base64url"\)\}`/.test(source), "approvals.ts draws 16 bytes from crypto.randomBytes per id");
    S.ok(/import \{ randomBytes \} from "node:crypto"/.test(source), "…node:crypto's");

    const n = SOAK ? 10_000 : 1_500;
    const ids: string[] = [];
    const started = Date.now();
    for (let i = 0; i < n; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, (_, j) => call("POST", "/v1/approvals", { endpoint_id: epB, action: "env", summary: `id ${i + j}` })),
      );
      for (const r of batch) ids.push(r.body.approval_id);
    }
    const seconds = (Date.now() - started) / 1000;
    S.equal(ids.length, n);
    S.ok(
      ids.every((id) => /^apr_[A-Za-z0-9_-]{22}$/.test(id)),
      "apr_ + 22 base64url characters",
    );
    S.equal(new Set(ids).size, n, "no id repeats");
    const bytes = ids.map((id) => Buffer.from(id.slice(4), "base64url"));
    S.ok(
      bytes.every((x) => x.length === 16),
      "each id decodes to 16 bytes",
    );
    // Sequential or time-based ids share long prefixes with their neighbours; random ones about log64(n).
    const sorted = [...ids].sort();
    let longest = 0;
    for (let i = 1; i < sorted.length; i++) {
      let k = 0;
      while (sorted[i]![k] === sorted[i - 1]![k]) k++;
      longest = Math.max(longest, k - 4);
    }
    S.ok(longest <= 6, `the longest prefix two ids share is ${longest} characters`);
    // Every one of the 128 bits is set in about half of the ids (|z| < 6 for all: a stuck or biased bit fails).
    let maxZ = 0;
    for (let bit = 0; bit < 128; bit++) {
      let ones = 0;
      for (const x of bytes) ones += (x[bit >> 3]! >> (7 - (bit & 7))) & 1;
      maxZ = Math.max(maxZ, Math.abs((ones - n / 2) / Math.sqrt(n / 4)));
    }
    S.ok(maxZ < 6, `every bit is balanced (max |z| ${maxZ.toFixed(2)})`);
    // Consecutive ids are unrelated: the bytes of id i and id i+1 agree on about half of the bits.
    let agree = 0;
    for (let i = 1; i < bytes.length; i++) for (let k = 0; k < 16; k++) agree += 8 - popcount(bytes[i]![k]! ^ bytes[i - 1]![k]!);
    const agreeFraction = agree / ((bytes.length - 1) * 128);
    S.ok(Math.abs(agreeFraction - 0.5) < 0.02, `consecutive ids share ${agreeFraction} of their bits`);
    S.set("approval_ids", { n, seconds: round(seconds, 1), longest_shared_prefix_chars: longest, max_bit_z: round(maxZ, 2), consecutive_bit_agreement: round(agreeFraction, 4) });
  });

  it("a random well-formed id is unknown: 404 with a stable code on every approval, stream and endpoint route", async () => {
    const tries = SOAK ? 500 : 50;
    const bodies = new Set<string>();
    for (let i = 0; i < tries; i++) {
      const apr = `apr_${randomBytes(16).toString("base64url")}`;
      S.error(await call("GET", `/v1/approvals/${apr}`), 404, "approval_unknown", `GET ${apr}`);
      S.error(await call("GET", `/v1/approvals/${apr}?wait_ms=1000`), 404, "approval_unknown", `long-poll ${apr}`);
      S.error(await call("POST", `/v1/approvals/${apr}/decision`, { decision: "approve", decided_by: "guesser" }), 404, "approval_unknown", `decide ${apr}`);
      S.error(await call("DELETE", `/v1/approvals/${apr}`), 404, "approval_unknown", `withdraw ${apr}`);
      const str = `str_${randomBytes(12).toString("base64url")}`;
      S.error(await call("GET", `/v1/streams/${str}`), 404, "stream_unknown", `GET ${str}`);
      S.error(await call("POST", `/v1/streams/${str}/cancel`, {}), 404, "stream_unknown", `cancel ${str}`);
      const ep = `ep_${randomBytes(12).toString("base64url")}`;
      S.error(await call("POST", `/v1/endpoint/${ep}/task-hint`, { plugin_pid: PID_A, task_hint: "x" }), 404, "endpoint_unknown", `task hint ${ep}`);
      S.error(await call("POST", `/v1/endpoint/${ep}/reattach`, { plugin_pid: PID_A }), 404, "endpoint_unknown", `reattach ${ep}`);
      const r = await call("POST", `/v1/approvals/${apr}/decision`, { decision: "reject", decided_by: "guesser" });
      bodies.add(Object.keys(r.body).sort().join(","));
    }
    S.deepEqual([...bodies], ["error,message"], "the 404 body has the same shape every time");
    S.deepEqual(
      (await call("GET", "/v1/approvals/history")).body.approvals.filter((x: any) => x.decided_by === "guesser"),
      [],
      "no guess decided anything",
    );
  });

  it("a decision replayed after the approval expired, was withdrawn or was decided is refused with 409 and its state, also after a restart", async () => {
    const ask = async (extra: object = {}) => (await call("POST", "/v1/approvals", { endpoint_id: epA, action: "sh", summary: "replay", command: "rm -rf build", ...extra })).body;
    const expiring = await ask({ timeout_ms: 200 });
    const settled = await call("GET", `/v1/approvals/${expiring.approval_id}?wait_ms=5000`);
    S.equal(settled.body.state, "expired", "it expired");
    for (const decision of ["approve", "reject"]) {
      const r = await call("POST", `/v1/approvals/${expiring.approval_id}/decision`, { decision, decided_by: "late" });
      S.error(r, 409, "approval_expired", `${decision} after expiry`);
      S.equal(r.body.state, "expired");
      S.equal(r.body.approval.approval_id, expiring.approval_id);
      S.equal(r.body.approval.decision, null, "nobody's decision was recorded");
    }
    S.error(await call("DELETE", `/v1/approvals/${expiring.approval_id}`, undefined, { "x-plugin-pid": String(PID_A) }), 409, "approval_expired", "withdraw after expiry");

    const withdrawn = await ask();
    await call("DELETE", `/v1/approvals/${withdrawn.approval_id}`);
    const late = await call("POST", `/v1/approvals/${withdrawn.approval_id}/decision`, { decision: "approve", decided_by: "late" });
    S.error(late, 409, "approval_cancelled", "approve after withdrawal");
    S.equal(late.body.state, "cancelled");

    // Racing decisions: one wins; the same decision again gets the recorded result, the other 409.
    const raced = await ask();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call("POST", `/v1/approvals/${raced.approval_id}/decision`, { decision: i % 2 ? "reject" : "approve", decided_by: `racer-${i}` })),
    );
    const winners = answers.filter((r) => r.status === 200);
    const decided = winners[0]!.body;
    S.ok(
      winners.every((r) => r.body.decision === decided.decision && r.body.decided_by === decided.decided_by && r.body.decided_at === decided.decided_at),
      "every 200 is the one recorded decision",
    );
    S.ok(
      answers.filter((r) => r.status !== 200).every((r) => r.status === 409 && r.body.error === "approval_already_decided" && r.body.state === decided.state),
      "every other answer is 409 approval_already_decided",
    );
    S.equal(winners.length, 10, "the ten same-decision racers all got the recorded result");

    // A replay after a restart is judged on the journaled state.
    await b.stop();
    b = await b.restart();
    const other = decided.decision === "approve" ? "reject" : "approve";
    const replayed = await call("POST", `/v1/approvals/${raced.approval_id}/decision`, { decision: other, decided_by: "after-restart" });
    S.error(replayed, 409, "approval_already_decided", "the other decision after a restart");
    S.equal(replayed.body.state, decided.state);
    S.error(
      await call("POST", `/v1/approvals/${expiring.approval_id}/decision`, { decision: "approve", decided_by: "after-restart" }),
      409,
      "approval_expired",
      "approve an expired one after a restart",
    );
    const same = await call("POST", `/v1/approvals/${raced.approval_id}/decision`, { decision: decided.decision, decided_by: "after-restart" });
    S.equal(same.body.decided_by, decided.decided_by, "the same decision returns the first decider's record");

    // The audit log has one record per outcome, never one for a refused replay, and its chain holds.
    const audit = (await call("GET", "/v1/audit")).body.records as any[];
    for (const id of [expiring.approval_id, withdrawn.approval_id, raced.approval_id]) S.equal(audit.filter((r) => r.approval_id === id).length, 1, `one audit record for ${id}`);
    S.ok(verifyChain(audit).ok, "the audit chain verifies");
    S.ok(!audit.some((r) => r.decided_by === "late" || r.decided_by === "after-restart"), "no refused decision was audited");
  });

  it("a changed audit record breaks the hash chain, and `switchboard audit verify` names it", async () => {
    await b.stop();
    const file = join(home.home, "broker", "audit", "audit.ndjson");
    const text = await readFile(file, "utf8");
    const records = parseAuditLines(text) as any[];
    S.ok(verifyChain(records).ok, "intact before");
    const target = records.findIndex((r) => r.outcome === "approved" || r.outcome === "rejected");
    records[target] = { ...records[target], outcome: records[target].outcome === "approved" ? "rejected" : "approved" };
    await writeFile(file, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const check = verifyChain(parseAuditLines(await readFile(file, "utf8")));
    S.ok(!check.ok && check.index === target, `the chain names record ${target}: ${JSON.stringify(check)}`);
    const cli = await promisify(execFile)(process.execPath, [CLI_ENTRY, "audit", "verify", "--file", file], { env: childEnv({ SWITCHBOARD_HOME: home.home }) }).then(
      () => ({ code: 0, out: "" }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
    S.ok(cli.code !== 0 && cli.out.includes(String(records[target].seq)), `the CLI fails and names seq ${records[target].seq}: ${cli.out}`);
    b = await b.restart();
  });
});

function popcount(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}
