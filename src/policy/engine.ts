// The policy engine: judges one request (a shell command or a file edit) against rule sets and
// explains itself. Pure.
//
// A command is split into its simple commands (shell.ts), each looked through its wrappers
// (unwrap.ts) and judged by the command rules; its writes (`>`, `>>`, `tee FILE`, `dd of=FILE`) are
// judged like edits of that path. The whole is `allow` only if every part is allowed and nothing was
// left not understood; any `deny` denies; everything else asks a person. Across rules and scopes:
// deny > ask > allow, and no matching rule means ask.
import { posix } from "node:path";
import type { PartVerdict, PolicyDecision, PolicyResult, Rule, RuleScope } from "../protocol/policy.js";
import { GUARDS } from "./builtin.js";
import { compileCommandPattern, compileEditPattern, matchCommand, type CommandPattern, type PathMatcher } from "./pattern.js";
import { analyzeShell, type ShellRedirect, type ShellWord, type SimpleCommand } from "./shell.js";
import { isDangerousVariable as isDangerous, unwrap, type Run } from "./unwrap.js";

export interface RuleSource {
  scope: RuleScope;
  /** where the rules are defined, in words: `user rules (/path/rules.json)` */
  where: string;
  /** false for a workspace file the user has not accepted: its allow rules are ignored */
  trusted: boolean;
  rules: Rule[];
}

export interface PolicyRequest {
  command?: string;
  /** the edited file, absolute or relative to cwd */
  edit?: string;
  cwd?: string | null;
  workspace?: string | null;
}

interface Compiled {
  rule: Rule;
  scope: RuleScope;
  where: string;
  trusted: boolean;
  /** the reason given when it decides: matches `pattern` */
  matches: string;
  /** its place among all rules: of rules with the same decision, the first defined decides */
  seq: number;
  command?: CommandPattern;
  edit?: PathMatcher;
}

interface Verdict {
  decision: PolicyDecision;
  rule: Compiled | null;
  reason: string;
}

const RANK: Record<PolicyDecision, number> = { allow: 0, ask: 1, deny: 2 };
const NO_RULE: Verdict = { decision: "ask", rule: null, reason: "no rule matches" };
const MAX_SCRIPT_DEPTH = 6;
const HARMLESS_TARGETS = new Set(["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"]);
const WRITE_OPS = new Set([">", ">>", ">|", "&>", "&>>", "<>", ">&", "&>|"]);
/** Folders no rule can allow editing: the repository's own machinery and Switchboard's. */
const ALWAYS_ASK_DIRS = [".git", ".switchboard"];
const CD = new Set(["cd", "pushd", "popd"]);

export const GUARD_SOURCE_WHERE = "built-in guards";

/** Compiles one rule; a sentence when it is malformed. */
export function compileRule(rule: Rule, scope: RuleScope, where: string, trusted: boolean): Compiled | string {
  const base: Compiled = { rule, scope, where, trusted, matches: `matches \`${rule.command ?? rule.edit}\``, seq: 0 };
  if (rule.command !== undefined) {
    const p = compileCommandPattern(rule.command);
    if (typeof p === "string") return `rule ${rule.id}: ${p}`;
    return { ...base, command: p };
  }
  const m = compileEditPattern(rule.edit!);
  if (typeof m === "string") return `rule ${rule.id}: ${m}`;
  return { ...base, edit: m };
}

/**
 * The command rules that can match commands starting with one word: those whose second word is that
 * exact word, those whose second word is a glob with a literal start (`test:*`: found by the command's
 * second word's prefixes of the lengths in use), and the rest.
 */
interface HeadIndex {
  second: Map<string, Compiled[]>;
  prefixed: Map<string, Compiled[]>;
  prefixLengths: number[];
  rest: Compiled[];
}

function push<K>(map: Map<K, Compiled[]>, key: K, c: Compiled): void {
  const list = map.get(key);
  if (list) list.push(c);
  else map.set(key, [c]);
}

export class Policy {
  /** command rules by their exact first word (see HeadIndex) */
  private readonly byHead = new Map<string, HeadIndex>();
  /** command rules whose first word is a glob (`npm-*`): tried on every command */
  private readonly wildHead: Compiled[] = [];
  private readonly edits: Compiled[] = [];

