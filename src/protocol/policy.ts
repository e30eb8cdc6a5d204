// The approval policy on the wire: rules, rule files, decisions with their explanation, and the
// bodies of the /v1/policy routes (docs/protocol.md section 11).
import * as v from "valibot";
import { visibleText } from "./visible-text.js";

export const PolicyDecision = v.picklist(["allow", "ask", "deny"]);
export type PolicyDecision = v.InferOutput<typeof PolicyDecision>;

/** Where a rule is defined. `builtin` rules ship with Switchboard; `file` is a `--rules` file. */
export const RuleScope = v.picklist(["builtin", "user", "workspace", "session", "file"]);
export type RuleScope = v.InferOutput<typeof RuleScope>;

const Examples = v.object({
  match: v.optional(v.array(v.pipe(v.string(), v.maxLength(4096))), []),
  not_match: v.optional(v.array(v.pipe(v.string(), v.maxLength(4096))), []),
});

/**
 * One rule: `command` (words; a last word `*` takes any further arguments, `*` inside a word matches
 * within it) or `edit` (a path glob relative to the workspace), never both.
 */
export const Rule = v.pipe(
  v.object({
    id: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9_.:@/+-]{0,99}$/, "an id is 1-100 letters, digits and _ . : @ / + - (starting with a letter or digit)")),
    decision: PolicyDecision,
    command: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(4096))),
    edit: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(4096))),
    examples: v.optional(Examples),
    note: v.optional(v.pipe(v.string(), v.maxLength(2000))),
  }),
  v.check((r) => (r.command === undefined) !== (r.edit === undefined), "a rule has either `command` or `edit`, not both and not neither"),
);
export type Rule = v.InferOutput<typeof Rule>;

export const RulesFile = v.object({ rules: v.pipe(v.array(Rule), v.maxLength(10_000)) });
export type RulesFile = v.InferOutput<typeof RulesFile>;

/** How one simple command (or one write, or the edited path) was judged. */
export const PartVerdict = v.object({
  part: v.string(),
  decision: PolicyDecision,
  rule: v.nullable(v.string()),
  where: v.nullable(v.string()),
  reason: v.string(),
});
export type PartVerdict = v.InferOutput<typeof PartVerdict>;

export const PolicyResult = v.object({
  decision: PolicyDecision,
  /** The deciding rule's id; null when no rule decided (nothing matched, or not understood). */
  rule: v.nullable(v.string()),
  /** Where the deciding rule is defined, e.g. `user rules (/home/me/…/rules.json)`. */
  where: v.nullable(v.string()),
  /** One sentence. */
  reason: v.string(),
  parts: v.array(PartVerdict),
  /** What made the command not fully understood (then it is never allowed). */
  problems: v.array(v.string()),
  /** Rules that matched but were not applied (a workspace allow rule not accepted yet). */
  ignored: v.array(v.string()),
});
export type PolicyResult = v.InferOutput<typeof PolicyResult>;

/** A rule in force, as listed by `GET /v1/policy`. */
export const RuleView = v.object({
  rule: Rule,
  scope: RuleScope,
  where: v.string(),
  /** false: a workspace allow rule whose file is not accepted (it is ignored). */
  active: v.boolean(),
  /** session rules: the session's endpoint */
  endpoint_id: v.nullable(v.string()),
});
export type RuleView = v.InferOutput<typeof RuleView>;

/**
 * A rule in force, named for the sidebar's messages: unique by scope, session (or the file it is in)
 * and id. The source is made visible (visibleText is idempotent), so the key is the same whether
 * computed on the broker's view or on the sidebar's visible copy of it.
 */
export function ruleKey(r: Pick<RuleView, "scope" | "endpoint_id" | "where"> & { rule: { id: string } }): string {
  return `${r.scope}:${r.endpoint_id ?? visibleText(r.where)}:${r.rule.id}`;
}

