// The approval policy's cost and its safety against prefix matching (issue 14).
//
//   node --import tsx bench/policy.ts [--iterations N]
//
// 1. Evaluation of a 2 KB command (dozens of simple commands, pipes, substitutions, redirections)
//    against 1,000 rules, never seen before (nothing cached): p50/p99 over N runs, target p99 < 1 ms.
//    Floor, timed in the same rounds: the parse of such a command alone by the policy's parser
//    (unbash; no policy can judge without parsing it). Beside it: the parse plus a visit of every node
//    of its tree (the substitutions' trees resolved too: the least any reading of the tree costs), and
//    the same command judged again (its analysis cached).
// 2. The corpus (test/support/policy-corpus.ts, under test/support/policy-corpus-rules.json) judged by two prefix
//    matchers written here from how they work: a whole-string prefix matcher (a rule `git log *` allows
//    any command line starting with `git log`) and a sub-command prefix matcher in the manner of VS
//    Code's default terminal auto-approve (the line split on ; && || | & and newlines with a regular
//    expression, each part matched by prefix, all parts allowed means allowed). For each: how many
//    corpus commands it gets wrong where ours is right, and how many of those it allows or lets through
//    unsafely (allow where ask or deny is right, or ask where deny is right).
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { forEachChild, parse, type SyntaxNode } from "unbash";
import { loadRulesText, Policy } from "../src/policy/index.js";
import type { PolicyDecision, Rule } from "../src/protocol/policy.js";
import { CORPUS } from "../test/support/policy-corpus.js";
import { benchLife } from "./lib/life.js";
import { metric, targetSummary } from "./lib/report.js";
import { ROOT } from "./lib/servers.js";
import { summarize } from "./lib/stats.js";

const life = benchLife("policy");
const argv = process.argv.slice(2);
const ITER = Number(argv[argv.indexOf("--iterations") + 1] ?? 0) || 3000;

/** A 2 KB command of the kind agents send: lists, pipes, substitutions, redirections, wrappers. */
function bigCommand(): string {
  const pieces = [
    "cd /w && git status --short",
    "git log --oneline -n 20 | grep -v wip | head -5",
    "npm run test:unit -- --reporter=dot 2>&1 | tail -20",
    "FOO=1 timeout 60 npm run test:integration > src/out.log",
    'echo "$(git rev-parse HEAD)" | tee -a src/rev.txt',
    "find src -name '*.ts' -exec grep -l TODO {} +",
    "ls -la src test | wc -l",
    "cat package.json | jq .version",
    "bash -c 'git diff --stat && git diff --name-only'",
    "for f in a b c; do echo $f; done",
  ];
  let out = "";
  for (let i = 0; out.length < 2048; i++) out += (out ? " && " : "") + pieces[i % pieces.length]!.replace("20", String(20 + i));
  return out
    .slice(0, 2048)
    .replace(/[^;&|]*$/, "")
    .replace(/\s*(&&|\|\||;|\|)\s*$/, "");
}

/** 1,000 rules: many programs, several rules per program, edit rules, a few deny and ask. */
function thousandRules(): Rule[] {
  const rules: Rule[] = [];
  const heads = ["git", "npm", "ls", "cat", "grep", "head", "tail", "wc", "find", "jq", "echo", "cd", "timeout", "tee", "bash", "node", "cargo", "make", "python3", "docker"];
  for (let i = 0; rules.length < 950; i++) {
    const h = heads[i % heads.length]!;
    const d: PolicyDecision = i % 17 === 0 ? "deny" : i % 11 === 0 ? "ask" : "allow";
    const sub = `sub${i}`;
    rules.push({ id: `r${i}`, decision: d, command: i % 3 === 0 ? `${h} ${sub} *` : i % 3 === 1 ? `${h} ${sub}:*` : `${h} --flag${i} *` });
  }
  for (const h of [
    "git status *",
    "git log *",
    "git diff *",
    "git rev-parse *",
    "npm run test:*",
    "ls *",
    "cat *",
    "grep *",
    "head *",
    "tail *",
    "wc *",
    "find *",
    "jq *",
    "echo *",
    "cd *",
  ])
    rules.push({ id: `main-${rules.length}`, decision: "allow", command: h });
  for (let i = 0; rules.length < 1000; i++) rules.push({ id: `e${i}`, decision: i % 5 ? "allow" : "deny", edit: `dir${i}/**` });
  rules.push({ id: "src", decision: "allow", edit: "src/**" });
  return rules.slice(0, 1000);
}

