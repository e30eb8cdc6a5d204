// The broker's bounds: every backlog a client can grow has a limit with a documented default and a
// setting (an environment variable of the broker), and reaching it is refused with a stable code and
// a sentence that names the limit and the setting. Defaults keep a broker at every limit at once
// within a few hundred MB (bench/limits.ts measures it).
import { ProtocolError, type ErrorCode } from "../protocol/index.js";

export interface Limits {
  /** Pending approvals one session (endpoint) may have. */
  approvalsPerSession: number;
  /** Pending approvals in the whole broker. */
  approvalsTotal: number;
  /** UTF-8 bytes of an approval's `command`, `detail` and `diff`. */
  approvalCommandBytes: number;
  approvalDetailBytes: number;
  approvalDiffBytes: number;
  /** Open endpoints registered by one process. */
  endpointsPerPid: number;
  /** Running output streams of one producer process, and in total (each holds an open file). */
  streamsPerProducer: number;
  streamsTotal: number;
  /** Open WebSockets (process streams, observers, stream followers). */
  sockets: number;
}

export const DEFAULT_LIMITS: Limits = {
  approvalsPerSession: 1000,
  approvalsTotal: 2000,
  approvalCommandBytes: 64 * 1024,
  approvalDetailBytes: 64 * 1024,
  approvalDiffBytes: 256 * 1024,
  endpointsPerPid: 64,
  streamsPerProducer: 64,
  streamsTotal: 256,
  sockets: 1024,
};

/** The environment variable of each limit. */
export const LIMIT_SETTINGS: Record<keyof Limits, string> = {
  approvalsPerSession: "SWITCHBOARD_MAX_PENDING_APPROVALS_PER_SESSION",
  approvalsTotal: "SWITCHBOARD_MAX_PENDING_APPROVALS",
  approvalCommandBytes: "SWITCHBOARD_MAX_APPROVAL_COMMAND_BYTES",
  approvalDetailBytes: "SWITCHBOARD_MAX_APPROVAL_DETAIL_BYTES",
  approvalDiffBytes: "SWITCHBOARD_MAX_APPROVAL_DIFF_BYTES",
  endpointsPerPid: "SWITCHBOARD_MAX_ENDPOINTS_PER_PID",
  streamsPerProducer: "SWITCHBOARD_MAX_STREAMS_PER_PRODUCER",
  streamsTotal: "SWITCHBOARD_MAX_STREAMS",
  sockets: "SWITCHBOARD_MAX_SOCKETS",
};

/** Limits from the environment; a value that is not a positive integer is an error that names it. */
export function limitsFromEnv(env: NodeJS.ProcessEnv): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const [key, name] of Object.entries(LIMIT_SETTINGS) as [keyof Limits, string][]) {
    const raw = env[name]?.trim();
    if (!raw) continue;
    const n = /^\d{1,12}$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= 1)) throw new Error(`${name} must be a positive integer (it is "${raw.slice(0, 40)}").`);
    out[key] = n;
  }
  return out;
}

/** The refusal for a reached limit: code, sentence, and which limit and setting it was. */
export function limitReached(code: ErrorCode, key: keyof Limits, limits: Limits, sentence: string): ProtocolError {
  return new ProtocolError(code, `${sentence} (limit ${limits[key]}, setting ${LIMIT_SETTINGS[key]}).`, { limit: limits[key], setting: LIMIT_SETTINGS[key] });
}
