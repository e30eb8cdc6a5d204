// `switchboard policy`: check a command or an edit against the approval policy, list, add and remove
// rules. `check --rules FILE…` judges locally with only those files (no broker); without `--rules` the
// broker judges with every rule in force (user, workspace, session, built-in).
import { readFile } from "node:fs/promises";
import * as v from "valibot";
import { ROUTES } from "../../protocol/index.js";
import { Rule, type AddRuleRequest, type PolicyDecision, type PolicyResult } from "../../protocol/policy.js";
import { loadRulesText, Policy, type RuleSource } from "../../policy/index.js";
import { CliError, UsageError, api, json, out, resolveSession, type CommandSpec, type Ctx } from "../context.js";
import { shown } from "../format.js";

/** Quotes argv words back into one shell string (for `check -- CMD ARGS…`). */
export function shellJoin(words: string[]): string {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/** Agent text in a terminal: control and bidi characters shown as visible escapes. */
const visible = (text: string) => shown(text);

export function formatResult(r: PolicyResult): string {
  const lines = [`${r.decision}: ${visible(r.reason)}`, `  rule: ${r.rule ? `${r.rule} (${r.where})` : "none"}`];
  for (const p of r.parts) lines.push(`  ${p.decision.padEnd(5)}  ${visible(p.part)}  — ${visible(p.reason)}${p.rule ? ` [rule ${p.rule}, ${p.where}]` : ""}`);
  for (const p of r.problems) lines.push(`  not understood: ${visible(p)}`);
  for (const i of r.ignored) lines.push(`  ignored: ${visible(i)}`);
  return lines.join("\n");
}

/** Judges with only the given rule files; refuses a file with a bad rule (exit 2 with the sentence). */
export async function checkWithFiles(files: string[], req: { command?: string; edit?: string; cwd: string }): Promise<PolicyResult> {
  const sources: RuleSource[] = [];
  for (const file of files) {
    const text = await readFile(file, "utf8").catch((e: Error) => Promise.reject(new CliError(`Cannot read the rules file ${file}: ${e.message}`)));
    const loaded = loadRulesText(text, "file", `rules file ${file}`, true);
    if (loaded.errors.length) throw new CliError(`The rules are refused: ${loaded.errors.join("; ")}.`);
    sources.push(loaded.source);
  }
  return new Policy(sources).evaluate({ ...req, workspace: req.cwd });
}

function request(ctx: Ctx): { command?: string; edit?: string } {
  const command = ctx.values.command as string | undefined;
  const edit = ctx.values.edit as string | undefined;
  const argv = ctx.args.slice(1);
  const given = [command !== undefined, edit !== undefined, argv.length > 0].filter(Boolean).length;
  if (given !== 1) throw new UsageError("policy check needs exactly one of --command 'SHELL STRING', --edit PATH or -- CMD ARGS….");
  if (command !== undefined) return { command };
  if (edit !== undefined) return { edit };
  return { command: shellJoin(argv) };
}

async function check(ctx: Ctx): Promise<number> {
  const req = request(ctx);
  const files = (ctx.values.rules as unknown as string[] | undefined) ?? [];
  let result: PolicyResult;
  if (files.length) {
    if (ctx.values.session) throw new UsageError("--session and --rules do not go together: with --rules only the given files are used.");
    result = await checkWithFiles(files, { ...req, cwd: process.cwd() });
  } else {
    const broker = await api(ctx);
    result = await broker.route(ROUTES.checkPolicy, { body: { ...req, cwd: process.cwd(), ...(ctx.values.session ? { session: String(ctx.values.session) } : {}) } });
  }
  if (ctx.json) return json(result);
  out(formatResult(result));
  return 0;
}

const DECISIONS: PolicyDecision[] = ["allow", "ask", "deny"];

async function add(ctx: Ctx): Promise<number> {
  const [, id, decision] = ctx.args;
  if (!id || !decision || !DECISIONS.includes(decision as PolicyDecision))
    throw new UsageError("Usage: switchboard policy add ID allow|ask|deny (--command PATTERN | --edit GLOB) [--scope user|session|workspace] [--session NAME]");
  const command = ctx.values.command as string | undefined;
  const edit = ctx.values.edit as string | undefined;
  if ((command === undefined) === (edit === undefined)) throw new UsageError("policy add needs exactly one of --command PATTERN or --edit GLOB.");
  const rule = v.safeParse(Rule, { id, decision, ...(command !== undefined ? { command } : { edit }) });
  if (!rule.success) throw new UsageError(`The rule is not valid: ${rule.issues[0].message}.`);
  const scope = (ctx.values.scope as string | undefined) ?? (ctx.values.session ? "session" : "user");
  if (!["user", "session", "workspace"].includes(scope)) throw new UsageError(`--scope is user, session or workspace, not "${scope}".`);
  const broker = await api(ctx);
  const body: AddRuleRequest = { scope: scope as AddRuleRequest["scope"], rule: rule.output, decided_by: "cli" };
  if (scope === "session") {
    if (!ctx.values.session) throw new UsageError("A session rule needs --session NAME.");
    body.endpoint_id = await sessionEndpoint(broker, String(ctx.values.session));
  }
  if (scope === "workspace") body.root = process.cwd();
  const answer = await broker.route(ROUTES.addRule, { body });
  if (ctx.json) return json(answer);
  out(
    `Added rule ${answer.rule.rule.id} (${answer.rule.where}).${answer.decided.length ? ` It decided ${answer.decided.length} pending request${answer.decided.length === 1 ? "" : "s"}.` : ""}`,
  );
  return 0;
}

async function sessionEndpoint(broker: Awaited<ReturnType<typeof api>>, name: string): Promise<string> {
  return resolveSession(await broker.endpoints(), name).endpoint_id;
}

async function remove(ctx: Ctx): Promise<number> {
  const [, id] = ctx.args;
  if (!id) throw new UsageError("Usage: switchboard policy remove ID [--scope user|session|workspace] [--session NAME]");
  const broker = await api(ctx);
  const query: Record<string, string> = {};
  if (ctx.values.scope) query.scope = String(ctx.values.scope);
  if (ctx.values.session) query.endpoint_id = await sessionEndpoint(broker, String(ctx.values.session));
  if (ctx.values.scope === "workspace") query.root = process.cwd();
  const answer = await broker.route(ROUTES.removeRule, { params: [id], query });
  if (ctx.json) return json(answer);
  out(`Removed ${answer.removed.map((r) => `${r.rule.id} (${r.where})`).join(", ")}.`);
  return 0;
}

async function list(ctx: Ctx): Promise<number> {
  const broker = await api(ctx);
  const view = await broker.route(ROUTES.policy, { query: { root: process.cwd() } });
  if (ctx.json) return json(view);
  const lines = [`User rules: ${view.user_file}`, `Read-only built-in rules (autoApproveEnv): ${view.builtin.read_only ? "on" : "off"}`];
  for (const w of view.workspaces) lines.push(`Workspace rules: ${w.file} ${w.error ? `(${w.error})` : w.accepted ? "(accepted)" : "(not accepted: its allow rules are ignored)"}`);
  for (const r of view.rules) {
    if (r.scope === "builtin") continue;
    const pattern = r.rule.command !== undefined ? `command ${r.rule.command}` : `edit ${r.rule.edit}`;
    lines.push(`  ${r.rule.decision.padEnd(5)}  ${r.rule.id}  ${pattern}  — ${r.where}${r.active ? "" : " (ignored)"}`);
  }
  const builtin = view.rules.filter((r) => r.scope === "builtin").length;
  lines.push(`(${builtin} built-in rules not shown; --json lists them)`);
  out(lines.join("\n"));
  return 0;
}

async function policy(ctx: Ctx): Promise<number> {
  const [sub = "list"] = ctx.args;
  switch (sub) {
    case "check":
      return check(ctx);
    case "list":
      return list(ctx);
    case "add":
      return add(ctx);
    case "remove":
      return remove(ctx);
  }
  throw new UsageError(`Unknown policy command "${sub}"; use check, list, add or remove.`);
}

export const spec: CommandSpec = {
  name: "policy",
  usage: `  policy check [--rules FILE]… [--session NAME] (--command 'STRING' | --edit PATH | -- CMD ARGS…)
                                   How the approval policy judges a command or an edit, and why
  policy list                      Rules in force (user, workspace, session, built-in)
  policy add ID allow|ask|deny (--command PATTERN | --edit GLOB) [--scope user|session|workspace] [--session NAME]
  policy remove ID [--scope S] [--session NAME]`,
  options: {
    rules: { type: "string", multiple: true },
    command: { type: "string" },
    edit: { type: "string" },
    scope: { type: "string" },
    session: { type: "string" },
  },
  maxArgs: { list: 0, add: 2, remove: 1, check: 10_000 },
  run: policy,
};
