// The approval policy in the broker: which rules are in force for a request, and the routes that list,
// add, remove, preview and check them. The judging itself is src/policy (pure); this is its shell.
//
// Rules come from four places, judged together (deny > ask > allow):
//   built-in   guards (always) and the read-only set (switchboard.approvals.autoApproveEnv)
//   user       <state folder>/policy/rules.json, for every session of this user
//   workspace  <workspace root>/.switchboard/policy.json; its allow rules count only once the user has
//              accepted that exact file (by SHA-256, kept in <state folder>/policy/accepted.json)
//   session    journaled with the session's endpoint; they survive a broker crash and end with it
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import * as v from "valibot";
import { ProtocolError, type Approval, type ApprovalPolicy } from "../protocol/index.js";
import type { AddRuleRequest, CheckRequest, PolicyResult, PolicyView, PreviewRequest, Rule, RuleView, WorkspaceRulesView } from "../protocol/policy.js";
import { BuiltinSettingsRequest } from "../protocol/policy.js";
import { GUARD_SOURCE_WHERE, GUARDS, READ_ONLY, checkRule, loadRulesText, Policy, proposeRule, type LoadedRules, type PolicyRequest, type RuleSource } from "../policy/index.js";
import { readJsonFileSync, writeFileAtomic } from "../platform/files.js";
import { boundVerdict } from "./approval-preview.js";
import type { Broker } from "./broker.js";
import { inSlices } from "./slices.js";
import type { Logger } from "./log.js";
import type { PolicyChange } from "./policy-changes.js";
import type { EndpointRecord, Store } from "./store.js";

export const WORKSPACE_RULES_FILE = join(".switchboard", "policy.json");
const READ_ONLY_WHERE = "built-in read-only rules (autoApproveEnv)";

interface CachedFile {
  key: string;
  sha256: string | null;
  loaded: LoadedRules;
  /** The rules of the last version that loaded without errors (see keepLastGood). */
  good?: Rule[];
}

export function workspaceRoot(ep: Pick<EndpointRecord, "workspace"> | undefined): string | null {
  const w = ep?.workspace;
  if (!w) return null;
  const root = typeof w === "string" ? w : w.root;
  return root && isAbsolute(root) ? root : null;
}

const arrayIds = new WeakMap<object, number>();
let nextArrayId = 1;
function identity(o: object): number {
  let id = arrayIds.get(o);
  if (id === undefined) arrayIds.set(o, (id = nextArrayId++));
  return id;
}

export class PolicyDesk {
  private readonly files = new Map<string, CachedFile>();
  /** Compiled policies by the identity of their rule sources (rule arrays are replaced, never changed). */
  private readonly compiled = new Map<string, Policy>();
  private settings: { read_only: boolean };
  private accepted: Record<string, string>;
  readonly userFile: string;
  private readonly settingsFile: string;
  private readonly acceptedFile: string;
  /** Told whenever this desk changes the rules in force (policy-changes.ts announces it). */
  onChange: (change: PolicyChange) => void = () => {};

  constructor(
    private readonly store: Store,
    private readonly broker: Broker,
    private readonly log: Logger,
    readonly dir: string,
  ) {
    this.userFile = join(dir, "rules.json");
    this.settingsFile = join(dir, "settings.json");
    this.acceptedFile = join(dir, "accepted.json");
    const settings = v.safeParse(BuiltinSettingsRequest, safeReadJson(this.settingsFile));
    this.settings = settings.success ? settings.output : { read_only: false };
    const accepted = v.safeParse(v.record(v.string(), v.string()), safeReadJson(this.acceptedFile));
    this.accepted = accepted.success ? accepted.output : {};
  }

  // ---- judging -------------------------------------------------------------------------------------

  /** The rule sources in force for a session (or for no session). */
  sources(ep: EndpointRecord | undefined, root: string | null): RuleSource[] {
    const sources: RuleSource[] = [];
    if (this.settings.read_only) sources.push({ scope: "builtin", where: READ_ONLY_WHERE, trusted: true, rules: READ_ONLY });
    sources.push(this.file(this.userFile, "user", `user rules (${this.userFile})`, () => true).loaded.source);
    if (root) sources.push(this.workspaceFile(root).loaded.source);
    const session = ep ? this.store.sessionRules.get(ep.endpoint_id) : undefined;
    if (ep && session?.length) sources.push({ scope: "session", where: `session ${this.broker.label(ep)}`, trusted: true, rules: session });
    return sources;
  }