/** Parses `source` and visits every node of its tree, substitutions' trees included (unbash resolves them on first visit). */
function parseAndVisit(source: string): number {
  let nodes = 0;
  const visit = (node: SyntaxNode): void => {
    nodes++;
    forEachChild(node, visit);
  };
  visit(parse(source));
  return nodes;
}

type Samples = number[] & { cpuMs?: number };

/**
 * Times several functions in the same loop, one call of each per round (in turn), so that each sees
 * the same load from other processes: a figure and its floor measured side by side. Wall-clock
 * samples (ms), and the mean CPU time per call (ms), which other processes on a busy machine inflate
 * less.
 */
function interleave<K extends string>(fns: Record<K, () => void>, n: number): Record<K, Samples> {
  const keys = Object.keys(fns) as K[];
  for (let i = 0; i < Math.min(200, n); i++) for (const k of keys) fns[k](); // warm-up
  const out = {} as Record<K, Samples>;
  const cpu = {} as Record<K, number>;
  for (const k of keys) {
    out[k] = [];
    cpu[k] = 0;
  }
  for (let i = 0; i < n; i++) {
    for (const k of keys) {
      const c = process.cpuUsage();
      const t = process.hrtime.bigint();
      fns[k]();
      out[k].push(Number(process.hrtime.bigint() - t) / 1e6);
      const used = process.cpuUsage(c);
      cpu[k] += used.user + used.system;
    }
  }
  for (const k of keys) out[k].cpuMs = Math.round((cpu[k] / 1000 / n) * 1000) / 1000;
  return out;
}

function stats(samples: Samples) {
  return { ...summarize(samples), cpu_mean: samples.cpuMs };
}

// ---- the prefix matchers ---------------------------------------------------------------------------

interface PrefixRule {
  decision: PolicyDecision;
  prefix: string;
}

function prefixRules(rules: Rule[]): PrefixRule[] {
  return rules.filter((r) => r.command !== undefined).map((r) => ({ decision: r.decision, prefix: r.command!.replace(/\s*\*$/, "").replace(/\*.*$/, "") }));
}

function byPrefix(rules: PrefixRule[], text: string): PolicyDecision {
  const t = text.trim();
  const hits = rules.filter((r) => t === r.prefix || t.startsWith(r.prefix + (r.prefix.endsWith(":") ? "" : " ")) || (r.prefix.endsWith(":") && t.startsWith(r.prefix)));
  if (hits.some((h) => h.decision === "deny")) return "deny";
  if (hits.some((h) => h.decision === "ask")) return "ask";
  return hits.length ? "allow" : "ask";
}

/** Whole command line by prefix. */
function wholePrefix(rules: PrefixRule[], command: string): PolicyDecision {
  return command.trim() ? byPrefix(rules, command) : "ask";
}

/** Split into sub-commands with a regular expression, each judged by prefix. */
function subcommandPrefix(rules: PrefixRule[], command: string): PolicyDecision {
  const parts = command.split(/\s*(?:&&|\|\||;|\||&|\n)\s*/).filter((p) => p.trim());
  if (!parts.length) return "ask";
  const verdicts = parts.map((p) => byPrefix(rules, p));
  if (verdicts.includes("deny")) return "deny";
  if (verdicts.includes("ask")) return "ask";
  return "allow";
}

const RANK: Record<PolicyDecision, number> = { allow: 0, ask: 1, deny: 2 };

