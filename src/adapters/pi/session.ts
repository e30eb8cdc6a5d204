// What the parts of the pi adapter share: pi's API, the settings, the current extension context, and
// how the adapter speaks (a notice to the person, a debug log line) and tracks background work.
import type { ExtensionAPI, ExtensionContext } from "@mariozechner/pi-coding-agent";
import type { OfflinePolicy } from "../shared/offline.js";
import type { AdapterSettings } from "./settings.js";

export interface SwitchboardPiOptions {
  home?: string;
  offline?: OfflinePolicy;
  spawn?: boolean;
  approvalTimeoutSeconds?: number;
  sessionName?: string;
  /** dist/broker.js to spawn; default: broker.js beside this bundle. */
  brokerEntry?: string;
  /** How long a gated call waits for a lost broker to come back before the offline policy applies; default 15 s. */
  lostGraceMs?: number;
  /** How long a gated call waits for the first connection; default 8 s. */
  connectWaitMs?: number;
}

export type NoticeLevel = "info" | "warning" | "error";

export interface PiSession {
  readonly pi: ExtensionAPI;
  readonly settings: AdapterSettings;
  readonly options: SwitchboardPiOptions;
  /** The latest extension context pi handed over (session_start, a gated tool_call): where notices go. */
  ctx: ExtensionContext | undefined;
  /** The session is ending: nothing new starts. */
  readonly stopped: boolean;
  /** Tells the person (pi's UI, else stderr). */
  notify(text: string, level: NoticeLevel): void;
  /** A debug line on stderr (SWITCHBOARD_PI_DEBUG). */
  log(msg: string): void;
  /** Background work that shutdown waits for (briefly). */
  track(p: Promise<unknown>): void;
}