  /** Judges an approval request; a failure of the policy itself asks a person (it never allows). */
  judge(a: Pick<Approval, "action" | "command" | "cwd" | "endpoint_id"> & { path?: string | null }): ApprovalPolicy {
    try {
      const ep = this.store.endpoints.get(a.endpoint_id);
      const root = workspaceRoot(ep) ?? a.cwd;
      const req = requestOf(a, root);
      const result = req
        ? this.policy(this.sources(ep, root)).evaluate(req)
        : askBecause(a.action === "tool" ? "tool calls have no rules yet" : "the request names no command or file");
      return brief(result);
    } catch (err) {
      this.log.error("the approval policy failed; asking a person", { err: String(err) });
      return brief(askBecause(`the policy could not judge it (${(err as Error).message})`));
    }
  }

  private policy(sources: RuleSource[]): Policy {
    const key = sources.map((s) => `${identity(s.rules)}:${s.trusted ? 1 : 0}`).join(",");
    let p = this.compiled.get(key);
    if (!p) {
      if (this.compiled.size >= 64) this.compiled.delete(this.compiled.keys().next().value!);
      this.compiled.set(key, (p = new Policy(sources)));
    }
    return p;
  }

  check(body: CheckRequest): PolicyResult {
    let ep: EndpointRecord | undefined;
    if (body.session) {
      const open = [...this.store.endpoints.values()].filter((e) => e.state !== "closed");
      const matches = open.filter((e) => e.endpoint_id === body.session || e.session_name === body.session || this.broker.label(e) === body.session);
      if (matches.length !== 1)
        throw new ProtocolError(
          matches.length ? "recipient_ambiguous" : "recipient_unknown",
          matches.length ? `${matches.length} open sessions are named ${body.session}.` : `No open session is named ${body.session}.`,
        );
      ep = matches[0];
    }
    const root = body.workspace ?? workspaceRoot(ep) ?? body.cwd ?? null;
    return this.policy(this.sources(ep, root)).evaluate({ command: body.command, edit: body.edit, cwd: body.cwd ?? root, workspace: root });
  }

  // ---- rules ---------------------------------------------------------------------------------------

  view(extraRoots: string[] = []): PolicyView {
    const rules: RuleView[] = [];
    const push = (list: Rule[], scope: RuleView["scope"], where: string, active: (r: Rule) => boolean, endpoint_id: string | null = null) => {
      for (const rule of list) rules.push({ rule, scope, where, active: active(rule), endpoint_id });
    };
    push(GUARDS, "builtin", GUARD_SOURCE_WHERE, () => true);
    push(READ_ONLY, "builtin", READ_ONLY_WHERE, () => this.settings.read_only);
    const user = this.file(this.userFile, "user", `user rules (${this.userFile})`, () => true);
    push(user.loaded.source.rules, "user", user.loaded.source.where, () => true);
    const roots = new Set(extraRoots.filter((r) => isAbsolute(r)));
    const open = [...this.store.endpoints.values()].filter((e) => e.state !== "closed");
    for (const ep of open) {
      const r = workspaceRoot(ep);
      if (r) roots.add(r);
    }
    const workspaces: WorkspaceRulesView[] = [];
    for (const root of roots) {
      const f = this.workspaceFile(root);
      if (f.sha256 === null && !f.loaded.errors.length) continue;
      const accepted = f.sha256 !== null && this.accepted[root] === f.sha256;
      workspaces.push({ root, file: join(root, WORKSPACE_RULES_FILE), sha256: f.sha256, accepted, error: f.loaded.errors[0] ?? null });
      push(f.loaded.source.rules, "workspace", f.loaded.source.where, (r) => accepted || r.decision !== "allow");
    }
    for (const ep of open) push(this.store.sessionRules.get(ep.endpoint_id) ?? [], "session", `session ${this.broker.label(ep)}`, () => true, ep.endpoint_id);
    return { rules, workspaces, builtin: { ...this.settings }, user_file: this.userFile, user_error: user.loaded.errors[0] ?? null };
  }