  /** Rules that fail to compile are left out (see loadRules, which refuses them first). */
  constructor(sources: RuleSource[], opts: { guards?: boolean } = {}) {
    const all = opts.guards === false ? sources : [{ scope: "builtin" as const, where: GUARD_SOURCE_WHERE, trusted: true, rules: GUARDS }, ...sources];
    let seq = 0;
    for (const s of all) {
      for (const rule of s.rules) {
        const c = compileRule(rule, s.scope, s.where, s.trusted);
        if (typeof c === "string") continue;
        c.seq = seq++;
        if (c.edit) {
          this.edits.push(c);
          continue;
        }
        const pattern = c.command!;
        if (pattern.head === null) {
          this.wildHead.push(c);
          continue;
        }
        let index = this.byHead.get(pattern.head);
        if (!index) this.byHead.set(pattern.head, (index = { second: new Map(), prefixed: new Map(), prefixLengths: [], rest: [] }));
        const second = pattern.words[1];
        if (second?.kind === "exact") push(index.second, second.text, c);
        else if (second?.kind === "glob" && second.prefix) {
          push(index.prefixed, second.prefix, c);
          if (!index.prefixLengths.includes(second.prefix.length)) index.prefixLengths.push(second.prefix.length);
        } else index.rest.push(c);
      }
    }
  }

  evaluate(req: PolicyRequest): PolicyResult {
    const ctx: Ctx = { parts: [], problems: [], ignored: new Set(), cwdChanged: false };
    if (req.command !== undefined) {
      if (!req.command.trim()) ctx.problems.push("the command is empty");
      else this.script(req.command, [], req, ctx, 0);
    } else if (req.edit !== undefined) {
      const v = this.path(req.edit, req, ctx, false);
      ctx.parts.push(part(`edit ${req.edit}`, v));
    } else ctx.problems.push("the request has neither a command nor a path");
    return summarize(ctx);
  }

  /** Whether `rule` alone decides the request (used for a rule's examples and for previews). */
  static decidedBy(result: PolicyResult, rule: Rule): boolean {
    return result.decision === rule.decision && result.parts.some((p) => p.rule === rule.id);
  }

  private script(source: string, via: string[], req: PolicyRequest, ctx: Ctx, depth: number): void {
    if (depth > MAX_SCRIPT_DEPTH) {
      ctx.problems.push("scripts nest too deeply (`bash -c` inside `bash -c`…)");
      return;
    }
    const analysis = analyzeShell(source, via);
    ctx.problems.push(...analysis.problems.map((p) => (via.length ? `${p} (in ${via.join(" › ")})` : p)));
    // A `cd` anywhere makes relative write targets unknown.
    for (const cmd of analysis.commands) if (cmd.words[0]?.value && CD.has(cmd.words[0].value)) ctx.cwdChanged = true;
    for (const cmd of analysis.commands) this.simple(cmd, req, ctx, depth);
  }

  private simple(cmd: SimpleCommand, req: PolicyRequest, ctx: Ctx, depth: number): void {
    const where = cmd.via.length ? ` (in ${cmd.via.join(" › ")})` : "";
    for (const r of cmd.redirects) this.redirect(r, cmd, where, req, ctx);
    if (cmd.words.length === 0 || cmd.declaration) {
      // Only assignments (or only redirections): nothing runs, but a variable like PATH changes what
      // the rest runs.
      const names = cmd.assignments.map((a) => a.name);
      const bad = names.filter((n) => isDangerous(n));
      if (cmd.declaration && cmd.words.some((w) => w.value === null)) {
        ctx.parts.push(part(cmd.text + where, { decision: "ask", rule: null, reason: "a declaration with words the shell computes" }));
      } else if (bad.length) {
        ctx.parts.push(part(cmd.text + where, { decision: "ask", rule: null, reason: `sets ${bad.join(", ")}, which changes what later commands run` }));
      } else if (names.length || cmd.declaration) {
        ctx.parts.push(part(cmd.text + where, { decision: "allow", rule: null, reason: "only sets shell variables" }));
      }
      return;
    }
    const { runs, scripts } = unwrap(cmd.words, cmd.assignments);
    for (const run of runs) {
      const writes: PartVerdict[] = [];
      ctx.parts.push(part(label(run) + where, this.run(run, where, req, ctx, writes)));
      ctx.parts.push(...writes);
    }
    for (const s of scripts) this.script(s.source, [...cmd.via, s.via], req, ctx, depth + 1);
  }

