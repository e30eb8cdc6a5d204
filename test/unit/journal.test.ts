import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Journal, type JournalOptions } from "../../src/broker/journal.js";

type Rec = { id: number; text?: string };
type State = { ids: number[] };

let root: string;
let logs: Array<{ level: string; msg: string }>;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "journal-test-"));
  logs = [];
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function opts(extra: Partial<JournalOptions> = {}): JournalOptions {
  return { dir: join(root, "j"), log: (level, msg) => void logs.push({ level, msg }), ...extra };
}

const openJ = (extra?: Partial<JournalOptions>) => Journal.open<State, Rec>(opts(extra));

async function segments(): Promise<string[]> {
  return (await readdir(join(root, "j"))).filter((f) => f.startsWith("log-")).sort();
}

async function reopen(extra?: Partial<JournalOptions>) {
  const { journal, recovered } = await openJ(extra);
  await journal.close();
  return recovered;
}

test("empty dir: nothing recovered, no files created until the first append", async () => {
  const { journal, recovered } = await openJ();
  assert.deepEqual(recovered, { snapshot: undefined, records: [], tornTail: false, skipped: 0 });
  assert.equal(journal.pendingBytes, 0);
  await journal.close();
  assert.deepEqual(await readdir(join(root, "j")), []);
});

test("round trip: append, close, reopen; seq continues across restarts", async () => {
  let { journal } = await openJ();
  await journal.append({ id: 1 });
  await journal.append({ id: 2, text: "ünïcode \n \u2028 line" });
  await journal.close();

  ({ journal } = await openJ());
  await journal.append({ id: 3 });
  await journal.close();

  const rec = await reopen();
  assert.deepEqual(rec.records, [{ id: 1 }, { id: 2, text: "ünïcode \n \u2028 line" }, { id: 3 }]);
  assert.equal(rec.tornTail, false);
  assert.equal(rec.skipped, 0);
  const lines = (await Promise.all((await segments()).map((f) => readFile(join(root, "j", f), "utf8"))))
    .join("")
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as { s: number });
  assert.deepEqual(
    lines.map((l) => l.s),
    [1, 2, 3],
  );
});

test("concurrent appends are group-committed and keep call order", async () => {
  const { journal } = await openJ();
  const n = 500;
  const first = Array.from({ length: n }, (_, i) => journal.append({ id: i }));
  // Appended while the first batch is in flight: these go out together in the next batch.
  await new Promise((r) => setImmediate(r));
  const second = Array.from({ length: n }, (_, i) => journal.append({ id: n + i }));
  await Promise.all([...first, ...second]);
  const { batches, records } = journal.stats;
  assert.equal(records, 2 * n);
  assert.ok(batches <= 3, `expected few batches, got ${batches}`);
  assert.ok(journal.pendingBytes > 0);
  await journal.close();

  const rec = await reopen();
  assert.deepEqual(
    rec.records.map((r) => r.id),
    Array.from({ length: 2 * n }, (_, i) => i),
  );
});

