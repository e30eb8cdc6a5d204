// The corpus of tricky commands (test/support/policy-corpus.ts) judged under test/support/policy-corpus-rules.json by
// `switchboard policy check --rules`: every case in process through the command's own function, and
// a sample through the built CLI (dist/cli.js) as a separate process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { checkWithFiles } from "../../src/cli/commands/policy.js";
import { CORPUS } from "../support/policy-corpus.js";
import { CLI_ENTRY, ROOT } from "../support/paths.js";

const RULES = join(ROOT, "test/support/policy-corpus-rules.json");
const WS = "/home/dev/project";

test(`the corpus has at least 200 commands (${CORPUS.length})`, () => {
  assert.ok(CORPUS.length >= 200);
  assert.equal(new Set(CORPUS.map((c) => c[0])).size, CORPUS.length, "no command twice");
});

test("every corpus command gets its decision", async () => {
  const wrong: string[] = [];
  for (const [command, expected, why] of CORPUS) {
    const r = await checkWithFiles([RULES], { command, cwd: WS });
    if (r.decision !== expected) wrong.push(`${JSON.stringify(command)}: expected ${expected} (${why}), got ${r.decision}: ${r.reason}`);
    // Every decision explains itself: a sentence, and a deciding rule for allow and deny.
    assert.ok(r.reason.length > 0);
    if (r.decision !== "ask") assert.ok(r.rule, `${JSON.stringify(command)} was decided without a rule`);
  }
  assert.deepEqual(wrong, []);
});

test("the CLI prints the same decisions as JSON (a sample of the corpus, as processes)", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "sb-policy-"));
  try {
    const sample = CORPUS.filter((_, i) => i % 12 === 0);
    for (const [command, expected] of sample) {
      const { stdout } = await promisify(execFile)(process.execPath, [CLI_ENTRY, "policy", "check", "--rules", RULES, "--json", "--command", command], {
        cwd,
        env: { ...process.env, SWITCHBOARD_HOME: join(cwd, "home") },
      });
      const r = JSON.parse(stdout) as { decision: string; rule: string | null };
      assert.equal(r.decision, expected, command);
      assert.ok("rule" in r);
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