  private run(run: Run, where: string, req: PolicyRequest, ctx: Ctx, writeParts: PartVerdict[]): Verdict {
    const name = run.words[0];
    if (!name || name.value === null) {
      return { decision: "ask", rule: null, reason: `the command name \`${name?.raw ?? ""}\` is computed by the shell, so no rule can allow it` };
    }
    const matched = this.matchCommand(run.words, ctx);
    let verdict = matched;
    const program = name.value;
    // tee and dd do nothing but write: their writes decide (below) unless a rule says otherwise.
    const writes = fileWrites(program, run.words);
    if (!matched.rule && writes !== null) verdict = { decision: "allow", rule: null, reason: `\`${program}\` only copies its input; its writes are judged as edits` };
    if (!matched.rule && run.carrier) verdict = { decision: "allow", rule: null, reason: "it only runs its script, judged on its own" };
    const allowedBy = verdict.rule ? ` (rule ${verdict.rule.rule.id} would allow it)` : "";
    if (verdict.decision === "allow" && run.dangerous.length)
      verdict = { decision: "ask", rule: null, reason: `it sets ${run.dangerous.join(", ")}, which can change what runs, and no rule can allow that${allowedBy}` };
    if (verdict.decision === "allow" && run.problems.length) verdict = { decision: "ask", rule: null, reason: `${run.problems.join("; ")}${allowedBy}` };
    for (const target of writes ?? []) {
      const w = target.value === null ? ({ decision: "ask", rule: null, reason: "writes to a file the shell computes" } as Verdict) : this.path(target.value, req, ctx, true);
      writeParts.push(part(`${program} writes ${target.raw}${where}`, w));
    }
    return verdict;
  }

  private matchCommand(words: ShellWord[], ctx: Ctx): Verdict {
    const index = this.byHead.get(words[0]!.value!);
    let best: Compiled | null = null;
    if (index) {
      const second = words[1]?.value;
      if (second != null) {
        best = this.pick(index.second.get(second), words, ctx, best);
        for (const n of index.prefixLengths) if (second.length >= n) best = this.pick(index.prefixed.get(second.slice(0, n)), words, ctx, best);
      }
      best = this.pick(index.rest, words, ctx, best);
    }
    best = this.pick(this.wildHead, words, ctx, best);
    return best ? { decision: best.rule.decision, rule: best, reason: best.matches } : NO_RULE;
  }

  /**
   * The strongest of `best` and the rules of `list` that match: deny > ask > allow, then the first
   * defined. A matching allow rule of a file not accepted is noted as ignored (until a deny decides).
   */
  private pick(list: Compiled[] | undefined, words: ShellWord[], ctx: Ctx, best: Compiled | null): Compiled | null {
    if (!list) return best;
    for (const c of list) {
      const ignorable = c.rule.decision === "allow" && !c.trusted && best?.rule.decision !== "deny";
      if (best && !ignorable && !stronger(c, best)) continue;
      if (!matchCommand(c.command!, words)) continue;
      if (ignorable) ctx.ignored.add(`${c.rule.id} (${c.where}): the workspace rules file is not accepted`);
      else best = c;
    }
    return best;
  }

  private redirect(r: ShellRedirect, cmd: SimpleCommand, where: string, req: PolicyRequest, ctx: Ctx): void {
    if (!WRITE_OPS.has(r.op)) return;
    const t = r.target;
    if (r.op === ">&" && t && t.value !== null && /^(\d+|-)$/.test(t.value)) return; // 2>&1, >&-
    if (!t) return;
    const v = t.value === null ? ({ decision: "ask", rule: null, reason: "writes to a file the shell computes" } as Verdict) : this.path(t.value, req, ctx, true);
    ctx.parts.push(part(`${r.fd ?? ""}${r.op} ${t.raw}${where}`, v));
    void cmd;
  }

