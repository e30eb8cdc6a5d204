// Properties of the policy engine (fast-check): rules only ever make it stricter where they should,
// a whole is allowed only part by part, and what the parser cannot parse is never allowed.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { forEachChild, parse, type SyntaxNode } from "unbash";
import { Policy } from "../../src/policy/index.js";
import type { Rule } from "../../src/protocol/policy.js";

const WS = "/w";

const WORDS = [
  "git",
  "status",
  "log",
  "rm",
  "-rf",
  "ls",
  "echo",
  "cat",
  "x",
  "src/a",
  "'q w'",
  '"$x"',
  "$y",
  "$(ls)",
  "`rm x`",
  "<(ls)",
  "find",
  "-exec",
  "{}",
  "\\;",
  "xargs",
  "env",
  "PATH=/t",
  "A=1",
  "bash",
  "-c",
  "'rm y'",
  "eval",
  "timeout",
  "5",
  "tee",
  "*.ts",
  "(",
  ")",
  "{",
  "}",
  "'",
  '"',
  "\\",
  "$((a))",
  "<<EOF",
  "EOF",
  "\n",
];
const OPS = [" ", " ", " ", " ; ", " | ", " && ", " || ", " & ", " > ", " >> ", " 2>&1 ", " > src/", " < ", "\n", " |& "];

const command = fc.array(fc.tuple(fc.constantFrom(...WORDS), fc.constantFrom(...OPS)), { minLength: 1, maxLength: 10 }).map((parts) =>
  parts
    .map(([w, op]) => w + op)
    .join("")
    .trim(),
);

const PATTERN_WORDS = ["git", "status", "log", "rm", "ls", "echo", "cat", "x", "*", "-*", "find", "xargs", "bash", "tee", "env", "timeout", "eval"];
const rule = (decision?: Rule["decision"]) =>
  fc
    .tuple(
      fc.constantFrom(...(decision ? [decision] : (["allow", "ask", "deny"] as const))),
      fc.oneof(
        fc
          .array(fc.constantFrom(...PATTERN_WORDS), { minLength: 1, maxLength: 4 })
          .filter((w) => w[0] !== "*")
          .map((w) => ({ command: w.join(" ") })),
        fc.constantFrom("src/**", "**", "*.ts", "src/a").map((edit) => ({ edit })),
      ),
      fc.nat(1e9),
    )
    .map(([d, pattern, n]): Rule => ({ id: `r${n}`, decision: d, ...pattern }));

const judge = (rules: Rule[], cmd: string) => new Policy([{ scope: "file", where: "t", trusted: true, rules }]).evaluate({ command: cmd, cwd: WS, workspace: WS });

const runs = { numRuns: 400 };

test("adding a deny rule never turns a non-allow into allow", () => {
  fc.assert(
    fc.property(fc.array(rule(), { maxLength: 6 }), rule("deny"), command, (rules, deny, cmd) => {
      const before = judge(rules, cmd).decision;
      const after = judge([...rules, deny], cmd).decision;
      if (before !== "allow") assert.notEqual(after, "allow");
    }),
    runs,
  );
});

test("adding any rule never turns deny into allow", () => {
  fc.assert(
    fc.property(fc.array(rule(), { maxLength: 6 }), rule(), command, (rules, extra, cmd) => {
      if (judge(rules, cmd).decision === "deny") assert.notEqual(judge([...rules, extra], cmd).decision, "allow");
    }),
    runs,
  );
});

test("a command allowed as a whole has every simple command (and write) allowed, nothing left not understood", () => {
  fc.assert(
    fc.property(fc.array(rule("allow"), { maxLength: 8 }), command, (rules, cmd) => {
      const r = judge(rules, cmd);
      if (r.decision !== "allow") return;
      assert.ok(r.parts.length > 0);
      for (const p of r.parts) assert.equal(p.decision, "allow", `${cmd}: ${p.part}`);
      assert.deepEqual(r.problems, []);
    }),
    runs,
  );
});

/** Whether unbash reports an error anywhere in `text`, substitutions included (each script reports its own). */
function parseErrors(text: string): boolean {
  let found = false;
  const visit = (node: SyntaxNode): void => {
    if (node.type === "Script" && (node as { errors?: unknown[] }).errors?.length) found = true;
    if (!found) forEachChild(node, visit);
  };
  visit(parse(text));
  return found;
}

test("what the parser cannot parse is never allowed, even with a rule allowing everything it names", () => {
  const everything: Rule[] = PATTERN_WORDS.filter((w) => w !== "*" && w !== "-*").map((w, i) => ({ id: `all${i}`, decision: "allow", command: `${w} *` }));
  everything.push({ id: "edits", decision: "allow", edit: "**" });
  let unparseable = 0;
  fc.assert(
    fc.property(command, fc.string({ maxLength: 30 }), (cmd, noise) => {
      for (const text of [cmd, cmd + noise]) {
        if (!parseErrors(text)) continue;
        unparseable++;
        assert.notEqual(judge(everything, text).decision, "allow", text);
      }
    }),
    runs,
  );
  assert.ok(unparseable > 20, `the generator produced unparseable input (${unparseable})`);
});
