// A decision is written to the journal and to the audit log side by side, so a crash can leave it in
// one and not the other. After a restart the broker makes them agree: an outcome only the audit log
// has is applied to the approval (never a second, different outcome), and an outcome only the
// journal has is added to the audit log, whose chain still verifies.
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { brokerPaths } from "../../src/platform/paths.js";
import { AuditResponse } from "../../src/protocol/index.js";
import { verifyChain } from "../../src/platform/audit-chain.js";
import { startBroker, tempHome } from "../support/broker.js";
import { openStream } from "../support/ws.js";

const lines = (text: string) => text.split("\n").filter(Boolean);

describe("faults: journal and audit log after a crash between their writes", () => {
  it("the outcome in either one survives, once, and the chain verifies", async () => {
    const { home, cleanup } = await tempHome();
    let b = await startBroker(home);
    const owner = await openStream(b.record, process.pid);
    let summary: Record<string, unknown> = {};
    try {
      const ep = (await b.api.register({ plugin_pid: process.pid, kind: "test" })).endpoint_id;
      const onlyAudited = await b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: "journal lost the decision", command: "make" });
      const onlyJournaled = await b.api.requestApproval({ endpoint_id: ep, action: "sh", summary: "audit lost the decision", command: "make install" });
      await b.api.decide(onlyAudited.approval_id, { decision: "approve", decided_by: "alice" });
      await b.api.decide(onlyJournaled.approval_id, { decision: "reject", reason: "not now", decided_by: "bob" });
      await b.kill9();

      // The crash, both ways at once: the journal lost the first decision, the audit log its last
      // record (the second decision).
      const journalDir = brokerPaths(home).journalDir;
      const segments = (await readdir(journalDir)).filter((f) => /^log-\d+\.ndjson$/.test(f)).sort();
      const last = join(journalDir, segments.at(-1)!);
      const kept = lines(await readFile(last, "utf8")).filter((l) => !(l.includes(onlyAudited.approval_id) && l.includes('"approved"')));
      await writeFile(last, kept.map((l) => l + "\n").join(""));
      const auditFile = join(brokerPaths(home).brokerDir, "audit", "audit.ndjson");
      const audited = lines(await readFile(auditFile, "utf8")).filter((l) => !l.includes(onlyJournaled.approval_id));
      await writeFile(auditFile, audited.map((l) => l + "\n").join(""));

      b = await b.restart();
      const a1 = await b.api.approval(onlyAudited.approval_id);
      assert.equal(a1.state, "approved", "the outcome only the audit log had is the approval's outcome");
      assert.equal(a1.decided_by, "alice");
      // And it cannot be decided a second, different way.
      await assert.rejects(b.api.decide(onlyAudited.approval_id, { decision: "reject", decided_by: "mallory" }), (e: any) => e.status === 409);

      const a2 = await b.api.approval(onlyJournaled.approval_id);
      assert.equal(a2.state, "rejected");
      const log = (await b.api.call("GET", "/v1/audit", AuditResponse)) as { records: any[]; head: string };
      const check = verifyChain(log.records);
      assert.ok(check.ok, `the chain verifies: ${JSON.stringify(check)}`);
      const outcomes = log.records.map((r) => `${r.approval_id}:${r.outcome}`);
      assert.deepEqual(
        outcomes.filter((o) => o.startsWith(onlyAudited.approval_id)),
        [`${onlyAudited.approval_id}:approved`],
        "one record, the original outcome",
      );
      assert.deepEqual(
        outcomes.filter((o) => o.startsWith(onlyJournaled.approval_id)),
        [`${onlyJournaled.approval_id}:rejected`],
        "the journal's outcome was added",
      );
      summary = { suite: "faults/audit-journal", restored_from_audit: 1, added_to_audit: 1, audit_records: log.records.length };
    } finally {
      await owner.close();
      await b.stop();
      await cleanup();
    }
    console.log(JSON.stringify(summary));
  });
});