  /** Judges writing `target`: edit rules, always-ask folders, inside the workspace or not. */
  private path(target: string, req: PolicyRequest, ctx: Ctx, fromShell: boolean): Verdict {
    if (HARMLESS_TARGETS.has(target)) return { decision: "allow", rule: null, reason: "writes to a device that keeps nothing" };
    const root = req.workspace ?? req.cwd ?? null;
    if (!root) return { decision: "ask", rule: null, reason: "there is no workspace to judge the path against" };
    if (fromShell && ctx.cwdChanged && !target.startsWith("/")) return { decision: "ask", rule: null, reason: "a relative path after `cd`" };
    const abs = posix.resolve(req.cwd ?? root, target);
    const rel = posix.relative(root, abs);
    const outside = rel === "" || rel.startsWith("../") || rel === ".." || posix.isAbsolute(rel);
    let best: Verdict | null = null;
    if (!outside) {
      for (const c of this.edits) {
        if (!c.edit!(rel)) continue;
        if (c.rule.decision === "allow" && !c.trusted) {
          ctx.ignored.add(`${c.rule.id} (${c.where}): the workspace rules file is not accepted`);
          continue;
        }
        if (!best || RANK[c.rule.decision] > RANK[best.decision]) best = { decision: c.rule.decision, rule: c, reason: c.matches };
      }
    }
    if (best?.decision === "deny") return best;
    if (outside) return { decision: "ask", rule: null, reason: `\`${abs}\` is outside the workspace` };
    const guarded = rel.split("/").find((seg) => ALWAYS_ASK_DIRS.includes(seg));
    if (guarded) return { decision: "ask", rule: null, reason: `paths in \`${guarded}\` always ask` };
    return best ?? { decision: "ask", rule: null, reason: "no rule allows writing there" };
  }
}

interface Ctx {
  parts: PartVerdict[];
  problems: string[];
  ignored: Set<string>;
  cwdChanged: boolean;
}

function stronger(a: Compiled, b: Compiled): boolean {
  const ra = RANK[a.rule.decision];
  const rb = RANK[b.rule.decision];
  return ra > rb || (ra === rb && a.seq < b.seq);
}

function part(text: string, v: Verdict): PartVerdict {
  return { part: text, decision: v.decision, rule: v.rule?.rule.id ?? null, where: v.rule ? describeWhere(v.rule) : null, reason: v.reason };
}

function describeWhere(c: Compiled): string {
  return c.where;
}

function label(run: Run): string {
  let text = "";
  for (let i = 0; i < run.words.length; i++) text += i ? ` ${run.words[i]!.raw}` : run.words[i]!.raw;
  return run.via.length ? `${text} (via ${run.via.join(" › ")})` : text;
}

/** The files a program writes because of its arguments: tee's files, dd's of=. null: not a writer. */
function fileWrites(program: string, words: ShellWord[]): ShellWord[] | null {
  if (program === "tee") {
    const files: ShellWord[] = [];
    let options = true;
    for (const w of words.slice(1)) {
      if (options && w.value === "--") {
        options = false;
        continue;
      }
      if (options && w.value?.startsWith("-") && w.value !== "-") continue;
      files.push(w);
    }
    return files;
  }
  if (program === "dd") {
    return words.slice(1).flatMap((w) => (w.value === null ? [w] : w.value.startsWith("of=") ? [{ raw: w.raw, value: w.value.slice(3) }] : []));
  }
  return null;
}

function summarize(ctx: Ctx): PolicyResult {
  const problems = [...new Set(ctx.problems)];
  const ignored = [...ctx.ignored];
  const worst = ctx.parts.reduce<PolicyDecision>((d, p) => (RANK[p.decision] > RANK[d] ? p.decision : d), "allow");
  let decision: PolicyDecision = worst;
  // Allowing takes a rule: a command of only assignments or device writes still asks.
  if (decision === "allow" && (problems.length || !ctx.parts.some((p) => p.rule))) decision = "ask";
  const deciding = ctx.parts.find((p) => p.decision === decision && p.rule) ?? null;
  const rule = deciding?.rule ?? null;
  const where = deciding?.where ?? null;
  let reason: string;
  if (decision === "deny") {
    reason = `Denied by rule ${rule} (${where}): \`${deciding!.part}\`.`;
  } else if (decision === "allow") {
    const rules = [...new Set(ctx.parts.map((p) => p.rule).filter((r): r is string => !!r))];
    reason = rules.length ? `Allowed: every part is allowed (by ${rules.length === 1 ? "rule" : "rules"} ${rules.join(", ")}).` : "Allowed: nothing in it needs a rule.";
  } else if (problems.length) {
    reason = `Asks a person: not fully understood: ${problems[0]}.`;
  } else if (!ctx.parts.some((p) => p.decision === "ask")) {
    reason = "Asks a person: no rule allows it.";
  } else {
    const first = ctx.parts.find((p) => p.decision === "ask")!;
    reason = `Asks a person: \`${first.part}\`: ${first.reason}${first.rule ? ` (rule ${first.rule}, ${first.where})` : ""}.`;
  }
  return { decision, rule, where, reason, parts: ctx.parts, problems, ignored };
}
