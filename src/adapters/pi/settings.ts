// Settings of the pi adapter: built-in defaults, then options baked in by `switchboard install pi`,
// then the `switchboard` key of pi's settings.json (global, then project), then environment variables.
// resolveSettings is pure; readSettingsLayers does the file reading.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseOfflinePolicy, type OfflinePolicy } from "../shared/offline.js";

export type { OfflinePolicy };

export interface AdapterSettings {
  /** Off: the adapter does nothing. */
  enabled: boolean;
  /** What gated tools do when no broker can be reached: block them (default) or run them unsupervised. */
  offline: OfflinePolicy;
  /** Switchboard state folder; undefined = $SWITCHBOARD_HOME or the per-user data folder. */
  home: string | undefined;
  /** Start a broker when none is running. */
  spawn: boolean;
  /** Approvals expire after this long without a decision; 0 = never. */
  approvalTimeoutMs: number;
  /** Session name shown in VS Code; undefined = pi's session name, else "pi: <folder>". */
  sessionName: string | undefined;
}

/** The `switchboard` object in pi's settings.json, or options passed to createSwitchboardExtension. */
export interface SettingsLayer {
  enabled?: unknown;
  offline?: unknown;
  home?: unknown;
  spawn?: unknown;
  approvalTimeoutSeconds?: unknown;
  sessionName?: unknown;
}

export const DEFAULT_SETTINGS: AdapterSettings = {
  enabled: true,
  offline: "block",
  home: undefined,
  spawn: true,
  approvalTimeoutMs: 0,
  sessionName: undefined,
};

export interface ResolvedSettings {
  settings: AdapterSettings;
  /** Sentences about values that were ignored. */
  warnings: string[];
}

function bool(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    const s = v.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(s)) return true;
    if (["0", "false", "no", "off"].includes(s)) return false;
  }
  return undefined;
}

export function resolveSettings(env: NodeJS.ProcessEnv, layers: { source: string; layer: SettingsLayer | undefined }[]): ResolvedSettings {
  const s: AdapterSettings = { ...DEFAULT_SETTINGS };
  const warnings: string[] = [];
  const apply = (source: string, l: SettingsLayer) => {
    const bad = (key: string, v: unknown, want: string) => warnings.push(`${source}: ignored ${key} = ${JSON.stringify(v)} (expected ${want}).`);
    if (l.enabled !== undefined) {
      const b = bool(l.enabled);
      if (b === undefined) bad("enabled", l.enabled, "true or false");
      else s.enabled = b;
    }
    if (l.offline !== undefined) {
      const v = parseOfflinePolicy(l.offline);
      if (v) s.offline = v;
      else bad("offline", l.offline, '"block" or "allow"');
    }
    if (l.home !== undefined) {
      if (typeof l.home === "string" && l.home.trim()) s.home = expandHome(l.home.trim(), env);
      else bad("home", l.home, "a folder path");
    }
    if (l.spawn !== undefined) {
      const b = bool(l.spawn);
      if (b === undefined) bad("spawn", l.spawn, "true or false");
      else s.spawn = b;
    }
    if (l.approvalTimeoutSeconds !== undefined) {
      const n = typeof l.approvalTimeoutSeconds === "string" ? Number(l.approvalTimeoutSeconds) : l.approvalTimeoutSeconds;
      if (typeof n === "number" && Number.isFinite(n) && n >= 0 && n <= 7 * 24 * 3600) s.approvalTimeoutMs = Math.round(n * 1000);
      else bad("approvalTimeoutSeconds", l.approvalTimeoutSeconds, "seconds, 0 for none");
    }
    if (l.sessionName !== undefined) {
      if (typeof l.sessionName === "string" && l.sessionName.trim()) s.sessionName = l.sessionName.trim();
      else bad("sessionName", l.sessionName, "a name");
    }
  };
  for (const { source, layer } of layers) if (layer && typeof layer === "object") apply(source, layer);
  const envLayer: SettingsLayer = {};
  if (env.SWITCHBOARD_PI_DISABLE !== undefined && env.SWITCHBOARD_PI_DISABLE !== "") {
    const off = bool(env.SWITCHBOARD_PI_DISABLE);
    if (off === undefined) warnings.push(`SWITCHBOARD_PI_DISABLE: ignored ${JSON.stringify(env.SWITCHBOARD_PI_DISABLE)} (expected 1 or 0).`);
    else envLayer.enabled = !off;
  }
  if (env.SWITCHBOARD_PI_OFFLINE) envLayer.offline = env.SWITCHBOARD_PI_OFFLINE;
  if (env.SWITCHBOARD_HOME?.trim()) envLayer.home = env.SWITCHBOARD_HOME;
  if (env.SWITCHBOARD_PI_SPAWN) envLayer.spawn = env.SWITCHBOARD_PI_SPAWN;
  if (env.SWITCHBOARD_PI_APPROVAL_TIMEOUT) envLayer.approvalTimeoutSeconds = env.SWITCHBOARD_PI_APPROVAL_TIMEOUT;
  if (env.SWITCHBOARD_PI_SESSION) envLayer.sessionName = env.SWITCHBOARD_PI_SESSION;
  apply("environment", envLayer);
  return { settings: s, warnings };
}

function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  if (p === "~") return env.HOME ?? homedir();
  if (p.startsWith("~/")) return join(env.HOME ?? homedir(), p.slice(2));
  return p;
}

/** pi's agent folder: $PI_CODING_AGENT_DIR, else ~/.pi/agent. */
export function piAgentDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.PI_CODING_AGENT_DIR?.trim();
  return dir ? expandHome(dir, env) : join(env.HOME ?? homedir(), ".pi", "agent");
}

export interface PiSettingsFiles {
  /** Layers for resolveSettings, global first. */
  layers: { source: string; layer: SettingsLayer | undefined }[];
  /** pi's own shell settings (project over global), which its bash tool uses. */
  shellPath: string | undefined;
  shellCommandPrefix: string | undefined;
  warnings: string[];
}

/** Reads `<agentDir>/settings.json` and `<cwd>/.pi/settings.json`; missing files are fine. */
export function readPiSettingsFiles(cwd: string, env: NodeJS.ProcessEnv = process.env): PiSettingsFiles {
  const files = [join(piAgentDir(env), "settings.json"), join(cwd, ".pi", "settings.json")];
  const out: PiSettingsFiles = { layers: [], shellPath: undefined, shellCommandPrefix: undefined, warnings: [] };
  for (const file of files) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") out.warnings.push(`${file}: not read (${(err as Error).message}).`);
      continue;
    }
    if (!json || typeof json !== "object") continue;
    const sb = json.switchboard;
    if (sb !== undefined && (typeof sb !== "object" || sb === null)) out.warnings.push(`${file}: "switchboard" must be an object.`);
    out.layers.push({ source: file, layer: typeof sb === "object" && sb !== null ? (sb as SettingsLayer) : undefined });
    if (typeof json.shellPath === "string") out.shellPath = json.shellPath;
    if (typeof json.shellCommandPrefix === "string") out.shellCommandPrefix = json.shellCommandPrefix;
  }
  return out;
}
