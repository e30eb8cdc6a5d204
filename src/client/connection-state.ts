// The client's connection phases as a pure state machine: transition(state, event) -> { next, effects }.
// BrokerClient (the shell) performs the effects (sockets, HTTP, timers) and feeds their outcomes back
// as events. Every attempt has a generation number; outcomes of an older attempt are ignored, so a
// late answer can never undo a newer decision.

export type Phase = "idle" | "connecting" | "connected" | "reconnecting" | "disconnected" | "closed";
/** Phases reported to the application (`idle` is never reported). */
export type PublicPhase = Exclude<Phase, "idle">;

/** What the current attempt is doing. */
export type Step = "none" | "opening" | "reattaching" | "waiting";

export interface ConnState {
  readonly phase: Phase;
  /** Generation of the current attempt (and of the stream it opened). */
  readonly gen: number;
  /** Failed attempts since the client was last connected. */
  readonly failures: number;
  readonly step: Step;
  /** The next attempt must find the broker again (it went away or could not be reached). */
  readonly rediscover: boolean;
  readonly lastFailure: string | undefined;
}

export const INITIAL_STATE: ConnState = { phase: "idle", gen: 0, failures: 0, step: "none", rediscover: false, lastFailure: undefined };

export type ConnEvent =
  /** The application called connect() (from idle, or again after disconnected). */
  | { type: "connect_requested" }
  /** initialize answered and the /v1/stream WebSocket of attempt `gen` is open. */
  | { type: "stream_open"; gen: number }
  /** Every cached endpoint is attached to the stream of attempt `gen` (reattached, rebound or re-registered). */
  | { type: "reattached"; gen: number }
  /** Attempt `gen` failed. `fatal`: retrying cannot help (e.g. wrong protocol major). */
  | { type: "attempt_failed"; gen: number; reason: string; brokerGone?: boolean; fatal?: boolean }
  /** The stream of attempt `gen` closed. */
  | { type: "stream_closed"; gen: number; reason: string; brokerGone?: boolean }
  /** A call found the broker unreachable while the stream still looked open. */
  | { type: "broker_gone"; reason: string }
  /** The retry timer scheduled by attempt `gen` fired. */
  | { type: "retry_timer"; gen: number }
  | { type: "close_requested" };

export type ConnEffect =
  /** Find the broker (if `rediscover`), initialize, close any previous stream and wait, open a new one. */
  | { type: "open_stream"; gen: number; rediscover: boolean }
  /** Reattach every cached endpoint (re-register the ones the broker no longer knows). */
  | { type: "reattach_all"; gen: number }
  | { type: "schedule_retry"; gen: number; delayMs: number }
  | { type: "cancel_retry" }
  | { type: "close_stream" }
  | { type: "start_heartbeats" }
  | { type: "stop_heartbeats" }
  /** Report a phase change. `attempt` (1-based) is the attempt about to be made, or the one that succeeded. */
  | { type: "emit"; phase: PublicPhase; reason?: string; attempt?: number };

export interface BackoffOptions {
  /** First retry waits between baseMs/2 and baseMs. */
  baseMs: number;
  /** No retry waits longer than this. */
  capMs: number;
}

/** Low cap on purpose: the client must be back within 1 s of the broker being healthy again. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 50, capMs: 500 };

/**
 * Capped exponential backoff with "equal jitter": half of the exponential step is fixed (no hot loop),
 * the other half random (clients retrying at once spread out). attempt 0 is the first retry.
 */
