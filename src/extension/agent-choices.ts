// What **Switchboard: New Agent Session…** offers: the ACP agents found on PATH plus those in the
// `switchboard.agents` setting. Pure (no vscode), so it is tested without VS Code.
import { findExecutable } from "../platform/executable.js";

export interface AgentChoice {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Where it came from, for the picker's description. */
  source: "PATH" | "setting";
  /** The resolved executable (PATH lookups), or undefined when the setting's command is not found. */
  path: string | undefined;
}

export interface ConfiguredAgent {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** ACP agents known by the command that starts them in ACP mode. */
export const KNOWN_ACP_AGENTS: readonly ConfiguredAgent[] = [
  { name: "Claude (claude-agent-acp)", command: "claude-agent-acp", args: [], env: {} },
  { name: "Codex (codex-acp)", command: "codex-acp", args: [], env: {} },
  { name: "Gemini CLI", command: "gemini", args: ["--acp"], env: {} },
  { name: "OpenCode", command: "opencode", args: ["acp"], env: {} },
  { name: "Qwen Code", command: "qwen", args: ["--acp"], env: {} },
  { name: "Goose", command: "goose", args: ["acp"], env: {} },
];

/** The setting's entries first (they may override a known agent's name), then the known agents found on PATH. */
export function agentChoices(configured: readonly ConfiguredAgent[], path = process.env.PATH ?? ""): AgentChoice[] {
  const out: AgentChoice[] = configured.map((a) => ({ ...a, source: "setting" as const, path: findExecutable(a.command, path) }));
  for (const a of KNOWN_ACP_AGENTS) {
    if (out.some((c) => c.command === a.command && c.args.join(" ") === a.args.join(" "))) continue;
    const found = findExecutable(a.command, path);
    if (found) out.push({ ...a, source: "PATH", path: found });
  }
  return out;
}

/** One `switchboard.agents` entry, normalized; undefined (with why) when it is not `{name?, command, args?, env?}`. */
function agentEntry(raw: unknown): ConfiguredAgent | string {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return "is not an object";
  const e = raw as { name?: unknown; command?: unknown; args?: unknown; env?: unknown };
  if (typeof e.command !== "string" || !e.command.trim()) return "needs a command";
  if (e.name !== undefined && typeof e.name !== "string") return "has a name that is not a string";
  if (e.args !== undefined && !(Array.isArray(e.args) && e.args.every((a) => typeof a === "string"))) return "has args that are not a list of strings";
  if (e.env !== undefined && !(e.env && typeof e.env === "object" && !Array.isArray(e.env) && Object.values(e.env).every((v) => typeof v === "string")))
    return "has env that is not an object of strings";
  const name = typeof e.name === "string" && e.name.trim() ? e.name.trim() : e.command.trim();
  return { name, command: e.command.trim(), args: [...((e.args as string[] | undefined) ?? [])], env: { ...((e.env as Record<string, string> | undefined) ?? {}) } };
}

/**
 * The `switchboard.agents` setting: the valid entries are kept, and one warning names the ones left
 * out (never throws).
 */
export function parseAgentsSetting(value: unknown, warn: (message: string) => void = () => {}): ConfiguredAgent[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return (warn("Setting switchboard.agents should be a list of {name, command, args, env}; using the default []."), []);
  const out: ConfiguredAgent[] = [];
  const problems: string[] = [];
  value.forEach((raw: unknown, i) => {
    const e = agentEntry(raw);
    if (typeof e === "string") problems.push(`entry ${i + 1} ${e}`);
    else out.push(e);
  });
  if (problems.length) warn(`Setting switchboard.agents should hold only {name, command, args, env} entries; left out ${problems.join(", ")}.`);
  return out;
}
