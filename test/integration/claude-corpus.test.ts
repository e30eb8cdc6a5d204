// Switchboard must not change what Claude Code's Bash tool does: a corpus of awkward commands (quotes of
// every kind, newlines, here-docs, $( ), unicode, `cd` then a relative path in the next call, `export`
// then use, a background job, non-zero exits) run once by plain Claude Code and once through the hooks
// from `switchboard install claude --project` (every call approved by a reviewer), in the same folder
// with the same arguments. Claude's tool results must be byte-identical, and each call's output stream
// must hold what Claude got.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { startFakeAnthropic, type FakeAnthropic } from "../support/fake-model/anthropic.js";
import { CLI_ENTRY, startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { claudeSandbox, ensureClaude, runClaude } from "../support/claude.js";
import { waitFor } from "../support/wait.js";

const exec = promisify(execFile);

const CORPUS: string[] = [
  'mkdir -p w && cd w && basename "$PWD"',
  'basename "$PWD"',
  `echo 'single "double" $HOME' "double 'single' \\$x" $'ansi\\ttab'`,
  "printf 'line1\\nline2\\n'; echo \"multi\nline arg\"",
  "cat <<'EOF'\n$not_expanded `not run` \\n\nEOF",
  "cat <<EOF\nexpanded: $((6*7))\nEOF",
  `echo "$(echo nested $(echo deeper))" \`echo old-style\``,
  "echo 'héllo wörld 日本語 🎉 \u202e'; printf '\\u00e9\\n'",
  "echo relative-content > rel.txt",
  "cat ./rel.txt && ls",
  "export SB_CORPUS_VAR=exported-value; echo set",
  `echo "var=\${SB_CORPUS_VAR:-unset}"`,
  "(sleep 0.3; echo bg-done > bg.txt) & echo started",
  "sleep 1; cat bg.txt",
  "echo before; false",
  "echo to-stdout; echo to-stderr >&2; exit 7",
  "ls /nonexistent-switchboard-path",
  "echo only-err >&2",
  "echo 'a\\\\b' \"c\\\\d\" e\\\\f",
  "true",
  "echo '!#$%^&*()[]{}|;<>?~'",
  "seq 1 5000 | tail -3",
  'cd .. && basename "$PWD"',
];

describe("Claude Code's Bash tool gives the same results with and without Switchboard", () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  let broker: TestBroker;
  let fake: FakeAnthropic;
  let box: Awaited<ReturnType<typeof claudeSandbox>>;
  let reviewing = true;
  let approved = 0;

  before(async () => {
    ensureClaude();
    home = await tempHome("sb-claude-corpus-");
    broker = await startBroker(home.home);
    fake = await startFakeAnthropic();
    box = await claudeSandbox();
    // The reviewer: approves whatever is pending, as soon as it appears.
    void (async () => {
      while (reviewing) {
        for (const a of await broker.api.approvals("pending").catch(() => []))
          await broker.api.decide(a.approval_id, { decision: "approve", decided_by: "corpus-reviewer" }).then(
            () => approved++,
            () => {},
          );
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
  });

  after(async () => {
    reviewing = false;
    await broker.stop();
    await fake.close();
    await box.cleanup();
    await home.cleanup();
  });

  const runCorpus = async () => {
    await rm(join(box.project, "w"), { recursive: true, force: true });
    fake.enqueue(...CORPUS.map((command) => ({ toolUses: [{ name: "Bash", input: { command, description: "corpus" } }] })), { text: "corpus done" });
    const run = await runClaude(
      { cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: "run the corpus", env: { SWITCHBOARD_HOME: home.home }, args: ["--allowedTools", "Bash"] },
      180_000,
    );
    return run.toolResults().map((r) => ({ text: r.text, isError: r.isError }));
  };

  it("7. byte-identical tool results for the awkward-command corpus", async () => {
    const plain = await runCorpus();
    assert.equal(plain.length, CORPUS.length, "plain Claude Code ran every command");
    await exec(process.execPath, [CLI_ENTRY, "install", "claude", "--project", box.project], { env: { PATH: process.env.PATH ?? "" } });
    const gated = await runCorpus();
    assert.equal(approved, CORPUS.length, "every call went through a Switchboard approval");
    for (let i = 0; i < CORPUS.length; i++) assert.deepEqual(gated[i], plain[i], `command ${i + 1}: ${JSON.stringify(CORPUS[i])}`);
    // The corpus is awkward enough to matter: cd persisted, a command failed, output was non-ASCII.
    assert.equal(plain[1]!.text, "w");
    assert.ok(plain.some((r) => r.isError));
    assert.match(plain[7]!.text, /日本語/);
    // Each call's stream (from the PostToolUse hook) holds what Claude got, with the exit status Claude
    // reported. In call order (a command's text may reach Claude changed: the fake model's \u escapes).
    const streams = await waitFor(
      async () => {
        const all = (await broker.api.streams()).sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
        return all.length === CORPUS.length && all.every((st) => st.state !== "streaming") ? all : undefined;
      },
      15_000,
      "every corpus stream to end",
    );
    for (let i = 0; i < CORPUS.length; i++) {
      const st = streams[i]!;
      const failure = /^Exit code (\d+)(?:\n([\s\S]*))?$/.exec(gated[i]!.isError ? gated[i]!.text : "");
      assert.equal(st.state, "completed", `command ${i + 1}: ${st.reason ?? ""}`);
      assert.equal(st.exit_code, failure ? Number(failure[1]) : 0, `command ${i + 1}: ${JSON.stringify(CORPUS[i])}`);
      const out = (await broker.api.replayStream(st.stream_id)).chunks.map((c) => c.data).join("");
      const claudeGot = failure ? (failure[2] ?? "") : gated[i]!.text === "(Bash completed with no output)" ? "" : gated[i]!.text;
      assert.equal(out.replace(/\n$/, ""), claudeGot, `command ${i + 1}: the stream holds what Claude got`);
    }
  });
});