  /** Adds a rule (refused with a sentence if malformed or its examples disagree). */
  async add(body: AddRuleRequest): Promise<RuleView> {
    const problem = checkRule(body.rule);
    if (problem) throw new ProtocolError("rule_invalid", `The rule is refused: ${problem}.`);
    if (body.scope === "session") {
      if (!body.endpoint_id) throw new ProtocolError("bad_request", "A session rule needs endpoint_id: the session it is for.");
      const ep = this.broker.requireOpenEndpoint(body.endpoint_id);
      await this.broker.journal({ t: "rule_add", ep: ep.endpoint_id, rule: body.rule });
      this.onChange({ scope: "session", why: "rule_added", endpoint_id: ep.endpoint_id });
      return { rule: body.rule, scope: "session", where: `session ${this.broker.label(ep)}`, active: true, endpoint_id: ep.endpoint_id };
    }
    if (body.scope === "user") {
      await this.rewrite(this.userFile, (rules) => [...rules.filter((r) => r.id !== body.rule.id), body.rule]);
      this.onChange({ scope: "user", why: "rule_added" });
      return { rule: body.rule, scope: "user", where: `user rules (${this.userFile})`, active: true, endpoint_id: null };
    }
    const root = this.rootFor(body);
    const file = join(root, WORKSPACE_RULES_FILE);
    // Whoever saves a workspace rule through the broker is the user deciding: the new file is accepted.
    const text = await this.rewrite(file, (rules) => [...rules.filter((r) => r.id !== body.rule.id), body.rule]);
    await this.saveAccepted(root, sha256(text));
    this.onChange({ scope: "workspace", why: "rule_added", root });
    return { rule: body.rule, scope: "workspace", where: `workspace rules (${file})`, active: true, endpoint_id: null };
  }

  async remove(id: string, opts: { scope?: string | null; endpoint_id?: string | null; root?: string | null }): Promise<RuleView[]> {
    const removed: RuleView[] = [];
    const want = (s: string) => !opts.scope || opts.scope === s;
    if (want("session")) {
      for (const [ep, rules] of this.store.sessionRules) {
        if (opts.endpoint_id && ep !== opts.endpoint_id) continue;
        const rule = rules.find((r) => r.id === id);
        if (!rule) continue;
        await this.broker.journal({ t: "rule_del", ep, id });
        this.onChange({ scope: "session", why: "rule_removed", endpoint_id: ep });
        const rec = this.store.endpoints.get(ep);
        removed.push({ rule, scope: "session", where: `session ${rec ? this.broker.label(rec) : ep}`, active: true, endpoint_id: ep });
      }
    }
    if (want("user")) {
      const rule = this.file(this.userFile, "user", "user rules", () => true).loaded.source.rules.find((r) => r.id === id);
      if (rule) {
        await this.rewrite(this.userFile, (rules) => rules.filter((r) => r.id !== id));
        this.onChange({ scope: "user", why: "rule_removed" });
        removed.push({ rule, scope: "user", where: `user rules (${this.userFile})`, active: true, endpoint_id: null });
      }
    }
    if (want("workspace") && opts.root) {
      const root = opts.root;
      const f = this.workspaceFile(root);
      const rule = f.loaded.source.rules.find((r) => r.id === id);
      if (rule) {
        const wasAccepted = f.sha256 !== null && this.accepted[root] === f.sha256;
        const text = await this.rewrite(join(root, WORKSPACE_RULES_FILE), (rules) => rules.filter((r) => r.id !== id));
        if (wasAccepted) await this.saveAccepted(root, sha256(text));
        this.onChange({ scope: "workspace", why: "rule_removed", root });
        removed.push({ rule, scope: "workspace", where: `workspace rules (${join(root, WORKSPACE_RULES_FILE)})`, active: true, endpoint_id: null });
      }
    }
    if (!removed.length) throw new ProtocolError("rule_unknown", `No ${opts.scope ? `${opts.scope} ` : ""}rule has id ${id}.`);
    return removed;
  }