export function backoffMs(attempt: number, opts: BackoffOptions & { random: () => number }): number {
  const exp = Math.min(opts.capMs, opts.baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  const r = Math.min(1, Math.max(0, opts.random()));
  return Math.round(exp / 2 + (r * exp) / 2);
}

export interface MachineOptions {
  backoff: BackoffOptions;
  random: () => number;
  /** Give up (phase disconnected) after this many failed attempts in a row; default: never. */
  maxAttempts?: number;
}

export interface Transition {
  next: ConnState;
  effects: ConnEffect[];
}

const stay = (state: ConnState): Transition => ({ next: state, effects: [] });
const inAttempt = (s: ConnState) => (s.phase === "connecting" || s.phase === "reconnecting") && (s.step === "opening" || s.step === "reattaching");

export function transition(state: ConnState, event: ConnEvent, opts: MachineOptions): Transition {
  if (state.phase === "closed") return stay(state);
  switch (event.type) {
    case "connect_requested": {
      if (state.phase !== "idle" && state.phase !== "disconnected") return stay(state);
      const gen = state.gen + 1;
      return {
        next: { phase: "connecting", gen, failures: 0, step: "opening", rediscover: state.phase === "disconnected", lastFailure: state.lastFailure },
        effects: [
          { type: "emit", phase: "connecting", attempt: 1 },
          { type: "open_stream", gen, rediscover: state.phase === "disconnected" },
        ],
      };
    }

    case "stream_open":
      if (event.gen !== state.gen || !inAttempt(state) || state.step !== "opening") return stay(state);
      return { next: { ...state, step: "reattaching" }, effects: [{ type: "reattach_all", gen: state.gen }] };

    case "reattached":
      if (event.gen !== state.gen || !inAttempt(state) || state.step !== "reattaching") return stay(state);
      return {
        next: { ...state, phase: "connected", step: "none", failures: 0, rediscover: false },
        effects: [{ type: "emit", phase: "connected", attempt: state.failures + 1 }, { type: "start_heartbeats" }],
      };

    case "attempt_failed":
    case "stream_closed": {
      if (event.gen !== state.gen) return stay(state);
      if (event.type === "stream_closed" && state.phase === "connected") {
        // The live stream dropped: start reconnecting at once (the first retry waits only a few ms).
        const gen = state.gen;
        return {
          next: { ...state, phase: "reconnecting", step: "waiting", failures: 0, rediscover: !!event.brokerGone, lastFailure: event.reason },
          effects: [
            { type: "stop_heartbeats" },
            { type: "emit", phase: "reconnecting", reason: event.reason, attempt: 1 },
            { type: "schedule_retry", gen, delayMs: backoffMs(0, { ...opts.backoff, random: opts.random }) },
          ],
        };
      }
      if (!inAttempt(state)) return stay(state);
      const fatal = event.type === "attempt_failed" && !!event.fatal;
      const failures = state.failures + 1;
      const exhausted = opts.maxAttempts !== undefined && failures >= opts.maxAttempts;
      // A first connect fails fast: the caller of connect() gets the error instead of a silent retry loop
      // (callers that keep trying space their attempts with connect-retry.ts).
      if (state.phase === "connecting" || fatal || exhausted) {
        return {
          next: { ...state, phase: "disconnected", step: "none", failures, lastFailure: event.reason },
          effects: [{ type: "close_stream" }, { type: "emit", phase: "disconnected", reason: event.reason, attempt: failures }],
        };
      }
      return {
        next: { ...state, step: "waiting", failures, rediscover: state.rediscover || !!event.brokerGone, lastFailure: event.reason },
        effects: [
          { type: "close_stream" },
          { type: "emit", phase: "reconnecting", reason: event.reason, attempt: failures + 1 },
          { type: "schedule_retry", gen: state.gen, delayMs: backoffMs(failures, { ...opts.backoff, random: opts.random }) },
        ],
      };
    }

    case "broker_gone":
      if (state.phase !== "connected") return stay(state);
      return {
        next: { ...state, phase: "reconnecting", step: "waiting", failures: 0, rediscover: true, lastFailure: event.reason },
        effects: [
          { type: "stop_heartbeats" },
          { type: "close_stream" },
          { type: "emit", phase: "reconnecting", reason: event.reason, attempt: 1 },
          { type: "schedule_retry", gen: state.gen, delayMs: backoffMs(0, { ...opts.backoff, random: opts.random }) },
        ],
      };

    case "retry_timer": {
      if (event.gen !== state.gen || state.phase !== "reconnecting" || state.step !== "waiting") return stay(state);
      const gen = state.gen + 1;
      return { next: { ...state, gen, step: "opening" }, effects: [{ type: "open_stream", gen, rediscover: state.rediscover }] };
    }

    case "close_requested":
      return {
        next: { ...state, phase: "closed", gen: state.gen + 1, step: "none" },
        effects: [{ type: "cancel_retry" }, { type: "stop_heartbeats" }, { type: "close_stream" }, { type: "emit", phase: "closed" }],
      };
  }
}
