// A full disk and a read-only state folder, on real file systems mounted for the test (needs root).
//   - Disk full (tmpfs): senders get 507 storage_full with a sentence and no acknowledgement, reads
//     are still served, the broker stays up, and once space returns it acknowledges again by itself
//     with nothing acknowledged lost (also across a kill -9 after that). A request refused while the
//     broker knew the disk was full never takes effect; only requests caught in the failing write
//     itself have an unknown outcome, and even those arrive at most once.
//   - Compaction (snapshot writes) on a full disk fails without harm and succeeds later.
//   - SIGTERM on a full disk still stops the broker; a broker cannot start on a full disk and says
//     why; once space returns it starts with everything.
//   - Read-only while running: a tmpfs cannot be remounted read-only while the broker holds files
//     open for writing (EBUSY), so this uses what really makes a mounted file system read-only under
//     a running program: ext4 with errors=remount-ro after an error (triggered through sysfs).
//     Senders get 507 storage_read_only, reads are served, SIGTERM stops the broker, and after the
//     file system is mounted again the broker starts with everything acknowledged.
//   - Read-only at start (tmpfs remounted read-only while no broker runs): the broker refuses to
//     start with a clear message and changes nothing; after remount rw it starts with everything.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { access, mkdtemp, open, readdir, readFile, rm, statfs, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { BrokerError } from "../../src/client/errors.js";
import { Journal } from "../../src/broker/journal.js";
import { verifyChain } from "../../src/platform/audit-chain.js";
import { brokerPaths } from "../../src/platform/paths.js";
import { spawnBrokerProcess, startBroker, type TestBroker } from "../support/broker.js";
import { get } from "../support/calls.js";
import { Owners, SOAK, summary } from "../support/faults.js";
import { waitFor, within } from "../support/wait.js";
import { openStream, type Peer } from "../support/ws.js";

/** Fill-and-free rounds on one running broker (the soak run does more). */
const FULL_CYCLES = SOAK ? 5 : 1;

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();

/** Mount points and loop images made by this file; all unmounted and removed in `after`. */
const mounts: string[] = [];
const scratch: string[] = [];

async function mountTmpfs(size: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sb-disk-"));
  scratch.push(dir);
  sh("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir]);
  mounts.push(dir);
  return dir;
}

async function unmount(dir: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    try {
      sh("umount", [dir]);
      mounts.splice(mounts.indexOf(dir), 1);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100)); // a process we just killed may still hold a file
    }
  }
  sh("umount", ["-l", dir]);
  mounts.splice(mounts.indexOf(dir), 1);
}

/** Fills the file system holding `dir` to the last byte; returns the filler's path. */
async function fill(dir: string): Promise<string> {
  const path = join(dir, "filler");
  const fh = await open(path, "a");
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const block = Buffer.alloc(size, 0x2e);
      for (;;) {
        try {
          await fh.write(block);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw err;
        }
      }
    }
  } finally {
    await fh.close();
  }
  assert.equal((await statfs(dir)).bavail, 0, "the file system is full");
  return path;
}

/** The broker's answer to a request that must not be acknowledged. */
async function refusal(p: Promise<unknown>): Promise<BrokerError> {
  return p.then(
    (v) => assert.fail(`expected a refusal, got ${JSON.stringify(v).slice(0, 200)}`),
    (e: unknown) => {
      assert.ok(e instanceof BrokerError, `expected a broker answer, got ${String(e)}`);
      return e;
    },
  );
}

function assertStorageError(e: BrokerError, code: "storage_full" | "storage_read_only", what: string): void {
  assert.equal(e.code, code, `${what}: ${e.code} ${e.message}`);
  assert.equal(e.status, 507, what);
  assert.equal(e.extra.retryable, true, what);
  assert.match(e.message, code === "storage_full" ? /full .*not acknowledged/ : /read-only.*not acknowledged/, what);
}

/** State that later checks expect to find, acknowledged before a fault. */
interface Acked {
  inbox: string[]; // message ids in the inbox
  delivered: string[]; // message ids pushed to the receiver
  pending: string; // an approval left pending
  approved: string; // an approval approved
}

