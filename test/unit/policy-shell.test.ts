// The analysis of a command into the simple commands it runs (src/policy/shell.ts), below the engine:
// word values after quote removal, what counts as computed, where each command was found, and that a
// parse error anywhere (in a substitution too) is a problem.
import assert from "node:assert/strict";
import { test } from "node:test";
import { analyzeShell } from "../../src/policy/shell.js";

/** The words' values of each simple command, in order. */
function values(source: string): (string | null)[][] {
  return analyzeShell(source).commands.map((c) => c.words.map((w) => w.value));
}

test("word values are what bash passes: quotes removed, escapes and line continuations resolved", () => {
  assert.deepEqual(values(`echo 'a b' "c d" e\\ f 'g'"h"i`), [["echo", "a b", "c d", "e f", "ghi"]]);
  assert.deepEqual(values("git sta\\\ntus"), [["git", "status"]]);
  assert.deepEqual(values(`echo "a\\"b\\$c" \\*.ts '~' "~"/x`), [["echo", 'a"b$c', "*.ts", "~", "~/x"]]);
  assert.deepEqual(values("find . -exec rm {} \\;"), [["find", ".", "-exec", "rm", "{}", ";"]]);
  assert.deepEqual(values("make CC=gcc"), [["make", "CC=gcc"]]);
});

test("words the shell computes have no value: expansions, substitutions, globs, braces, a leading ~, escapes in $'…'", () => {
  for (const word of ["$x", "${x}", '"$x"', "$(id)", "`id`", "*.ts", "a[1]", "{a,b}", "-{e,}xec", "~/x", "~root", "$'\\x41'", '$"hi"', "@(a|b)", "$((1+2))", "<(ls)"])
    assert.equal(values(`echo ${word}`).find((c) => c[0] === "echo")![1], null, word);
  assert.equal(values("echo $'plain'")[0]![1], "plain");
});

test("every simple command is found, with where it was found", () => {
  const a = analyzeShell(`ls | wc -l && { cat a; } > f; echo "$(git log | head)" <(sort x); f() { rm y; }; cat <<E\n$(pwd)\nE\ncoproc tail z; if true; then :; fi`);
  const found = a.commands.map((c) => `${c.words.map((w) => w.raw).join(" ")}${c.via.length ? ` [${c.via.join(" › ")}]` : ""}`);
  assert.deepEqual(found.sort(), [
    "",
    ":",
    "cat",
    "cat a",
    'echo "$(git log | head)" <(sort x)',
    "git log [$(…)]",
    "head [$(…)]",
    "ls",
    "pwd [a heredoc › $(…)]",
    "rm y",
    "sort x [<(…)]",
    "tail z",
    "true",
    "wc -l",
  ]);
  assert.deepEqual(a.problems, []);
  // The redirection of a group is its own part, with no words.
  assert.deepEqual(
    a.commands.filter((c) => c.words.length === 0).map((c) => c.redirects.map((r) => `${r.op} ${r.target?.value}`)),
    [["> f"]],
  );
});

test("assignments, declarations and redirections are told apart", () => {
  const [prefixed] = analyzeShell("FOO=1 PATH=/x git log 2>&1 >out").commands;
  assert.deepEqual(
    prefixed!.assignments.map((a) => `${a.name}=${a.value?.value}`),
    ["FOO=1", "PATH=/x"],
  );
  assert.deepEqual(
    prefixed!.redirects.map((r) => `${r.fd ?? ""}${r.op}${r.target?.value}`),
    ["2>&1", ">out"],
  );
  const [exported] = analyzeShell("export A=1 B").commands;
  assert.equal(exported!.declaration, true);
  assert.deepEqual(
    exported!.assignments.map((a) => a.name),
    ["A", "B"],
  );
  assert.deepEqual(
    exported!.words.map((w) => w.value),
    ["export"],
  );
});

test("a parse error anywhere, a substitution included, is a problem naming where", () => {
  for (const bad of ["echo 'x", "if true; then ls", "echo $(ls", "ls; ;", 'echo "$(echo \'a)"', "echo )"]) {
    const a = analyzeShell(bad);
    assert.ok(
      a.problems.some((p) => p.startsWith("the shell parser could not parse")),
      `${bad}: ${a.problems.join("; ")}`,
    );
  }
  assert.deepEqual(analyzeShell("echo ok # it's fine").problems, []);
});

test("arithmetic and ${…} that can evaluate a variable's value are problems; numbers are not", () => {
  const problems = (s: string) => analyzeShell(s).problems.length;
  for (const risky of [
    "(( x ))",
    "echo $((x+1))",
    "echo ${a[i]}",
    "echo ${x:$n}",
    "echo ${!x}",
    "echo ${x@P}",
    "[[ x -eq 1 ]]",
    "[[ -v a[$i] ]]",
    "a[$i]=1",
    "echo $(( $(cat n) ))",
  ])
    assert.ok(problems(risky) > 0, risky);
  for (const fine of ["(( 1 + 2 ))", "echo $((0x1f * 2#101))", "echo ${a[1]} ${a[@]}", "echo ${x:1:2}", "echo ${!pre@} ${x@Q}", "[[ 1 -eq 1 ]]", "[[ -v x ]]", "a[1]=1"])
    assert.equal(problems(fine), 0, fine);
});
