// The policy engine's rules: patterns, examples checked at load, scopes and trust, edits, proposals.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadRulesText, Policy, proposeRule, READ_ONLY, type RuleSource } from "../../src/policy/index.js";

const WS = "/w";
const src = (rules: RuleSource["rules"], over: Partial<RuleSource> = {}): RuleSource => ({ scope: "user", where: "user rules", trusted: true, rules, ...over });

test("the minimal rules file of the issue works as written", () => {
  const text = `{"rules":[{"id":"tests","decision":"allow","command":"npm run test:*"},{"id":"src","decision":"allow","edit":"src/**"}]}`;
  const loaded = loadRulesText(text, "user", "user rules", true);
  assert.deepEqual(loaded.errors, []);
  const p = new Policy([loaded.source]);
  assert.equal(p.evaluate({ command: "npm run test:unit", cwd: WS, workspace: WS }).decision, "allow");
  assert.equal(p.evaluate({ edit: "src/a/b.ts", cwd: WS, workspace: WS }).decision, "allow");
  assert.equal(p.evaluate({ edit: "/w/src/a.ts", cwd: "/w/src", workspace: WS }).decision, "allow");
  assert.equal(p.evaluate({ edit: "a.ts", cwd: "/w/src", workspace: WS }).rule, "src", "relative to cwd, matched relative to the workspace");
  assert.equal(p.evaluate({ edit: "README.md", cwd: WS, workspace: WS }).decision, "ask");
});

test("a rule whose examples disagree is refused with a sentence naming it; the file then allows nothing", () => {
  const text = JSON.stringify({
    rules: [
      { id: "git-log", decision: "allow", command: "git log *", examples: { match: ["git log > out.txt"] } },
      { id: "rm", decision: "deny", command: "rm *" },
      { id: "ls", decision: "allow", command: "ls *" },
      { id: "status", decision: "allow", command: "git status", examples: { not_match: ["git status"] } },
    ],
  });
  const loaded = loadRulesText(text, "user", "user rules", true);
  assert.equal(loaded.errors.length, 2);
  assert.match(loaded.errors[0]!, /rule git-log does not allow its example `git log > out.txt`/);
  assert.match(loaded.errors[1]!, /rule status matches its example `git status`/);
  assert.deepEqual(
    loaded.source.rules.map((r) => r.id),
    ["rm"],
    "deny and ask rules stay, allow rules go",
  );
});

test("malformed files and rules are refused with sentences", () => {
  assert.match(loadRulesText("{", "user", "f", true).errors[0]!, /f is not JSON/);
  assert.match(loadRulesText(`{"rules":[{"id":"a","decision":"allow"}]}`, "user", "f", true).errors[0]!, /either `command` or `edit`/);
  assert.match(loadRulesText(`{"rules":[{"id":"a","decision":"allow","command":"* x"}]}`, "user", "f", true).errors[0]!, /cannot start with `\*`/);
  assert.match(loadRulesText(`{"rules":[{"id":"a","decision":"allow","edit":"../x"}]}`, "user", "f", true).errors[0]!, /cannot leave the workspace/);
  assert.match(loadRulesText(`{"rules":[{"id":"a","decision":"allow","command":"x"},{"id":"a","decision":"deny","command":"y"}]}`, "user", "f", true).errors[0]!, /defined twice/);
});

test("deny > ask > allow across scopes; a workspace allow rule counts only once its file is accepted", () => {
  const user = src([{ id: "u-allow", decision: "allow", command: "make *" }]);
  const ws = src(
    [
      { id: "w-ask", decision: "ask", command: "make deploy" },
      { id: "w-allow", decision: "allow", command: "curl *" },
    ],
    { scope: "workspace", where: "workspace rules", trusted: false },
  );
  const session = src([{ id: "s-deny", decision: "deny", command: "make clean" }], { scope: "session", where: "session x" });
  const p = new Policy([user, ws, session]);
  const j = (c: string) => p.evaluate({ command: c, cwd: WS, workspace: WS });
  assert.equal(j("make test").decision, "allow");
  assert.equal(j("make deploy").decision, "ask");
  assert.equal(j("make deploy").rule, "w-ask", "untrusted workspace files may still ask");
  assert.equal(j("make clean").decision, "deny");
  const curl = j("curl https://x | sh");
  assert.equal(curl.decision, "ask");
  assert.match(curl.ignored[0]!, /w-allow .*not accepted/);
  const accepted = new Policy([user, { ...ws, trusted: true }, session]);
  assert.equal(accepted.evaluate({ command: "curl x", cwd: WS, workspace: WS }).decision, "allow");
});

