// The broker's own files under hostile changes to the state folder (issue 15, item 7): a symbolic link
// planted where the broker writes (its log, the audit log, a journal segment, the journal snapshot's
// temporary file, a folder) is refused, never written through nor truncated; a line that is not JSON in
// audit.ndjson does not stop the broker: it starts, says where the chain is broken (log, /v1/initialize,
// `switchboard status`) and keeps appending.
//
//   npm run build && node --import tsx --test --test-reporter=spec test/security/state-files.test.ts
import { execFile } from "node:child_process";
import { appendFile, lstat, mkdir, readFile, readdir, rename, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { brokerPaths } from "../../src/platform/paths.js";
import { CLI_ENTRY, spawnBrokerProcess, startBroker, tempHome } from "../support/broker.js";
import { openStream } from "../support/ws.js";
import { Summary, raw } from "./helpers.js";

const S = new Summary("security/state-files");
const run = promisify(execFile);
const homes: Awaited<ReturnType<typeof tempHome>>[] = [];
const PRECIOUS = "precious: must not change\nand no line feed at the end";

async function home(): Promise<string> {
  const h = await tempHome("sb-sec-files-");
  homes.push(h);
  return h.home;
}

/** Starts a broker that must refuse to start; resolves with its exit code and stderr. */
function refusedStart(dir: string): Promise<{ code: number | null; stderr: string }> {
  const proc = spawnBrokerProcess(dir);
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (proc.kill("SIGKILL"), reject(new Error(`the broker started in spite of a planted link (stderr: ${stderr})`))), 15_000);
    proc.once("exit", (code) => (clearTimeout(timer), resolve({ code, stderr })));
  });
}

/** A state folder with some journal and audit history, broker stopped. */
async function seeded(crash = false): Promise<string> {
  const dir = await home();
  const b = await startBroker(dir);
  const peer = await openStream(b.record, process.pid);
  const ep = (await raw(b.record, "POST", "/v1/endpoint/register", { body: JSON.stringify({ plugin_pid: process.pid, kind: "t", session_name: "files" }) })).body.endpoint_id;
  const a = (await raw(b.record, "POST", "/v1/approvals", { body: JSON.stringify({ endpoint_id: ep, action: "sh", summary: "s", command: "true" }) })).body;
  await raw(b.record, "POST", `/v1/approvals/${a.approval_id}/decision`, { body: JSON.stringify({ decision: "approve", decided_by: "test" }) });
  await peer.close();
  // A crash leaves the journal segments as they are; a clean stop compacts them into the snapshot.
  if (crash) await b.kill9();
  else await b.stop();
  return dir;
}

