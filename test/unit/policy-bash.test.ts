// The policy's reading of a command checked against bash itself (fast-check). Generated commands use
// only harmless shell functions, so bash can run them: every function call bash makes must be a
// simple command the analysis found, with the same words, in the same order (the analysis lists the
// commands of `if`, groups, subshells, loops and `case` in the order they appear; the generated
// constructs run each once, in that order, except the `aa never` branch, which must not run). And what bash refuses as
// a syntax error must never be allowed, even by rules allowing everything it names.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import fc from "fast-check";
import { Policy } from "../../src/policy/index.js";
import { analyzeShell } from "../../src/policy/shell.js";
import type { Rule } from "../../src/protocol/policy.js";

const NAMES = ["aa", "bb", "cc"];
/** Each function prints its name and arguments, NUL-separated, one record per call. */
const PRELUDE = NAMES.map((n) => `${n}() { printf '%s\\0' ${n} "$@"; printf '\\036'; }`).join("\n");

/** What bash runs: the calls, in order, each as its words. */
function bashCalls(script: string): string[][] | string {
  const r = spawnSync("bash", ["--norc", "--noprofile", "-c", `${PRELUDE}\n${script}`], {
    encoding: "utf8",
    timeout: 10_000,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" },
  });
  if (r.status !== 0) return `bash exited ${r.status}: ${r.stderr}`;
  return r.stdout
    .split("\u001e")
    .filter((rec) => rec)
    .map((rec) => rec.split("\0").slice(0, -1));
}

function bashParses(script: string): boolean {
  return spawnSync("bash", ["--norc", "--noprofile", "-n", "-c", script], { timeout: 10_000 }).status === 0;
}

const plain = fc.stringMatching(/^[a-z0-9._/:,@%+-]{1,6}$/);
const singleQuoted = fc.stringMatching(/^[^'\0]{0,8}$/).map((s) => `'${s}'`);
const doubleQuoted = fc
  .array(fc.oneof(fc.stringMatching(/^[a-z0-9 ._'|;&<>(){}*?#~-]{1,4}$/), fc.constantFrom('\\"', "\\\\", "\\$", "\\`", "\\n", "\\\n", "\t")), { maxLength: 4 })
  .map((parts) => `"${parts.join("")}"`);
const escaped = fc.constantFrom(..." ;&|<>()$'\"`*?[]{}~#a\\".split("")).map((c) => `\\${c}`);
const ansiC = fc.stringMatching(/^[a-z ."]{0,6}$/).map((s) => `$'${s}'`);
const continuation = fc.constant("\\\n");
/** A word bash passes as it is written, after quote removal: no expansion, glob or brace. */
const word = fc
  .tuple(plain, fc.array(fc.oneof(plain, singleQuoted, doubleQuoted, escaped, ansiC, continuation), { maxLength: 3 }))
  .map(([first, rest]) => [first, ...rest].join(""))
  .filter((w) => !w.endsWith("\\\n"));
const call = fc.tuple(fc.constantFrom(...NAMES), fc.array(word, { maxLength: 4 })).map(([name, args]) => [name, ...args].join(" "));
/** A call, alone or inside a construct that runs it once (every function returns 0). */
const item = fc.oneof(
  { weight: 4, arbitrary: call },
  { weight: 1, arbitrary: fc.tuple(call, call).map(([a, b]) => `{ ${a}; ${b}; }`) },
  { weight: 1, arbitrary: call.map((c) => `( ${c} )`) },
  { weight: 1, arbitrary: fc.tuple(call, call).map(([a, b]) => `if ${a}; then ${b}; fi`) },
  { weight: 1, arbitrary: fc.tuple(call, call).map(([a, b]) => `if ! ${a}; then aa never; else ${b}; fi`) },
  { weight: 1, arbitrary: call.map((c) => `${c} 2>/dev/null`) },
  { weight: 1, arbitrary: call.map((c) => `for _ in 1; do ${c}; done`) },
  { weight: 1, arbitrary: call.map((c) => `case x in (x) ${c};; esac`) },
  { weight: 1, arbitrary: call.map((c) => `{ ${c} <<'E'\nnot a $(command)\nE\n}`) },
);
const script = fc
  .tuple(item, fc.array(fc.tuple(fc.constantFrom("; ", " && ", "\n", " ;\n"), item), { maxLength: 3 }))
  .map(([first, rest]) => first + rest.map(([sep, c]) => sep + c).join(""));

const runs = { numRuns: Number(process.env.RUNS ?? 150), seed: Number(process.env.SEED ?? 14) };

test("every call bash makes is a simple command the analysis found, with the same words, in order", () => {
  fc.assert(
    fc.property(script, (text) => {
      const analysis = analyzeShell(text);
      assert.deepEqual(analysis.problems, [], text);
      const ours = analysis.commands.map((c) => c.words.map((w) => w.value)).filter((c) => !(c[0] === "aa" && c[1] === "never"));
      assert.deepEqual(ours, bashCalls(text), JSON.stringify(text));
    }),
    runs,
  );
});

test("what bash cannot parse is never allowed, even by rules allowing everything it names", () => {
  const everything: Rule[] = [...NAMES, "echo", "ls"].map((n, i) => ({ id: `all${i}`, decision: "allow", command: `${n} *` }));
  const policy = new Policy([{ scope: "user", where: "test", trusted: true, rules: everything }], { guards: false });
  let refused = 0;
  const noise = fc.stringMatching(/^[a-z0-9 ;&|<>(){}[\]'"`$\\\n#=!*?~@%+,.:-]{1,14}$/);
  fc.assert(
    fc.property(script, noise, (text, tail) => {
      for (const candidate of [text + tail, tail + text, `echo ${tail}`]) {
        if (bashParses(candidate)) continue;
        refused++;
        const r = policy.evaluate({ command: candidate, cwd: "/w", workspace: "/w" });
        assert.notEqual(r.decision, "allow", `${JSON.stringify(candidate)}: ${r.reason}`);
      }
    }),
    runs,
  );
  assert.ok(refused > 30, `the generator produced commands bash refuses (${refused})`);
});