test("flush waits for everything appended so far", async () => {
  const { journal } = await openJ({ fsync: false });
  const done: number[] = [];
  for (let i = 0; i < 10; i++) void journal.append({ id: i }).then(() => done.push(i));
  await journal.flush();
  assert.equal(journal.stats.records, 10);
  await journal.flush(); // nothing pending: resolves at once
  await journal.close();
  assert.deepEqual(done, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test("torn tail is cut off and later appends stay clean", async () => {
  const first = (await openJ()).journal;
  await Promise.all([first.append({ id: 1 }), first.append({ id: 2 }), first.append({ id: 3 })]);
  await first.close();
  const [seg] = await segments();
  await appendFile(join(root, "j", seg!), '{"s":4,"r":{"id"');

  const { journal, recovered } = await openJ();
  assert.deepEqual(
    recovered.records.map((r) => r.id),
    [1, 2, 3],
  );
  assert.equal(recovered.tornTail, true);
  assert.equal(recovered.skipped, 0);
  await journal.append({ id: 4 });
  await journal.close();

  const rec = await reopen();
  assert.deepEqual(
    rec.records.map((r) => r.id),
    [1, 2, 3, 4],
  );
  assert.equal(rec.tornTail, false);
  for (const f of await segments()) {
    const text = await readFile(join(root, "j", f), "utf8");
    assert.ok(text.endsWith("\n"), `${f} ends with a newline`);
    for (const line of text.trimEnd().split("\n")) JSON.parse(line); // no garbage left
  }
});

test("a complete but unparsable last line is also a torn tail", async () => {
  const { journal } = await openJ();
  await journal.append({ id: 1 });
  await journal.close();
  const [seg] = await segments();
  await appendFile(join(root, "j", seg!), "#garbage\n");
  const rec = await reopen();
  assert.deepEqual(rec.records, [{ id: 1 }]);
  assert.equal(rec.tornTail, true);
  assert.equal(await readFile(join(root, "j", seg!), "utf8"), '{"s":1,"r":{"id":1}}\n');
});

test("corrupt line in the middle is skipped and logged", async () => {
  const dir = join(root, "j");
  await rm(dir, { recursive: true, force: true });
  const { journal: j0 } = await openJ(); // creates the dir
  await j0.close();
  await writeFile(join(dir, "log-0000000001.ndjson"), '{"s":1,"r":{"id":1}}\n{"s":2,"r":{"id\n{"s":3,"r":{"id":3}}\n');
  await writeFile(join(dir, "log-0000000002.ndjson"), '{"s":4,"r":{"id":4}}\n');
  const { journal, recovered } = await openJ();
  assert.deepEqual(
    recovered.records.map((r) => r.id),
    [1, 3, 4],
  );
  assert.equal(recovered.skipped, 1);
  assert.equal(recovered.tornTail, false);
  assert.ok(logs.some((l) => l.level === "warn" && /corrupt/.test(l.msg)));
  await journal.append({ id: 5 });
  await journal.close();
  const rec = await reopen();
  assert.deepEqual(
    rec.records.map((r) => r.id),
    [1, 3, 4, 5],
  );
});

test("compaction: reopen gives snapshot plus only later records", async () => {
  const { journal } = await openJ();
  const ids: number[] = [];
  for (let i = 1; i <= 5; i++) {
    ids.push(i);
    void journal.append({ id: i });
  }
  const bytesBefore = journal.pendingBytes;
  assert.ok(bytesBefore > 0);
  const compacted = journal.compact({ ids: [...ids] });
  // Appended while the compaction runs: must land after the snapshot, in the new segment.
  const later = [journal.append({ id: 6 }), journal.append({ id: 7 })];
  await compacted;
  await Promise.all(later);
  assert.ok(journal.pendingBytes > 0 && journal.pendingBytes < bytesBefore);
  await journal.close();

  const snap = JSON.parse(await readFile(join(root, "j", "snapshot.json"), "utf8"));
  assert.deepEqual(snap, { version: 1, seq: 5, state: { ids: [1, 2, 3, 4, 5] } });
  assert.equal((await segments()).length, 1, "old segments deleted");

  const rec = await reopen();
  assert.deepEqual(rec.snapshot, { ids: [1, 2, 3, 4, 5] });
  assert.deepEqual(
    rec.records.map((r) => r.id),
    [6, 7],
  );

  // seq continues after the snapshot even when no segment survives
  let { journal: j2 } = await openJ();
  await j2.compact({ ids: [1, 2, 3, 4, 5, 6, 7] });
  assert.equal(j2.pendingBytes, 0);
  await j2.close();
  assert.deepEqual(await segments(), []);
  ({ journal: j2 } = await openJ());
  await j2.append({ id: 8 });
  await j2.close();
  const rec2 = await reopen();
  assert.deepEqual(rec2.snapshot, { ids: [1, 2, 3, 4, 5, 6, 7] });
  assert.deepEqual(rec2.records, [{ id: 8 }]);
  const [seg] = await segments();
  assert.match(await readFile(join(root, "j", seg!), "utf8"), /^\{"s":8,/);
});

test("back-to-back compactions are serialized, each covering its own call point", async () => {
  const { journal } = await openJ();
  void journal.append({ id: 1 });
  const c1 = journal.compact({ ids: [1] });
  void journal.append({ id: 2 });
  const c2 = journal.compact({ ids: [1, 2] });
  const a3 = journal.append({ id: 3 });
  await Promise.all([c1, c2, a3]);
  await journal.close();
  const rec = await reopen();
  assert.deepEqual(rec.snapshot, { ids: [1, 2] });
  assert.deepEqual(rec.records, [{ id: 3 }]);
});

test("dir with only a snapshot", async () => {
  const { journal: j0 } = await openJ();
  await j0.close();
  await writeFile(join(root, "j", "snapshot.json"), '{"version":1,"seq":41,"state":{"ids":[9]}}');
  const { journal, recovered } = await openJ();
  assert.deepEqual(recovered, { snapshot: { ids: [9] }, records: [], tornTail: false, skipped: 0 });
  await journal.append({ id: 42 });
  await journal.close();
  const [seg] = await segments();
  assert.match(await readFile(join(root, "j", seg!), "utf8"), /^\{"s":42,/);
});

test("crash after snapshot rename, before segment deletion: nothing applied twice", async () => {
  const { journal: j0 } = await openJ();
  await j0.close();
  const dir = join(root, "j");
  const line = (s: number) => JSON.stringify({ s, r: { id: s } }) + "\n";
  await writeFile(join(dir, "log-0000000001.ndjson"), line(1) + line(2));
  await writeFile(join(dir, "log-0000000002.ndjson"), line(3));
  await writeFile(join(dir, "log-0000000003.ndjson"), line(4) + line(5));
  await writeFile(join(dir, "snapshot.json"), JSON.stringify({ version: 1, seq: 3, state: { ids: [1, 2, 3] } }));

  const { journal, recovered } = await openJ();
  assert.deepEqual(recovered.snapshot, { ids: [1, 2, 3] });
  assert.deepEqual(
    recovered.records.map((r) => r.id),
    [4, 5],
  );
  assert.equal(recovered.skipped, 0);
  // segments wholly covered by the snapshot are cleaned up
  assert.deepEqual(await segments(), ["log-0000000003.ndjson"]);
  await journal.append({ id: 6 });
  await journal.close();
  const rec = await reopen();
  assert.deepEqual(
    rec.records.map((r) => r.id),
    [4, 5, 6],
  );
});

test("crash during snapshot.tmp write: tmp ignored and removed", async () => {
  let { journal } = await openJ();
  await journal.append({ id: 1 });
  await journal.close();
  await writeFile(join(root, "j", "snapshot.json.tmp"), '{"version":1,"seq":1,"sta');
  const recovered = await reopen();
  assert.deepEqual(recovered.records, [{ id: 1 }]);
  assert.equal(recovered.snapshot, undefined);
  assert.ok(!(await readdir(join(root, "j"))).includes("snapshot.json.tmp"));
  ({ journal } = await openJ());
  await journal.close();
});

test("corrupt snapshot refuses to open", async () => {
  const { journal: j0 } = await openJ();
  await j0.close();
  await writeFile(join(root, "j", "snapshot.json"), '{"version":1,"seq":3,"sta');
  await assert.rejects(openJ(), /snapshot .* unusable/);
  assert.ok(logs.some((l) => l.level === "error"));
  await writeFile(join(root, "j", "snapshot.json"), '{"version":2,"seq":3,"state":null}');
  await assert.rejects(openJ(), /unsupported version/);
});

test("append after close rejects; close is idempotent", async () => {
  const { journal } = await openJ();
  await journal.append({ id: 1 });
  await journal.close();
  await journal.close();
  await assert.rejects(journal.append({ id: 2 }), /append after close/);
  await assert.rejects(journal.compact({ ids: [] }), /after close/);
});

test("non-JSON record rejects without consuming a seq", async () => {
  const { journal } = await openJ();
  await assert.rejects(journal.append(undefined as unknown as Rec), TypeError);
  await assert.rejects(journal.append({ id: 1n } as unknown as Rec), TypeError);
  await journal.append({ id: 1 });
  await journal.close();
  const [seg] = await segments();
  assert.equal(await readFile(join(root, "j", seg!), "utf8"), '{"s":1,"r":{"id":1}}\n');
});

test("a write error rejects the records queued then, keeps them and writes them once it can; nothing is dropped or reordered", async () => {
  const { journal } = await openJ();
  await journal.append({ id: 1 });
  // Sabotage the segment handle to make the next write fail.
  const internals = journal as unknown as { current: { fh: { close(): Promise<void> } | undefined } };
  await internals.current.fh!.close();
  const err = await journal.append({ id: 2 }).then(
    () => assert.fail("append should have failed"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error);
  assert.equal(journal.failure, err, "the journal reports the failure while it holds unwritten records");
  assert.ok(logs.some((l) => l.level === "error"));
  // The next append retries (on a fresh handle): record 2 goes out first, then 3.
  await journal.append({ id: 3 });
  assert.equal(journal.failure, undefined);
  await journal.close();
  const rec = await reopen();
  assert.deepEqual(rec.records, [{ id: 1 }, { id: 2 }, { id: 3 }]);
  assert.equal(rec.tornTail, false);
});

test("a failed fdatasync refuses every later write until the journal is opened again", async () => {
  const { journal } = await openJ();
  await journal.append({ id: 1 });
  const fh = (journal as unknown as { current: { fh: { datasync(): Promise<void> } } }).current.fh;
  fh.datasync = () => Promise.reject(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
  await assert.rejects(journal.append({ id: 2 }), /fdatasync failed/);
  assert.ok(journal.failure);
  await assert.rejects(journal.append({ id: 3 }), /fdatasync failed/);
  await assert.rejects(journal.flush(), /fdatasync failed/);
  await assert.rejects(journal.close(), /fdatasync failed/);
  const rec = await reopen();
  // Record 2 reached the page cache before the sync failed; it was never acknowledged either way.
  assert.deepEqual(rec.records.slice(0, 1), [{ id: 1 }]);
  assert.ok(!rec.records.some((r) => r.id === 3));
});

test("file modes: dir 0700, files 0600", { skip: process.platform === "win32" }, async () => {
  const { journal } = await openJ();
  await journal.append({ id: 1 });
  await journal.compact({ ids: [1] });
  await journal.append({ id: 2 });
  await journal.close();
  const dir = join(root, "j");
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const files = await readdir(dir);
  assert.ok(files.includes("snapshot.json") && files.some((f) => f.startsWith("log-")));
  for (const f of files) assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, f);
});

test("kill -9: every acknowledged append survives, as a contiguous prefix", { skip: process.platform === "win32" }, async () => {
  const dir = join(root, "j");
  const mod = new URL("../../src/broker/journal.ts", import.meta.url).href;
  // The child appends forever and prints each id once its append resolved (= acknowledged).
  const code = `const { Journal } = await import(${JSON.stringify(mod)});
    const { journal } = await Journal.open({ dir: process.argv[1] });
    for (let i = 0; ; i++) {
      void journal.append({ id: i }).then(() => process.stdout.write(i + "\\n"));
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
    }`;
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), "--input-type=module", "-e", code, dir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => {
    out += d;
    if (out.length > 5000) child.kill("SIGKILL");
  });
  const signal = await new Promise((resolve) => child.on("exit", (_code, sig) => resolve(sig)));
  assert.equal(signal, "SIGKILL");
  const acked = out
    .split("\n")
    .filter((l) => l !== "")
    .map(Number);
  const maxAcked = Math.max(...acked);

  const rec = await reopen();
  const ids = rec.records.map((r) => r.id);
  assert.ok(ids.length > maxAcked, `recovered ${ids.length} records, acked up to ${maxAcked}`);
  assert.deepEqual(
    ids,
    Array.from({ length: ids.length }, (_, i) => i),
  );
});
