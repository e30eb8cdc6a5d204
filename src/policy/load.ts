// Reading rule files: the schema, each pattern, each rule's examples. A rule whose examples disagree
// with it is refused with a sentence naming it. A file with any refused rule keeps only its `deny`
// and `ask` rules in force (failing closed: a broken file never allows anything).
import * as v from "valibot";
import { RulesFile, type Rule, type RuleScope } from "../protocol/policy.js";
import { compileRule, Policy, type RuleSource } from "./engine.js";

export interface LoadedRules {
  source: RuleSource;
  /** sentences; empty when every rule loaded */
  errors: string[];
}

/** Checks one rule (pattern and examples); a sentence naming the rule when it is refused. */
export function checkRule(rule: Rule): string | undefined {
  const compiled = compileRule(rule, "file", "check", true);
  if (typeof compiled === "string") return compiled;
  const ex = rule.examples;
  if (!ex || (!ex.match.length && !ex.not_match.length)) return undefined;
  const alone = new Policy([{ scope: "file", where: "its examples", trusted: true, rules: [rule] }], { guards: false });
  const judge = (example: string) => {
    const ws = "/workspace";
    const result = rule.command !== undefined ? alone.evaluate({ command: example, cwd: ws, workspace: ws }) : alone.evaluate({ edit: example, cwd: ws, workspace: ws });
    return Policy.decidedBy(result, rule);
  };
  for (const m of ex.match) if (!judge(m)) return `rule ${rule.id} does not ${rule.decision} its example \`${m}\`, which it says it matches`;
  for (const m of ex.not_match) if (judge(m)) return `rule ${rule.id} matches its example \`${m}\`, which it says it does not match`;
  return undefined;
}

export function loadRulesText(text: string, scope: RuleScope, where: string, trusted: boolean): LoadedRules {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { source: { scope, where, trusted, rules: [] }, errors: [`${where} is not JSON: ${(err as Error).message}`] };
  }
  const parsed = v.safeParse(RulesFile, json);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
    return { source: { scope, where, trusted, rules: [] }, errors: [`${where}: ${path ? path + ": " : ""}${issue.message}`] };
  }
  return checkRules(parsed.output.rules, scope, where, trusted);
}

export function checkRules(rules: Rule[], scope: RuleScope, where: string, trusted: boolean): LoadedRules {
  const errors: string[] = [];
  const good: Rule[] = [];
  const ids = new Set<string>();
  for (const rule of rules) {
    if (ids.has(rule.id)) {
      errors.push(`${where}: rule ${rule.id} is defined twice`);
      continue;
    }
    ids.add(rule.id);
    const problem = checkRule(rule);
    if (problem) errors.push(`${where}: ${problem}`);
    else good.push(rule);
  }
  const kept = errors.length ? good.filter((r) => r.decision !== "allow") : good;
  return { source: { scope, where, trusted, rules: kept }, errors };
}