/** Endpoint, messages both ways, approvals, a stream: all acknowledged. */
async function makeState(b: TestBroker, pid: number, tag: string): Promise<{ acked: Acked; peer: Peer; ep: string; stream: string }> {
  const peer = await openStream(b.record, pid);
  const ep = (await b.api.register({ plugin_pid: pid, kind: "fault", session_name: `disk-${tag}` })).endpoint_id;
  const acked: Acked = { inbox: [], delivered: [], pending: "", approved: "" };
  for (let i = 0; i < 10; i++) {
    acked.inbox.push((await b.api.ingress({ from: "disk", content: `${tag} inbox ${i}` })).messageId);
    acked.delivered.push((await b.api.ingress({ from: "disk", content: `${tag} push ${i}`, metadata: { target_endpoint_id: ep } })).messageId);
  }
  acked.pending = (await b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: `${tag} pending` })).approval_id;
  acked.approved = (await b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: `${tag} approved` })).approval_id;
  await b.api.decide(acked.approved, { decision: "approve", decided_by: "disk" });
  const stream = (await b.api.startStream({ endpoint_id: ep, action: "sh", command: "make" })).stream_id;
  await b.api.appendChunks(stream, [{ channel: 1, seq: 1, data: "before the fault\n" }], pid);
  await waitFor(() => acked.delivered.every((id) => peer.frames.some((f) => f.sourceMessageId === id)), 5000, "pushes to arrive");
  return { acked, peer, ep, stream };
}

/** Everything in `acked` is where it was. `pushedAgain`: the receiver reattached after a restart. */
async function checkState(b: TestBroker, acked: Acked, received: (id: string) => boolean): Promise<void> {
  const inbox = new Set((await b.api.undispatched(process.pid)).map((i) => i.id));
  for (const id of acked.inbox) assert.ok(inbox.has(id), `inbox message ${id} kept`);
  for (const id of acked.delivered) assert.ok(received(id) && !inbox.has(id), `message ${id} delivered once, not in the inbox`);
  assert.equal((await b.api.approval(acked.pending)).state, "pending");
  const approved = await b.api.approval(acked.approved);
  assert.equal(approved.state, "approved");
  assert.equal(approved.decision, "approve");
  const audit = await get(b.api, "/v1/audit");
  assert.equal(verifyChain(audit.records).ok, true, "the audit chain is intact");
}

async function exitOf(proc: TestBroker["proc"], ms: number): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
  return within(new Promise<number | null>((r) => proc.once("exit", (code) => r(code))), ms, "the broker to exit");
}

/** Stream output on a failing disk: acknowledged only if it was written and synced, else refused with the storage error. */
async function chunkDurableOrRefused(p: Promise<unknown>, code: string): Promise<void> {
  const r = await p.catch((e: unknown) => e);
  if (r instanceof BrokerError)
    assert.ok(r.code === code || r.code === "storage_unavailable", `a chunk that could not be written is refused with a storage error: ${r.code} ${r.message}`);
}