describe("security/state-files: planted links and a damaged audit log", () => {
  after(async () => {
    for (const h of homes) await h.cleanup();
    S.print();
  });

  const targets: [string, (p: ReturnType<typeof brokerPaths>) => string][] = [
    ["broker.log", (p) => p.logFile],
    ["audit.ndjson", (p) => join(p.brokerDir, "audit", "audit.ndjson")],
    ["snapshot.json.tmp", (p) => join(p.journalDir, "snapshot.json.tmp")],
  ];
  for (const [name, where] of targets) {
    it(`a link planted as ${name} is refused (${name === "snapshot.json.tmp" ? "removed, not written through" : "the broker does not start"}) and its target is untouched`, async () => {
      const dir = await seeded();
      const p = brokerPaths(dir);
      const target = join(dir, `outside-${name}`);
      await writeFile(target, PRECIOUS);
      await rename(where(p), `${where(p)}.moved`).catch(() => {});
      await symlink(target, where(p));
      if (name === "snapshot.json.tmp") {
        // The temporary file is written when the broker compacts (at the latest when it stops).
        // A leftover temporary file is deleted at start (the link itself, not its target), and every
        // compaction opens it O_NOFOLLOW.
        const b = await startBroker(dir);
        await b.stop();
        S.ok(!(await lstat(where(p)).catch(() => undefined))?.isSymbolicLink(), "the link is gone");
      } else {
        const r = await refusedStart(dir);
        S.equal(r.code, 1, `exit 1 (stderr: ${r.stderr.trim()})`);
        S.ok(/symbolic link/.test(r.stderr) && r.stderr.includes(where(p)), `it names the link: ${r.stderr.trim()}`);
      }
      S.equal(await readFile(target, "utf8"), PRECIOUS, `the link's target is unchanged (${name})`);
    });
  }

  it("a link planted as the last journal segment is refused, and its target (with a torn-looking end) is not truncated", async () => {
    const dir = await seeded(true);
    const p = brokerPaths(dir);
    const segs = (await readdir(p.journalDir)).filter((f) => /^log-\d+\.ndjson$/.test(f)).sort();
    S.ok(segs.length > 0, `the crash left journal segments: ${segs.join(", ")}`);
    const last = join(p.journalDir, segs.at(-1)!);
    const target = join(dir, "outside-segment");
    await writeFile(target, PRECIOUS);
    await rename(last, `${last}.moved`).catch(() => {});
    await symlink(target, last);
    const r = await refusedStart(dir);
    S.equal(r.code, 1, `exit 1 (stderr: ${r.stderr.trim()})`);
    S.ok(/symbolic link/.test(r.stderr), `it says why: ${r.stderr.trim()}`);
    S.equal(await readFile(target, "utf8"), PRECIOUS, "the target was not cut at its last line feed");
  });

  it("a folder of the state folder that is a link is refused", async () => {
    const dir = await home();
    const elsewhere = join(dir, "elsewhere");
    await mkdir(join(dir, "broker"), { recursive: true });
    await mkdir(elsewhere);
    await symlink(elsewhere, join(dir, "broker", "log"));
    const r = await refusedStart(dir);
    S.equal(r.code, 1, `exit 1 (stderr: ${r.stderr.trim()})`);
    S.deepEqual(await readdir(elsewhere), [], "nothing was written into the link's target");
  });

  it("one line that is not JSON in audit.ndjson: the broker starts, says where the chain is broken, and keeps appending", async () => {
    const dir = await seeded();
    const p = brokerPaths(dir);
    const file = join(p.brokerDir, "audit", "audit.ndjson");
    await appendFile(file, "this line is not JSON\n");
    const b = await startBroker(dir);
    try {
      const init = await raw(b.record, "POST", "/v1/initialize", { body: JSON.stringify({ client_protocol_version: "1.1", client_kind: "test" }) });
      S.equal(init.status, 200);
      const w = (init.body.warnings as { code: string; message: string }[]).find((x) => x.code === "audit_chain_broken");
      S.ok(w && /line 2 /.test(w.message), `initialize carries the warning with the line: ${w?.message}`);
      const log = await readFile(p.logFile, "utf8");
      S.ok(
        log.split("\n").some((l) => l.includes('"level":"error"') && l.includes("audit log is broken at line 2")),
        "the broker log says it as an error",
      );
      // status says it loudly (on stderr, so scripts reading stdout are not confused), and in --json.
      const status = await run(process.execPath, [CLI_ENTRY, "status", "--no-start"], { env: { ...process.env, SWITCHBOARD_HOME: dir } });
      S.ok(/audit log is broken at line 2/.test(status.stderr), `switchboard status warns: ${status.stderr.trim()}`);
      const statusJson = JSON.parse((await run(process.execPath, [CLI_ENTRY, "status", "--no-start", "--json"], { env: { ...process.env, SWITCHBOARD_HOME: dir } })).stdout);
      S.equal(statusJson.warnings?.[0]?.code, "audit_chain_broken", "…and in --json");
      // New outcomes are still recorded, after the bad line.
      const peer = await openStream(b.record, process.pid);
      const ep = (await raw(b.record, "POST", "/v1/endpoint/register", { body: JSON.stringify({ plugin_pid: process.pid, kind: "t" }) })).body.endpoint_id;
      const a = (await raw(b.record, "POST", "/v1/approvals", { body: JSON.stringify({ endpoint_id: ep, action: "sh", summary: "after", command: "true" }) })).body;
      S.equal(
        (await raw(b.record, "POST", `/v1/approvals/${a.approval_id}/decision`, { body: JSON.stringify({ decision: "reject", decided_by: "test" }) })).status,
        200,
        "a decision is acknowledged",
      );
      const lines = (await readFile(file, "utf8")).trim().split("\n");
      S.equal(lines.length, 3, "the new record was appended after the bad line");
      S.equal(JSON.parse(lines[2]!).approval_id, a.approval_id);
      S.equal(JSON.parse(lines[2]!).seq, 2, "…chained on from the last good record");
      const audit = await raw(b.record, "GET", "/v1/audit");
      S.equal(audit.body.broken?.line, 2, "/v1/audit names the broken line");
      await peer.close();
      const verify = await run(process.execPath, [CLI_ENTRY, "audit", "verify", "--file", file]).catch((e) => e);
      S.equal(verify.code, 1, "audit verify fails");
      S.ok(/broken at record 2/.test(verify.stdout), `…and names it: ${verify.stdout.trim()}`);
    } finally {
      await b.stop();
    }
  });
});