export const WorkspaceRulesView = v.object({
  root: v.string(),
  file: v.string(),
  sha256: v.nullable(v.string()),
  accepted: v.boolean(),
  error: v.nullable(v.string()),
});
export type WorkspaceRulesView = v.InferOutput<typeof WorkspaceRulesView>;

export const PolicyView = v.object({
  rules: v.array(RuleView),
  workspaces: v.array(WorkspaceRulesView),
  builtin: v.object({ read_only: v.boolean() }),
  user_file: v.string(),
  /** Why the user rules file does not load (it then allows nothing); absent or null when it loads. */
  user_error: v.optional(v.nullable(v.string())),
  /** The broker's policy revision this view was read at (the `revision` of `policy_changed`); absent from older brokers. */
  revision: v.optional(v.number()),
});
export type PolicyView = v.InferOutput<typeof PolicyView>;

/**
 * The observer feed's `policy_changed`: the rules in force changed (docs/protocol.md sections 7 and 11).
 * It says what changed, not the rules: an observer fetches `GET /v1/policy` again.
 */
export const PolicyChanged = v.object({
  kind: v.literal("policy_changed"),
  /** Counts policy changes in this broker run (the feed's epoch); the view of `GET /v1/policy` carries the same. */
  revision: v.number(),
  scope: v.picklist(["builtin", "user", "workspace", "session"]),
  why: v.picklist(["rule_added", "rule_removed", "file_changed", "workspace_accepted", "workspace_opened", "workspace_closed", "session_ended", "builtin_changed"]),
  /** workspace scope: the workspace folder */
  root: v.optional(v.string()),
  /** session scope: the session's endpoint */
  endpoint_id: v.optional(v.string()),
});
export type PolicyChanged = v.InferOutput<typeof PolicyChanged>;

const endpointId = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

export const AddRuleRequest = v.object({
  scope: v.picklist(["user", "workspace", "session"]),
  rule: Rule,
  /** session scope: the session's endpoint; workspace scope: the endpoint whose workspace it is */
  endpoint_id: v.optional(endpointId),
  /** workspace scope without an endpoint: the workspace folder */
  root: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(4096))),
  decided_by: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
});
export type AddRuleRequest = v.InferOutput<typeof AddRuleRequest>;

export const PreviewRequest = v.object({ rule: Rule, endpoint_id: v.optional(endpointId) });
export type PreviewRequest = v.InferOutput<typeof PreviewRequest>;

export const CheckRequest = v.pipe(
  v.object({
    command: v.optional(v.pipe(v.string(), v.maxLength(64 * 1024))),
    edit: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(4096))),
    cwd: v.optional(v.pipe(v.string(), v.maxLength(4096))),
    workspace: v.optional(v.pipe(v.string(), v.maxLength(4096))),
    /** judge as this open session would be (its session rules and workspace) */
    session: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
  }),
  v.check((r) => (r.command === undefined) !== (r.edit === undefined), "give either `command` or `edit`"),
);
export type CheckRequest = v.InferOutput<typeof CheckRequest>;

export const AcceptWorkspaceRequest = v.object({
  root: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)),
  /** the SHA-256 (hex) of the file as the user saw it; a file changed since is refused */
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
});

export const BuiltinSettingsRequest = v.object({ read_only: v.boolean() });

// ---- answers of the /v1/policy routes ----

export const PreviewItem = v.object({ approval_id: v.string(), session: v.string(), summary: v.string(), state: v.string() });
export const PreviewResponse = v.object({ decided: v.array(PreviewItem), pending: v.array(PreviewItem) });
export const AddRuleResponse = v.object({ rule: RuleView, decided: v.array(v.string()) });
export const RemoveRuleResponse = v.object({ removed: v.array(RuleView) });
export const ProposeResponse = v.object({ rule: Rule, preview: PreviewResponse });
export const AcceptWorkspaceResponse = v.object({ workspace: WorkspaceRulesView, decided: v.array(v.string()) });
export const BuiltinSettingsResponse = v.object({ builtin: v.object({ read_only: v.boolean() }), decided: v.array(v.string()) });