test("edits: always-ask folders and paths outside the workspace, whatever a rule says; deny still denies", () => {
  const p = new Policy([
    src([
      { id: "all", decision: "allow", edit: "**" },
      { id: "no-env", decision: "deny", edit: "**/.env" },
    ]),
  ]);
  const e = (path: string) => p.evaluate({ edit: path, cwd: WS, workspace: WS }).decision;
  assert.equal(e("src/a.ts"), "allow");
  assert.equal(e(".git/config"), "ask");
  assert.equal(e("sub/.git/hooks/pre-commit"), "ask");
  assert.equal(e(".switchboard/policy.json"), "ask");
  assert.equal(e("/etc/passwd"), "ask");
  assert.equal(e("../other/x"), "ask");
  assert.equal(e("config/.env"), "deny");
});

test("the read-only built-in set (autoApproveEnv) judged by the same engine", () => {
  const p = new Policy([src(READ_ONLY, { scope: "builtin", where: "built-in read-only rules" })]);
  const j = (c: string) => p.evaluate({ command: c, cwd: WS, workspace: WS }).decision;
  assert.equal(j("git status"), "allow");
  assert.equal(j("ls -la | grep x | wc -l"), "allow");
  assert.equal(j("git log --output=x"), "ask");
  assert.equal(j("find . -delete"), "ask");
  assert.equal(j("find . -exec rm {} +"), "ask");
  assert.equal(j("cat x > y"), "ask");
  assert.equal(j("sort -o out in"), "ask");
  assert.equal(j("uniq a b"), "ask");
});

test("Allow similar… proposes a generalised rule", () => {
  const p = (command: string) => proposeRule({ command });
  assert.deepEqual(p("npm run test:unit"), { id: "allow-npm-run-test:any", decision: "allow", command: "npm run test:*" });
  assert.equal((p("git log --oneline -5") as { command: string }).command, "git log *");
  assert.equal((p("ls -la") as { command: string }).command, "ls *");
  assert.equal((p("FOO=1 timeout 5 cargo test foo") as { command: string }).command, "cargo test *");
  assert.equal(typeof p("$(echo rm) x"), "string");
  assert.deepEqual(proposeRule({ edit: "/w/src/a/b.ts", workspace: WS }), { id: "allow-edit-src/a/any", decision: "allow", edit: "src/a/**" });
});

test("every decision explains itself, part by part", () => {
  const p = new Policy([
    src([
      { id: "log", decision: "allow", command: "git log *" },
      { id: "rm", decision: "deny", command: "rm *" },
    ]),
  ]);
  const r = p.evaluate({ command: "git log | tee out.txt && rm -rf x", cwd: WS, workspace: WS });
  assert.equal(r.decision, "deny");
  assert.equal(r.rule, "rm");
  assert.equal(r.where, "user rules");
  assert.match(r.reason, /^Denied by rule rm \(user rules\): `rm -rf x`\.$/);
  assert.deepEqual(
    r.parts.map((x) => [x.part, x.decision, x.rule]),
    [
      ["git log", "allow", "log"],
      ["tee out.txt", "allow", null],
      ["tee writes out.txt", "ask", null],
      ["rm -rf x", "deny", "rm"],
    ],
  );
});

test("built-in rules are valid rules (ids, patterns)", async () => {
  const v = await import("valibot");
  const { Rule } = await import("../../src/protocol/policy.js");
  const { GUARDS } = await import("../../src/policy/index.js");
  for (const r of [...READ_ONLY, ...GUARDS]) assert.ok(v.safeParse(Rule, r).success, r.id);
  assert.equal(new Set([...READ_ONLY, ...GUARDS].map((r) => r.id)).size, READ_ONLY.length + GUARDS.length);
});

test("command patterns: exact words, a lone * for any words (last or not), * inside a word, computed words only match a lone *", async () => {
  const { compileCommandPattern, matchCommand } = await import("../../src/policy/pattern.js");
  const w = (...xs: (string | null)[]) => xs.map((value) => ({ raw: value ?? "$x", value }));
  const m = (pattern: string, words: ReturnType<typeof w>) => {
    const p = compileCommandPattern(pattern);
    assert.ok(typeof p !== "string", String(p));
    return matchCommand(p, words);
  };
  assert.ok(m("git status", w("git", "status")));
  assert.ok(!m("git status", w("git", "status", "-s")));
  assert.ok(m("git log *", w("git", "log")));
  assert.ok(m("git log *", w("git", "log", null, "x")));
  assert.ok(!m("git log", w("git", null)));
  assert.ok(m("npm run test:*", w("npm", "run", "test:unit")));
  assert.ok(!m("npm run test:*", w("npm", "run", null)));
  assert.ok(!m("npm run test:*", w("npm", "run", "test:unit", "x")));
  assert.ok(m("git * --output* *", w("git", "log", "-p", "--output=x", "y")));
  assert.ok(m("git * --output* *", w("git", "--output", "x")));
  assert.ok(!m("git * --output* *", w("git", "log", "-p")));
  assert.ok(m("echo 'a b' *", w("echo", "a b", "c")));
  assert.ok(m("echo \\* *", w("echo", "*")));
  assert.ok(!m("echo \\*", w("echo", "x")));
  assert.equal(typeof compileCommandPattern("'unterminated"), "string");
});
