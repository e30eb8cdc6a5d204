// Torn journal: a real broker makes acknowledged state and is killed with SIGKILL; then its journal's
// last record (the last 12 in the soak run) is cut at EVERY byte offset (each time on a fresh copy),
// as a crash in the middle of a write would leave it. For every offset, recovery (Journal.open + Store replay, the code the daemon
// runs at start) must start, cut the torn line, rebuild exactly the state before that record (or
// with it, when the line is whole), and take new appends cleanly after it. A real broker process is
// started on a handful of those copies (first, second, middle, last-but-one and last byte) and must
// serve everything acknowledged before the torn record. The audit log's last record gets the same
// treatment: every cut leaves a chain that verifies and takes the next record.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { AuditLog } from "../../src/broker/audit.js";
import { Journal } from "../../src/broker/journal.js";
import { Store, type JournalRecord, type StoreSnapshot } from "../../src/broker/store.js";
import { verifyChain } from "../../src/platform/audit-chain.js";
import { brokerPaths } from "../../src/platform/paths.js";
import { startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { SOAK, summary } from "../support/faults.js";
import { sleep } from "../support/wait.js";
import { openStream } from "../support/ws.js";

const SEGMENT_RE = /^log-\d+\.ndjson$/;
/** How many of the journal's last records are cut at every byte (the soak run does more). */
const TEAR_RECORDS = SOAK ? 12 : 1;
const quiet = () => {};

/** Recovery as the daemon does it: the journal's recovered snapshot and records, replayed into a Store. */
async function recover(dir: string): Promise<{ state: string; tornTail: boolean; skipped: number; journal: Journal<StoreSnapshot, JournalRecord> }> {
  const { journal, recovered } = await Journal.open<StoreSnapshot, JournalRecord>({ dir, log: quiet, fsync: false });
  const store = Store.fromSnapshot(recovered.snapshot);
  for (const rec of recovered.records) store.apply(rec);
  return { state: JSON.stringify(store.toSnapshot()), tornTail: recovered.tornTail, skipped: recovered.skipped, journal };
}

describe("faults: torn journal", () => {
  const cleanups: (() => Promise<void>)[] = [];
  const report: Record<string, unknown> = { suite: "faults/torn" };
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    summary(report);
  });

  it("every cut through the journal's last record recovers everything before it, in-process at every byte and in a real broker at five", { timeout: 120_000 }, async () => {
    const t0 = performance.now();
    const { home, cleanup } = await tempHome("sb-torn-");
    cleanups.push(cleanup);
    const owner = spawn("sleep", ["600"], { stdio: "ignore" });
    cleanups.push(async () => void owner.kill("SIGKILL"));

    // Acknowledged state of every kind, then one last acknowledged inbox message, then kill -9.
    let b: TestBroker = await startBroker(home);
    cleanups.push(async () => void b.proc.kill("SIGKILL"));
    const peer = await openStream(b.record, owner.pid!);
    const ep = (await b.api.register({ plugin_pid: owner.pid!, kind: "fault", session_name: "torn" })).endpoint_id;
    const inbox: string[] = [];
    for (let i = 0; i < 20; i++) inbox.push((await b.api.ingress({ from: "torn", content: `inbox ${i}` })).messageId);
    for (let i = 0; i < 5; i++) await b.api.ingress({ from: "torn", content: `push ${i}`, metadata: { target_endpoint_id: ep } });
    const pending = (await b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: "stays pending" })).approval_id;
    const approved = (await b.api.requestApproval({ endpoint_id: ep, action: "edit", summary: "approved" })).approval_id;
    await b.api.decide(approved, { decision: "approve", decided_by: "torn" });
    const s = await b.api.startStream({ endpoint_id: ep, action: "sh", command: "make" });
    await b.api.appendChunks(s.stream_id, [{ channel: 1, seq: 1, data: "out\n" }], owner.pid!);
    await b.api.completeStream(s.stream_id, { exit_code: 0, last_seq: 1 }, owner.pid!);
    await sleep(400); // the lazy push acknowledgements ride out, so the final record is ours
    const last = await b.api.ingress({ from: "torn", content: "the last record ✓ ünïcode" });
    await b.kill9();
    await peer.close();

    // The journal as the crash left it.
    const journalDir = brokerPaths(home).journalDir;
    const segs = (await readdir(journalDir)).filter((f) => SEGMENT_RE.test(f)).sort();
    const lastSeg = segs.at(-1)!;
    const bytes = await readFile(join(journalDir, lastSeg));
    assert.equal(bytes.at(-1), 0x0a, "the journal ends with a whole line");
    const start = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
    const end = bytes.length;
    const lastRec = JSON.parse(bytes.toString("utf8", start, end)) as { r: JournalRecord };
    assert.equal(lastRec.r.t, "in_add", "the last record is the last acknowledged message");
    assert.equal((lastRec.r as { item: { id: string } }).item.id, last.messageId);

    const pristine = await mkdtemp(join(tmpdir(), "sb-torn-pristine-"));
    cleanups.push(() => rm(pristine, { recursive: true, force: true }));
    await cp(journalDir, pristine, { recursive: true });
    const work = await mkdtemp(join(tmpdir(), "sb-torn-work-"));
    cleanups.push(() => rm(work, { recursive: true, force: true }));

    // Expected states: the store after every prefix of the records (as the daemon replays them).
    const whole = await Journal.open<StoreSnapshot, JournalRecord>({ dir: pristine, log: quiet, fsync: false });
    await whole.journal.close();
    const all = whole.recovered.records;
    const prefixState = (n: number) => {
      const store = Store.fromSnapshot(whole.recovered.snapshot);
      for (const rec of all.slice(0, n)) store.apply(rec);
      return JSON.stringify(store.toSnapshot());
    };
    assert.notEqual(prefixState(all.length - 1), prefixState(all.length), "the last record changes the state");

    // Lines of the last segment; the last TEAR_RECORDS of them are cut at every byte.
    const starts = [0];
    for (let at = bytes.indexOf(0x0a); at !== -1 && at + 1 < bytes.length; at = bytes.indexOf(0x0a, at + 1)) starts.push(at + 1);
    starts.push(end);
    const lines = starts.length - 1;
    let torn = 0;
    let offsets = 0;
    for (let j = 0; j < Math.min(TEAR_RECORDS, lines); j++) {
      const lineStart = starts[lines - 1 - j]!;
      const lineEnd = starts[lines - j]!;
      const kept = all.length - 1 - j; // records before the torn one
      const expected = prefixState(kept);
      const withIt = prefixState(kept + 1);
      for (let cut = lineStart; cut <= lineEnd; cut++) {
        if (cut === lineEnd && j > 0) continue; // the same file as the next record's first cut
        offsets++;
        const dir = join(work, `cut-${cut}`);
        await cp(pristine, dir, { recursive: true });
        await truncate(join(dir, lastSeg), cut);
        const r = await recover(dir);
        const isTorn = cut > lineStart && cut < lineEnd;
        assert.equal(r.tornTail, isTorn, `cut at ${cut}: torn tail reported`);
        assert.equal(r.skipped, 0, `cut at ${cut}: nothing skipped`);
        assert.equal(r.state, cut === lineEnd ? withIt : expected, `cut at ${cut} in record ${kept + 1} (bytes ${lineStart}..${lineEnd}): recovered state`);
        if (isTorn) torn++;
        // The torn line is gone from disk, and new records follow cleanly.
        if (isTorn) assert.equal((await readFile(join(dir, lastSeg))).length, lineStart, `cut at ${cut}: the torn bytes were cut off`);
        await r.journal.append({ t: "in_del", id: inbox[0]! });
        await r.journal.close();
        const again = await recover(dir);
        await again.journal.close();
        assert.equal(again.tornTail, false);
        assert.equal(again.skipped, 0);
        const snap = JSON.parse(again.state) as StoreSnapshot;
        assert.ok(!snap.inbox.some((it) => it.id === inbox[0]), `cut at ${cut}: the record appended after recovery applies`);
        await rm(dir, { recursive: true, force: true });
      }
    }

    // A real broker on a handful of cuts.
    const sample = [start, start + 1, Math.floor((start + end) / 2), end - 1, end];
    for (const cut of sample) {
      const copy = await mkdtemp(join(tmpdir(), "sb-torn-home-"));
      cleanups.push(() => rm(copy, { recursive: true, force: true }));
      // The broker's Unix socket is no file to copy; the copy's broker makes its own.
      await cp(home, copy, { recursive: true, filter: (src) => !src.endsWith(".sock") });
      await truncate(join(brokerPaths(copy).journalDir, lastSeg), cut);
      b = await startBroker(copy);
      const items = new Set((await b.api.undispatched(process.pid)).map((it) => it.id));
      for (const id of inbox) assert.ok(items.has(id), `cut at ${cut}: inbox message ${id} kept`);
      assert.equal(items.has(last.messageId), cut === end, `cut at ${cut}: the last message is there only if its line is whole`);
      const e = (await b.api.endpoints()).find((x) => x.endpoint_id === ep);
      assert.equal(e?.state, "reconnecting", `cut at ${cut}: the endpoint is back`);
      assert.equal(e?.buffered_count, 0, `cut at ${cut}: acknowledged pushes stay acknowledged`);
      assert.equal((await b.api.approval(pending)).state, "pending");
      assert.equal((await b.api.approval(approved)).state, "approved");
      const replay = await b.api.replayStream(s.stream_id);
      assert.equal(replay.stream.state, "completed");
      assert.deepEqual(
        replay.chunks.map((c) => c.data),
        ["out\n"],
      );
      // And it takes new work.
      const fresh = await b.api.ingress({ from: "torn", content: "after recovery" });
      assert.equal(fresh.status, "undispatched");
      const log = await readFile(brokerPaths(copy).logFile, "utf8");
      assert.equal(/cutting torn tail/.test(log), cut > start && cut < end, `cut at ${cut}: the broker log names the torn tail`);
      await b.stop();
    }

    Object.assign(report, {
      records_torn: Math.min(TEAR_RECORDS, lines),
      last_record_bytes: end - start,
      offsets_checked: offsets,
      torn_tails_cut: torn,
      broker_offsets: sample.map((c) => c - start),
      journal_ms: Math.round(performance.now() - t0),
    });
  });

  it("every cut through the audit log's last record leaves a chain that verifies and takes the next record", { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "sb-torn-audit-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "audit.ndjson");
    const log = await AuditLog.open(file);
    const fields = (i: number) => ({
      at: new Date(1_700_000_000_000 + i).toISOString(),
      approval_id: `apr_${i}`,
      endpoint_id: "ep_1",
      session: "s",
      action: "sh" as const,
      summary: `step ${i} ✓`,
      command: "make",
      cwd: "/w",
      outcome: "approved" as const,
      reason: null,
      decided_by: "me",
    });
    for (let i = 1; i <= 5; i++) await log.append(fields(i));
    await log.close();
    const bytes = await readFile(file);
    const start = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
    for (let cut = start; cut <= bytes.length; cut++) {
      await writeFile(file, bytes.subarray(0, cut));
      const reopened = await AuditLog.open(file);
      const records = (await reopened.readPage(0, 5000))!.records;
      assert.equal(records.length, cut === bytes.length ? 5 : 4, `cut at ${cut}: whole records kept`);
      assert.equal(verifyChain(records).ok, true, `cut at ${cut}: chain verifies`);
      await reopened.append(fields(6));
      const grown = (await reopened.readPage(0, 5000))!.records;
      assert.equal(verifyChain(grown).ok, true, `cut at ${cut}: the next record chains on`);
      await reopened.close();
    }
    report.audit_offsets_checked = bytes.length - start + 1;
  });
});
