// The `switchboard.*` settings, checked without VS Code: every value against the type, values and range
// package.json declares for it. A wrong value (a string where a number belongs, an unknown choice, null,
// an array) never throws: the setting falls back to its default and a warning names it.

import { parseAgentsSetting, type ConfiguredAgent } from "./agent-choices.js";

export type NotifyLevel = "all" | "sh-only" | "off";
export type TerminalPolicy = "reveal" | "background" | "none";

export interface Settings {
  brokerHome: string | undefined;
  autoStart: boolean;
  sessionName: string | undefined;
  notifications: NotifyLevel;
  autoApproveEnv: boolean;
  shTerminals: TerminalPolicy;
  envTerminals: TerminalPolicy;
  recentStreams: number;
  recentMessages: number;
  piCommand: string;
  piArgs: string[];
  claudeCommand: string;
  claudeArgs: string[];
  /** switchboard.agents: ACP agents for New Agent Session…, besides those found on PATH. */
  agents: ConfiguredAgent[];
}

/** A setting's value by its key below `switchboard.` (e.g. "broker.home"); undefined when it is not set. */
export type SettingGetter = (key: string) => unknown;

const NOTIFY_LEVELS = ["all", "sh-only", "off"] as const;
const POLICIES = ["reveal", "background", "none"] as const;

function show(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // circular or a BigInt: fall through
  }
  text ??= typeof value;
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

export function parseSettings(get: SettingGetter, warn: (message: string) => void = () => {}): Settings {
  const read = (key: string): unknown => {
    try {
      return get(key);
    } catch (err) {
      warn(`Setting switchboard.${key} could not be read (${(err as Error)?.message ?? String(err)}); using its default.`);
      return undefined;
    }
  };
  const wrong = (key: string, expected: string, value: unknown, fallback: unknown) =>
    warn(`Setting switchboard.${key} should be ${expected}, not ${show(value)}; using the default ${show(fallback)}.`);

  /** A string; blank means "not set". */
  const text = (key: string): string | undefined => {
    const v = read(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") return (wrong(key, "a string", v, ""), undefined);
    return v.trim() || undefined;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const v = read(key);
    if (v === undefined) return fallback;
    if (typeof v !== "boolean") return (wrong(key, "true or false", v, fallback), fallback);
    return v;
  };
  const choice = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const v = read(key);
    if (v === undefined) return fallback;
    if (!allowed.includes(v as T)) return (wrong(key, `one of ${allowed.map((a) => `"${a}"`).join(", ")}`, v, fallback), fallback);
    return v as T;
  };
  const count = (key: string, fallback: number, max: number): number => {
    const v = read(key);
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) return (wrong(key, `a whole number from 0 to ${max}`, v, fallback), fallback);
    return v;
  };
  const strings = (key: string): string[] => {
    const v = read(key);
    if (v === undefined) return [];
    if (!Array.isArray(v)) return (wrong(key, "a list of strings", v, []), []);
    const kept = v.filter((a): a is string => typeof a === "string");
    if (kept.length !== v.length)
      warn(`Setting switchboard.${key} should hold only strings; left out ${v.length - kept.length} other entr${v.length - kept.length === 1 ? "y" : "ies"}.`);
    return kept;
  };

  return {
    brokerHome: text("broker.home"),
    autoStart: flag("broker.autoStart", true),
    sessionName: text("sessionName"),
    notifications: choice("notifications.approvals", NOTIFY_LEVELS, "all"),
    autoApproveEnv: flag("approvals.autoApproveEnv", false),
    shTerminals: choice("terminals.sh", POLICIES, "reveal"),
    envTerminals: choice("terminals.env", POLICIES, "background"),
    recentStreams: count("retention.recentStreams", 20, 200),
    recentMessages: count("retention.recentMessages", 100, 1000),
    piCommand: text("pi.command") ?? "pi",
    piArgs: strings("pi.args"),
    claudeCommand: text("claude.command") ?? "claude",
    claudeArgs: strings("claude.args"),
    agents: parseAgentsSetting(read("agents"), warn),
  };
}