  /** Which recent decided and pending requests a proposed rule would decide (judged a slice at a time: thousands may be pending). */
  async preview(body: PreviewRequest, recent: Approval[], pending: Approval[]): Promise<{ decided: PreviewItem[]; pending: PreviewItem[] }> {
    const problem = checkRule(body.rule);
    if (problem) throw new ProtocolError("rule_invalid", `The rule is refused: ${problem}.`);
    const alone = new Policy([{ scope: "session", where: "proposed rule", trusted: true, rules: [body.rule] }]);
    const matches = (a: Approval) => {
      if (body.endpoint_id && a.endpoint_id !== body.endpoint_id) return false;
      const root = workspaceRoot(this.store.endpoints.get(a.endpoint_id)) ?? a.cwd;
      const req = requestOf(a, root);
      return req ? Policy.decidedBy(alone.evaluate(req), body.rule) : false;
    };
    const item = (a: Approval): PreviewItem => ({ approval_id: a.approval_id, session: a.session, summary: a.summary, state: a.state });
    const matching = async (list: Approval[]) => {
      const out: PreviewItem[] = [];
      for await (const a of inSlices(list)) if (matches(a)) out.push(item(a));
      return out;
    };
    return { decided: await matching(recent), pending: await matching(pending) };
  }

  propose(a: Approval): Rule {
    const root = workspaceRoot(this.store.endpoints.get(a.endpoint_id)) ?? a.cwd;
    const rule = proposeRule({ command: a.action === "edit" ? null : a.command, edit: a.action === "edit" ? (a.path ?? null) : null, cwd: a.cwd, workspace: root });
    if (typeof rule === "string") throw new ProtocolError("rule_invalid", `No rule can be proposed: ${rule}.`);
    return rule;
  }

  /** The user accepts a workspace's rules file exactly as it is now (its SHA-256). */
  async accept(root: string, sha: string): Promise<WorkspaceRulesView> {
    if (!isAbsolute(root)) throw new ProtocolError("bad_request", "root must be an absolute path.");
    const f = this.workspaceFile(root);
    if (f.sha256 === null) throw new ProtocolError("rule_unknown", `${join(root, WORKSPACE_RULES_FILE)} does not exist.`);
    if (f.sha256 !== sha)
      throw new ProtocolError("workspace_rules_changed", `${join(root, WORKSPACE_RULES_FILE)} changed since it was shown (its SHA-256 is now ${f.sha256}); review it again.`, {
        sha256: f.sha256,
      });
    await this.saveAccepted(root, sha);
    this.onChange({ scope: "workspace", why: "workspace_accepted", root });
    return { root, file: join(root, WORKSPACE_RULES_FILE), sha256: sha, accepted: true, error: f.loaded.errors[0] ?? null };
  }

