// The approval policy: one set of rules for every agent's requests (issue 14). Depends on protocol only.
export { Policy, compileRule, GUARD_SOURCE_WHERE, type PolicyRequest, type RuleSource } from "./engine.js";
export { checkRule, checkRules, loadRulesText, type LoadedRules } from "./load.js";
export { GUARDS, READ_ONLY } from "./builtin.js";
export { proposeRule } from "./propose.js";
