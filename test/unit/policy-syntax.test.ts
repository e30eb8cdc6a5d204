// The fast paths of the policy engine agree with their plain versions: the lean copy of the syntax
// tree (syntax.ts) with the copy that asks every node everything, the wildcard walk of command
// patterns (pattern.ts) with a backtracking matcher, and the rule index with trying every rule.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import fc from "fast-check";
import { loadShellParser, Policy } from "../../src/policy/index.js";
import { compileCommandPattern, matchCommand, type CommandPattern } from "../../src/policy/pattern.js";
import type { ShellWord } from "../../src/policy/shell.js";
import { LEAF_TYPES, parseToPlain, type SyntaxNode } from "../../src/policy/syntax.js";
import type { Rule } from "../../src/protocol/policy.js";
import { CORPUS } from "../support/policy-corpus.js";

const parser = await loadShellParser();

test("every type the copy treats as a leaf has no children in tree-sitter-bash's node-types.json", () => {
  const require = createRequire(import.meta.url);
  const types = JSON.parse(readFileSync(require.resolve("tree-sitter-bash/src/node-types.json"), "utf8")) as {
    type: string;
    named: boolean;
    children?: unknown;
    subtypes?: unknown;
  }[];
  for (const leaf of LEAF_TYPES) {
    const t = types.find((x) => x.type === leaf && x.named);
    assert.ok(t, `${leaf} is a node type of tree-sitter-bash`);
    assert.equal(t.children, undefined, `${leaf} has no children`);
    assert.equal(t.subtypes, undefined, `${leaf} is not a supertype`);
  }
});

/** The tree as text: type, range, text and field of every node; a literal token without its range. */
function dump(node: SyntaxNode, withFields: boolean, out: string[] = [], depth = 0): string[] {
  const range = node.isNamed ? `${node.startIndex}-${node.endIndex}` : "";
  out.push(`${" ".repeat(depth)}${withFields && node.field ? `${node.field}: ` : ""}${node.type} ${range} ${JSON.stringify(node.text)}`);
  for (const c of node.children) dump(c, withFields, out, depth + 1);
  return out;
}

const ALL_FIELD_PARENTS = new Set<string>();
const SOME_FIELD_PARENTS = new Set(["redirected_statement", "variable_assignment", "file_redirect", "for_statement", "case_item"]);

function sameCopy(source: string): void {
  const lean = parseToPlain(parser, source, SOME_FIELD_PARENTS);
  const exact = parseToPlain(parser, source, ALL_FIELD_PARENTS, { exact: true });
  assert.equal(lean.hasError, exact.hasError);
  // Fields: the lean copy keeps them under the asked-for parents only (a tree with errors is copied exactly).
  const strip = (n: SyntaxNode, parentAsked: boolean): void => {
    if (!parentAsked) n.field = null;
    for (const c of n.children) strip(c, SOME_FIELD_PARENTS.has(n.type));
  };
  if (!lean.hasError) strip(exact.root, false);
  assert.deepEqual(dump(lean.root, true), dump(exact.root, true), source);
}

test("the lean copy of the syntax tree equals the exact copy on every corpus command", () => {
  for (const [command] of CORPUS) sameCopy(command);
});

test("the lean copy equals the exact copy on generated commands", () => {
  const piece = fc.constantFrom(
    "git status",
    "ls -la",
    'echo "$(date) x"',
    "a=1",
    "FOO=$(ls) make",
    "cat <<EOF\nhi $x\nEOF\n",
    "for f in a b; do echo $f; done",
    "case $x in a) ls;; *) pwd;; esac",
    "{ ls; } > out",
    "(cd x && ls)",
    "x[$i]=3",
    "echo 'q' \"w\" $'e'",
    "[[ $a -eq 1 ]]",
    "((n++))",
    "ls 2>&1 >/dev/null",
    "f() { ls; }",
    "echo ``",
    "echo $((1+2))",
    "diff <(ls) >(wc)",
    "export A=1 B",
    "! true",
    "echo {a,b}",
  );
  const sep = fc.constantFrom(" && ", " || ", "; ", " | ", "\n", " & ");
  fc.assert(
    fc.property(fc.array(fc.tuple(piece, sep), { minLength: 1, maxLength: 8 }), (parts) => {
      sameCopy(parts.map(([p, s]) => p + s).join("") + "true");
    }),
    { numRuns: 150 },
  );
});

/** Backtracking: the plain statement of what a pattern matches. */
function reference(p: CommandPattern, words: readonly ShellWord[], i = 0, j = 0): boolean {
  if (i === p.words.length) return j === words.length;
  const pw = p.words[i]!;
  if (pw.kind === "any") {
    for (let k = j; k <= words.length; k++) if (reference(p, words, i + 1, k)) return true;
    return false;
  }
  const w = words[j];
  if (!w || w.value === null) return false;
  if (pw.kind === "exact" ? w.value !== pw.text : !pw.re.test(w.value)) return false;
  return reference(p, words, i + 1, j + 1);
}

const PATTERN_WORDS = ["git", "*", "log", "--output*", "-o", "a*", "*b", "x", "a:*"];
const COMMAND_WORDS = ["git", "log", "--output=f", "--output", "-o", "ab", "b", "x", "a:1", "a", "zz"];

test("the wildcard walk matches exactly what backtracking matches", () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(...PATTERN_WORDS), { minLength: 1, maxLength: 6 }),
      fc.array(
        fc.oneof(
          fc.constantFrom(...COMMAND_WORDS).map((v): ShellWord => ({ raw: v, value: v })),
          fc.constant<ShellWord>({ raw: "$x", value: null }),
        ),
        { maxLength: 8 },
      ),
      (pwords, words) => {
        if (pwords[0] === "*") return;
        const p = compileCommandPattern(pwords.join(" "));
        assert.ok(typeof p !== "string");
        assert.equal(matchCommand(p, words), reference(p, words), `${pwords.join(" ")} vs ${words.map((w) => w.raw).join(" ")}`);
      },
    ),
    { numRuns: 3000 },
  );
});

test("the rule index decides as trying every rule in order would (deny > ask > allow, then the first defined)", () => {
  const decisions = ["allow", "ask", "deny"] as const;
  const patterns = ["git *", "git log *", "git log", "git lo*", "git l*g *", "git * -o *", "g*", "git-*", "npm run test:*", "npm run *", "npm *", "ls", "ls *"];
  const commands = ["git log", "git log -o x", "git lol", "git status", "gitk", "git-lfs x", "npm run test:unit", "npm run build", "npm", "ls", "ls -la"];
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom(...patterns), fc.constantFrom(...decisions)), { minLength: 1, maxLength: 10 }), (spec) => {
      const rules: Rule[] = spec.map(([command, decision], i) => ({ id: `r${i}`, decision, command }));
      const policy = new Policy(parser, [{ scope: "user", where: "t", trusted: true, rules }], { guards: false });
      for (const command of commands) {
        const words = command.split(" ").map((v): ShellWord => ({ raw: v, value: v }));
        let best: Rule | null = null;
        const rank = { allow: 0, ask: 1, deny: 2 };
        for (const r of rules) {
          const p = compileCommandPattern(r.command!);
          assert.ok(typeof p !== "string");
          if (matchCommand(p, words) && (!best || rank[r.decision] > rank[best.decision])) best = r;
        }
        const part = policy.evaluate({ command, cwd: "/w", workspace: "/w" }).parts[0]!;
        assert.equal(part.rule, best?.id ?? null, `${command} under ${JSON.stringify(spec)}`);
        assert.equal(part.decision, best?.decision ?? "ask");
      }
    }),
    { numRuns: 400 },
  );
});