  async setBuiltin(settings: { read_only: boolean }): Promise<{ read_only: boolean }> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.settingsFile, JSON.stringify(settings, null, 2) + "\n");
    this.settings = { ...settings };
    this.onChange({ scope: "builtin", why: "builtin_changed" });
    return this.settings;
  }

  // ---- files ---------------------------------------------------------------------------------------

  /** The user rules file's SHA-256 as it is on disk now (read again if it changed); null when there is none. */
  userRulesSha(): string | null {
    return this.file(this.userFile, "user", `user rules (${this.userFile})`, () => true).sha256;
  }

  /** A workspace's rules file's SHA-256 as it is on disk now; null when there is none. */
  workspaceRulesSha(root: string): string | null {
    return this.workspaceFile(root).sha256;
  }

  private workspaceFile(root: string): CachedFile {
    const file = join(root, WORKSPACE_RULES_FILE);
    return this.file(file, "workspace", `workspace rules (${file})`, (sha) => sha !== null && this.accepted[root] === sha);
  }

  /** A rules file, re-read when its size or modification time changes. A missing file has no rules. */
  private file(path: string, scope: "user" | "workspace", where: string, trusted: (sha: string | null) => boolean): CachedFile {
    let key = "missing";
    try {
      const st = statSync(path);
      key = `${st.size}:${st.mtimeMs}:${st.ino}`;
    } catch {
      // missing or unreadable: no rules from it
    }
    let cached = this.files.get(path);
    if (!cached || cached.key !== key) {
      let text: string | null = null;
      try {
        text = key === "missing" ? null : readFileSync(path, "utf8");
      } catch (err) {
        this.log.warn("cannot read a rules file", { path, err: String(err) });
      }
      const loaded = text === null ? { source: { scope, where, trusted: false, rules: [] }, errors: [] } : loadRulesText(text, scope, where, false);
      if (loaded.errors.length) this.log.warn("rules refused", { path, errors: loaded.errors });
      const good = loaded.errors.length ? cached?.good : loaded.source.rules;
      cached = { key, sha256: text === null ? null : sha256(text), loaded: loaded.errors.length ? keepLastGood(loaded, cached?.good) : loaded, good };
      this.files.set(path, cached);
    }
    cached.loaded.source.trusted = trusted(cached.sha256);
    return cached;
  }

  private async rewrite(path: string, change: (rules: Rule[]) => Rule[]): Promise<string> {
    let current: Rule[] = [];
    let text: string | null = null;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      // a new file
    }
    if (text !== null) {
      const loaded = loadRulesText(text, "user", path, true);
      if (loaded.errors.length) throw new ProtocolError("rule_invalid", `${path} has errors; fix them by hand first: ${loaded.errors[0]}.`);
      current = (JSON.parse(text) as { rules: Rule[] }).rules;
    }
    const next = JSON.stringify({ rules: change(current) }, null, 2) + "\n";
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, next, 0o644);
    this.files.delete(path);
    return next;
  }

  private async saveAccepted(root: string, sha: string): Promise<void> {
    const next = { ...this.accepted, [root]: sha };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.acceptedFile, JSON.stringify(next, null, 2) + "\n");
    this.accepted = next;
  }

  private rootFor(body: AddRuleRequest): string {
    const fromEp = body.endpoint_id ? workspaceRoot(this.broker.requireOpenEndpoint(body.endpoint_id)) : null;
    const root = body.root ?? fromEp;
    if (!root || !isAbsolute(root)) throw new ProtocolError("bad_request", "A workspace rule needs root (an absolute folder) or the endpoint_id of a session with a workspace.");
    return root;
  }
}

export interface PreviewItem {
  approval_id: string;
  session: string;
  summary: string;
  state: Approval["state"];
}

function requestOf(a: Pick<Approval, "action" | "command" | "cwd"> & { path?: string | null }, root: string | null): PolicyRequest | null {
  if ((a.action === "sh" || a.action === "env") && a.command) return { command: a.command, cwd: a.cwd, workspace: root };
  if (a.action === "edit" && a.path) return { edit: a.path, cwd: a.cwd, workspace: root };
  return null;
}

function askBecause(reason: string): PolicyResult {
  return { decision: "ask", rule: null, where: null, reason: `Asks a person: ${reason}.`, parts: [], problems: [reason], ignored: [] };
}

/** The verdict kept with an approval, its texts bounded (approval-preview.ts): parts and sentences quote the command. */
function brief(r: PolicyResult): ApprovalPolicy {
  return boundVerdict({ decision: r.decision, rule: r.rule, where: r.where, reason: r.reason, parts: r.parts });
}

/**
 * A file that fails to load (an editor's half-written save, a typo) keeps the deny and ask rules of its
 * last good version beside what it still has: it never allows anything (load.ts), and loses nothing it
 * denied until it is fixed.
 */
function keepLastGood(loaded: LoadedRules, good: Rule[] | undefined): LoadedRules {
  const ids = new Set(loaded.source.rules.map((r) => r.id));
  const kept = (good ?? []).filter((r) => r.decision !== "allow" && !ids.has(r.id));
  return kept.length ? { ...loaded, source: { ...loaded.source, rules: [...loaded.source.rules, ...kept] } } : loaded;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function safeReadJson(path: string): unknown {
  try {
    return readJsonFileSync(path);
  } catch {
    return undefined;
  }
}

/** How the broker names a rule that decided: `rule <id> (<where>)`. */
export function decidedByRule(p: ApprovalPolicy): string {
  return `rule ${p.rule} (${p.where})`;
}