async function main(): Promise<void> {
  const started = performance.now();
  const command = bigCommand();
  const rules = thousandRules();
  const policy = new Policy([{ scope: "user", where: "bench", trusted: true, rules }]);
  const req = { command, cwd: "/w", workspace: "/w" };
  const result = policy.evaluate(req);
  life.log(`${command.length}-byte command, ${rules.length} rules: ${result.decision} (${result.parts.length} parts)`);
  // Cold: a command never seen before each time (one number changes), so nothing is cached. Each
  // round judges one new command, parses another (the floor: no policy judges a command without
  // parsing it) and parses and visits a third (the least any reading of its tree costs).
  let n = 0;
  const variant = () => command.replace(/^cd \/w/, `cd /w${100000 + (n++ % 900000)}`);
  if (variant() === command) life.fail("the cold variants do not change the command");
  const timed = interleave(
    {
      eval: () => policy.evaluate({ ...req, command: variant() }),
      parse: () => parse(variant()),
      walk: () => parseAndVisit(variant()),
      warm: () => policy.evaluate(req),
    },
    ITER,
  );
  const evalMs = stats(timed.eval);
  const parseMs = stats(timed.parse);
  const walkMs = stats(timed.walk);
  const warmMs = stats(timed.warm);
  const compileMs = summarize(interleave({ compile: () => new Policy([{ scope: "user", where: "bench", trusted: true, rules }]) }, 50).compile);

  // The corpus under the corpus rules: ours and the two prefix matchers.
  const loaded = loadRulesText(readFileSync(join(ROOT, "test/support/policy-corpus-rules.json"), "utf8"), "file", "corpus rules", true);
  if (loaded.errors.length) life.fail(loaded.errors.join("; "));
  const ours = new Policy([loaded.source]);
  const pr = prefixRules(loaded.source.rules);
  const anchors = { "whole-string prefix": (c: string) => wholePrefix(pr, c), "sub-command prefix (VS Code-style)": (c: string) => subcommandPrefix(pr, c) };
  const table: Record<string, { wrong_where_ours_right: number; unsafe: number; overcautious: number; examples_unsafe: string[] }> = {};
  let oursWrong = 0;
  for (const [name, _judge] of Object.entries(anchors)) table[name] = { wrong_where_ours_right: 0, unsafe: 0, overcautious: 0, examples_unsafe: [] };
  for (const [cmd, expected] of CORPUS) {
    const mine = ours.evaluate({ command: cmd, cwd: "/home/dev/project", workspace: "/home/dev/project" }).decision;
    if (mine !== expected) oursWrong++;
    for (const [name, judge] of Object.entries(anchors)) {
      const theirs = judge(cmd);
      if (theirs === expected || mine !== expected) continue;
      const row = table[name]!;
      row.wrong_where_ours_right++;
      if (RANK[theirs] < RANK[expected]) {
        row.unsafe++;
        if (row.examples_unsafe.length < 8) row.examples_unsafe.push(`${JSON.stringify(cmd)}: ${theirs} (right: ${expected})`);
      } else row.overcautious++;
    }
  }

  const above = (a: number, b: number) => Math.round((a - b) * 1000) / 1000;
  const metrics = {
    eval_2kb_1000_rules_p99: metric(evalMs.p99, "ms", 1, "<", {
      floor: parseMs.p99,
      floor_name: "parse of such a command alone (p99), timed in the same rounds",
      note: `${above(evalMs.p99, parseMs.p99)} ms above the floor; wall time, inflated by other processes on a shared machine (load ${loadavg()[0]!.toFixed(1)})`,
    }),
    eval_2kb_1000_rules_p50: metric(evalMs.p50, "ms", null, null, {
      floor: parseMs.p50,
      floor_name: "parse alone (p50)",
      note: `${above(evalMs.p50, parseMs.p50)} ms above the floor: walking the tree, looking through wrappers and matching each part against the rules`,
    }),
    parse_and_visit_p50: metric(walkMs.p50, "ms", null, null, {
      floor: parseMs.p50,
      floor_name: "parse alone (p50)",
      note: "parse + a visit of every node of the tree (substitutions' trees resolved), nothing judged: the least any reading of the tree costs",
    }),
    eval_2kb_1000_rules_cpu_mean: metric(evalMs.cpu_mean ?? null, "ms", null, null, {
      floor: parseMs.cpu_mean ?? null,
      floor_name: "CPU time of the parse alone",
      note: "CPU time per evaluation: less inflated than wall time when other processes share the cores",
    }),
    eval_2kb_1000_rules_seen_before_p99: metric(warmMs.p99, "ms", null, null, { note: "the same command judged again (its analysis is cached): rule changes, previews" }),
    compile_1000_rules_p50: metric(compileMs.p50, "ms", null, null, { note: "once per change of the rules in force (the broker caches compiled policies)" }),
    corpus_ours_wrong: metric(oursWrong, "commands", 0, "==", { note: `of ${CORPUS.length}` }),
    ...Object.fromEntries(
      Object.entries(table).map(([name, row]) => [
        `corpus_wrong_${name.split(" ")[0]!.replace(/-/g, "_")}_prefix`,
        metric(row.wrong_where_ours_right, "commands", null, null, { note: `${name}: ${row.unsafe} unsafe, ${row.overcautious} over-cautious, of ${CORPUS.length}` }),
      ]),
    ),
  };
  const report = {
    load_average: loadavg()[0],
    duration_s: Math.round((performance.now() - started) / 100) / 10,
    command_bytes: command.length,
    rules: rules.length,
    parts: result.parts.length,
    iterations: ITER,
    eval_ms: evalMs,
    parse_and_visit_ms: walkMs,
    eval_seen_before_ms: warmMs,
    parse_floor_ms: parseMs,
    compile_ms: compileMs,
    corpus: { commands: CORPUS.length, ours_wrong: oursWrong, anchors: table },
    metrics,
    summary: targetSummary(metrics),
  };
  await life.publish("policy", report);
}

life.run(main);
