// Typed access to the `switchboard.*` settings, with the defaults declared in package.json.
import * as vscode from "vscode";

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
}

const pick = <T extends string>(value: unknown, allowed: readonly T[], fallback: T): T =>
  allowed.includes(value as T) ? (value as T) : fallback;

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration("switchboard");
  const text = (key: string) => {
    const v = c.get<string>(key, "");
    return typeof v === "string" && v.trim() ? v.trim() : undefined;
  };
  const count = (key: string, fallback: number) => {
    const v = c.get<number>(key, fallback);
    return Number.isInteger(v) && v >= 0 && v <= 10_000 ? v : fallback;
  };
  const policies = ["reveal", "background", "none"] as const;
  return {
    brokerHome: text("broker.home"),
    autoStart: c.get<boolean>("broker.autoStart", true) !== false,
    sessionName: text("sessionName"),
    notifications: pick(c.get("notifications.approvals"), ["all", "sh-only", "off"] as const, "all"),
    autoApproveEnv: c.get<boolean>("approvals.autoApproveEnv", false) === true,
    shTerminals: pick(c.get("terminals.sh"), policies, "reveal"),
    envTerminals: pick(c.get("terminals.env"), policies, "background"),
    recentStreams: count("retention.recentStreams", 20),
    recentMessages: count("retention.recentMessages", 100),
    piCommand: text("pi.command") ?? "pi",
    piArgs: (c.get<unknown[]>("pi.args", []) ?? []).filter((a): a is string => typeof a === "string"),
  };
}