describe("faults: disk full and read-only state folder", () => {
  const owners = new Owners();
  const brokers: TestBroker[] = [];
  const report: Record<string, unknown> = { suite: "faults/disk" };
  after(async () => {
    for (const b of brokers) b.proc.kill("SIGKILL");
    await owners.killAll();
    await new Promise((r) => setTimeout(r, 100));
    for (const dir of [...mounts].reverse()) await unmount(dir).catch((err) => console.error(`umount ${dir}: ${err}`));
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
    summary(report);
  });

  it("runs as root (it mounts file systems)", () => {
    assert.equal(process.getuid?.(), 0, "the disk fault suite mounts tmpfs and ext4 file systems and must run as root");
  });

  it("disk full: 507 storage_full, no acknowledgement, reads served, the broker stays up and recovers by itself", { timeout: 60_000 }, async () => {
    const home = await mountTmpfs("16m");
    const b = await startBroker(home);
    brokers.push(b);
    const pid = owners.spawn();
    const { acked, peer, ep, stream: firstStream } = await makeState(b, pid, "full");
    const received = (id: string) => peer.frames.filter((f) => f.event === "message_received" && f.sourceMessageId === id).length > 0;
    const maybe: string[] = []; // refused by the failing write itself: outcome unknown
    const refused: string[] = [];
    const recoveredMs: number[] = [];
    let stream = firstStream;
    for (let cycle = 0; cycle < FULL_CYCLES; cycle++) {
      if (cycle > 0) {
        stream = (await b.api.startStream({ endpoint_id: ep, action: "sh", command: `make ${cycle}` })).stream_id;
        await b.api.appendChunks(stream, [{ channel: 1, seq: 1, data: "before the fault\n" }], pid);
      }
      const filler = await fill(home);

      // The first requests may still fit into a page a file already has; keep going until the journal's
      // write fails. Those answered 2xx are acknowledged like any other.
      for (let i = 0; ; i++) {
        assert.ok(i < 500, "the journal never hit the full disk");
        const content = `probe c${cycle} ${i}`;
        const r = await b.api.ingress({ from: "disk", content, metadata: { target_endpoint_id: ep } }).catch((e: unknown) => e);
        if (!(r instanceof BrokerError)) {
          acked.delivered.push((r as { messageId: string }).messageId);
          continue;
        }
        assertStorageError(r, "storage_full", "the request caught in the failing write");
        maybe.push(content);
        break;
      }
      // From now on the broker knows: every change is refused before it is made.
      for (let i = 0; i < 5; i++) {
        refused.push(`refused c${cycle} ${i}`);
        assertStorageError(await refusal(b.api.ingress({ from: "disk", content: `refused c${cycle} ${i}`, metadata: { target_endpoint_id: ep } })), "storage_full", "a send");
        assertStorageError(await refusal(b.api.ingress({ from: "disk", content: `refused inbox c${cycle} ${i}` })), "storage_full", "an inbox message");
        refused.push(`refused inbox c${cycle} ${i}`);
      }
      assertStorageError(await refusal(b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: "while full" })), "storage_full", "an approval");
      assertStorageError(await refusal(b.api.decide(acked.pending, { decision: "reject", decided_by: "disk" })), "storage_full", "a decision");
      assertStorageError(await refusal(b.api.startStream({ endpoint_id: ep, action: "sh", command: "x" })), "storage_full", "a new stream");
      // Output of a running stream is acknowledged only once it is on disk: here its write fails, so it
      // is refused with the storage error (or, if the file still had room, written and acknowledged).
      await chunkDurableOrRefused(b.api.appendChunks(stream, [{ channel: 1, seq: 2, data: "x".repeat(64 * 1024) }], pid), "storage_full");
      assertStorageError(await refusal(b.api.completeStream(stream, { exit_code: 0 }, pid)), "storage_full", "ending a stream");
      // Reads are served, the broker is up.
      assert.equal((await b.api.health()).ok, true);
      assert.equal((await b.api.approval(acked.pending)).state, "pending", "the refused decision changed nothing");
      assert.ok((await b.api.endpoints()).some((e) => e.endpoint_id === ep));
      assert.equal(b.proc.exitCode, null, "the broker is still running");

      // Space returns: the broker writes what it kept and acknowledges again, without a restart.
      const t0 = performance.now();
      await unlink(filler);
      // A request that writes nothing new (the endpoint is active already) must not be answered with
      // the failed write's old error once the journal is healthy again.
      await waitFor(() => b.api.reattach(ep, pid).catch(() => undefined), 5000, "a repeated reattach to succeed");
      const back = await waitFor(
        () => b.api.ingress({ from: "disk", content: `after c${cycle}`, metadata: { target_endpoint_id: ep } }).catch(() => undefined),
        5000,
        "the broker to acknowledge again",
      );
      recoveredMs.push(Math.round(performance.now() - t0));
      acked.delivered.push(back.messageId);
      assert.equal((await b.api.decide(acked.pending, { decision: "approve", decided_by: "disk" })).state, "approved");
      acked.approved = acked.pending;
      acked.pending = (await b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: `after c${cycle}` })).approval_id;
      const done = await b.api.completeStream(stream, { exit_code: 0, last_seq: 2 }, pid);
      assert.equal(done.state, "completed");
      const replay = await b.api.replayStream(stream);
      assert.equal(replay.chunks[0]?.data, "before the fault\n", "output written before the fault is kept");
      await waitFor(() => received(back.messageId), 5000, "the push after recovery");
      await checkState(b, acked, received);
    }
    report.full_recovered_ms = recoveredMs;

    // A crash now: everything acknowledged, and the kept bytes written after the fault, come back.
    await b.kill9();
    await peer.close();
    const b2 = await b.restart();
    brokers.push(b2);
    const peer2 = await openStream(b2.record, pid);
    await b2.api.reattach(ep, pid);
    await waitFor(async () => (await b2.api.endpoints()).find((e) => e.endpoint_id === ep)?.buffered_count === 0, 5000, "the queue to drain");
    const seen = [...peer.frames, ...peer2.frames].filter((f) => f.event === "message_received");
    const byContent = (c: string) => new Set(seen.filter((f) => f.content === c).map((f) => f.sourceMessageId));
    await checkState(b2, acked, (id) => seen.some((f) => f.sourceMessageId === id));
    const inbox = await b2.api.undispatched(process.pid);
    for (const c of refused) {
      assert.equal(byContent(c).size, 0, `"${c}" was refused before it was made, yet it was delivered`);
      assert.ok(!inbox.some((i) => i.content === c), `"${c}" was refused before it was made, yet it is in the inbox`);
    }
    for (const c of maybe) assert.ok(byContent(c).size <= 1, `"${c}" (outcome unknown) arrived at most once`);
    const log = await readFile(brokerPaths(home).logFile, "utf8");
    assert.doesNotMatch(log, /skipping corrupt line|skipping unterminated/, "the journal has no hole or torn line in the middle");
    assert.match(log, /journal: writes succeed again/);
    await peer2.close();
    await b2.stop();
    Object.assign(report, {
      full_cycles: FULL_CYCLES,
      full_probe_acked: acked.delivered.length - 10 - FULL_CYCLES,
      full_refused: refused.length + 6 * FULL_CYCLES,
      full_unknown: maybe.length,
    });
  });

  it("disk full: compaction fails without harm and succeeds once there is space", { timeout: 30_000 }, async () => {
    const dir = await mountTmpfs("4m");
    const { journal } = await Journal.open<{ n: number }, { n: number }>({ dir: join(dir, "j"), log: () => {} });
    for (let n = 1; n <= 200; n++) await journal.append({ n });
    const filler = await fill(dir);
    await assert.rejects(journal.compact({ n: 200 }), (e: NodeJS.ErrnoException) => e.code === "ENOSPC");
    const names = await readdir(join(dir, "j"));
    assert.ok(!names.includes("snapshot.json.tmp"), "the partial snapshot was removed");
    assert.ok(!names.includes("snapshot.json"), "no snapshot was committed");
    // Appends fail while full (each rejected), but none is dropped.
    const failed = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => journal.append({ n: 201 + i })));
    assert.ok(
      failed.some((r) => r.status === "rejected"),
      "appends on a full disk are not acknowledged",
    );
    assert.ok(journal.failure, "the journal reports the failure");
    await unlink(filler);
    await journal.append({ n: 251 });
    assert.equal(journal.failure, undefined);
    await journal.compact({ n: 251 });
    await journal.append({ n: 252 });
    await journal.close();
    const { journal: again, recovered } = await Journal.open<{ n: number }, { n: number }>({ dir: join(dir, "j"), log: () => {} });
    await again.close();
    assert.deepEqual(recovered.snapshot, { n: 251 });
    assert.deepEqual(recovered.records, [{ n: 252 }]);
    report.compaction_on_full_disk = "failed, then succeeded";
  });

  it("disk full: SIGTERM still stops the broker; it cannot start on a full disk and says so; with space it has everything", { timeout: 60_000 }, async () => {
    const home = await mountTmpfs("16m");
    const b = await startBroker(home);
    brokers.push(b);
    const pid = owners.spawn();
    const { acked, peer, stream } = await makeState(b, pid, "stop");
    const filler = await fill(home);
    // Make the broker meet the full disk, then ask it to stop: flush, compaction and close all fail.
    for (let i = 0; i < 500; i++) if ((await b.api.ingress({ from: "disk", content: `fill ${i}` }).catch((e: unknown) => e)) instanceof BrokerError) break;
    await chunkDurableOrRefused(b.api.appendChunks(stream, [{ channel: 1, seq: 2, data: "y".repeat(32 * 1024) }], pid), "storage_full");
    b.proc.kill("SIGTERM");
    assert.equal(await exitOf(b.proc, 10_000), 0, "SIGTERM stops a broker on a full disk");
    await peer.close();

    const proc = spawnBrokerProcess(home);
    let stderr = "";
    proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await within(new Promise<number | null>((r) => proc.once("exit", (c) => r(c))), 15_000, "a broker on a full disk to give up");
    assert.equal(code, 1, "a broker cannot start on a full disk");
    assert.match(stderr, /state folder is full/, `it says why: ${stderr}`);
    report.start_on_full_disk = stderr.trim();
    // A start that failed must not leave a half-written spawn lock that holds up the next start.
    await assert.rejects(access(brokerPaths(home).lockFile), "no spawn lock is left behind");

    await unlink(filler);
    const b2 = await startBroker(home);
    brokers.push(b2);
    const peer2 = await openStream(b2.record, pid);
    await b2.api.reattach((await b2.api.endpoints())[0]!.endpoint_id, pid);
    await checkState(b2, acked, (id) => peer.frames.some((f) => f.sourceMessageId === id));
    assert.equal((await b2.api.replayStream(stream)).stream.state, "aborted", "the stream running at the stop is aborted");
    await peer2.close();
    await b2.stop();
  });

  it("read-only while running (ext4 remounted read-only after an error): 507 storage_read_only, reads served, SIGTERM stops it, a new mount has everything", {
    timeout: 60_000,
  }, async () => {
    const work = await mkdtemp(join(tmpdir(), "sb-ro-"));
    scratch.push(work);
    const image = join(work, "state.img");
    const home = join(work, "home");
    sh("truncate", ["-s", "64M", image]);
    sh("mkfs.ext4", ["-q", "-F", image]);
    sh("mkdir", ["-p", home]);
    sh("mount", ["-o", "loop,errors=remount-ro", image, home]);
    mounts.push(home);
    const device = sh("findmnt", ["-n", "-o", "SOURCE", home])
      .trim()
      .replace(/^\/dev\//, "");

    const b = await startBroker(home);
    brokers.push(b);
    const pid = owners.spawn();
    const { acked, peer, ep, stream } = await makeState(b, pid, "ro");
    // What a disk error does to ext4 mounted errors=remount-ro: the file system turns read-only.
    sh("sh", ["-c", `echo 1 > /sys/fs/ext4/${device}/trigger_fs_error`]);
    assert.match(sh("findmnt", ["-n", "-o", "OPTIONS", home]).trim(), /(^|,)(ro|emergency_ro)(,|$)/, "the file system is read-only now");

    let first: BrokerError | undefined;
    for (let i = 0; i < 50 && !first; i++) {
      const r = await b.api.ingress({ from: "ro", content: `probe ${i}`, metadata: { target_endpoint_id: ep } }).catch((e: unknown) => e);
      if (r instanceof BrokerError) first = r;
      else acked.delivered.push((r as { messageId: string }).messageId);
    }
    assert.ok(first, "the journal met the read-only file system");
    assertStorageError(first, "storage_read_only", "the request caught in the failing write");
    assertStorageError(await refusal(b.api.ingress({ from: "ro", content: "refused" })), "storage_read_only", "a message");
    assertStorageError(await refusal(b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: "ro" })), "storage_read_only", "an approval");
    assertStorageError(await refusal(b.api.decide(acked.pending, { decision: "approve", decided_by: "ro" })), "storage_read_only", "a decision");
    await chunkDurableOrRefused(b.api.appendChunks(stream, [{ channel: 2, seq: 2, data: "after the error\n" }], pid), "storage_read_only");
    assert.equal((await b.api.health()).ok, true);
    assert.equal((await b.api.approval(acked.pending)).state, "pending");
    assert.equal((await b.api.undispatched(process.pid)).length, 10);

    b.proc.kill("SIGTERM");
    assert.equal(await exitOf(b.proc, 10_000), 0, "SIGTERM stops a broker on a read-only file system");
    await peer.close();
    // Recovery from an emergency read-only ext4 needs a new mount (remount rw is refused).
    await unmount(home);
    const fsck = spawnSync("e2fsck", ["-fy", image], { stdio: "ignore" });
    assert.ok(fsck.status === 0 || fsck.status === 1, `e2fsck exited ${fsck.status}`); // 1: errors corrected
    sh("mount", ["-o", "loop,errors=remount-ro", image, home]);
    mounts.push(home);
    const b2 = await startBroker(home);
    brokers.push(b2);
    const peer2 = await openStream(b2.record, pid);
    await b2.api.reattach(ep, pid);
    await checkState(b2, acked, (id) => peer.frames.some((f) => f.sourceMessageId === id));
    assert.ok(!(await b2.api.undispatched(process.pid)).some((i) => i.content === "refused"));
    assert.equal((await b2.api.replayStream(stream)).stream.state, "aborted");
    await b2.api.ingress({ from: "ro", content: "after remount" });
    await peer2.close();
    await b2.stop();
    report.read_only_running = { code: first.code, status: first.status };
  });

  it("read-only at start (tmpfs remounted read-only): the broker refuses to start and says so; after remount rw it has everything", { timeout: 60_000 }, async () => {
    const home = await mountTmpfs("16m");
    const b = await startBroker(home);
    brokers.push(b);
    const pid = owners.spawn();
    const { acked, peer } = await makeState(b, pid, "rostart");
    await b.kill9();
    await peer.close();
    sh("mount", ["-o", "remount,ro", home]);

    const proc = spawnBrokerProcess(home);
    let stderr = "";
    proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await within(new Promise<number | null>((r) => proc.once("exit", (c) => r(c))), 15_000, "a broker on a read-only folder to give up");
    assert.equal(code, 1);
    assert.match(stderr, /state folder is read-only/, `it says why: ${stderr}`);
    report.start_read_only = stderr.trim();

    sh("mount", ["-o", "remount,rw", home]);
    const b2 = await startBroker(home);
    brokers.push(b2);
    await checkState(b2, acked, (id) => peer.frames.some((f) => f.sourceMessageId === id));
    await b2.stop();
  });
});
