// How an output stream ended, in words: the one wording the terminal footer, the sidebar and the CLI
// all show, so that a stop reads the same everywhere ("cancelled (killed by SIGINT) after 14 s:
// stopped in demo"). Pure; the callers make agent text (the reason) safe for where they show it.
import type { StreamView } from "./streams.js";

export type StreamEnd = Pick<StreamView, "state" | "exit_code" | "signal" | "duration_ms" | "reason">;

/** A duration for people: "850 ms", "1.5 s", "14 s", "2 m 5 s". Empty when unknown. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} m ${Math.round(s - m * 60)} s`;
}

/**
 * `text`: "running"; "exit 3 after 1.5 s"; "killed by SIGTERM after 3.0 s"; "cancelled (killed by
 * SIGINT) after 14 s: stopped in demo"; "aborted: the broker restarted…". `ok` only for exit 0.
 */
export function streamOutcome(s: StreamEnd): { text: string; ok: boolean } {
  if (s.state === "streaming") return { text: "running", ok: true };
  const took = s.duration_ms !== null && formatDuration(s.duration_ms) ? ` after ${formatDuration(s.duration_ms)}` : "";
  if (s.state === "completed") {
    const head = s.signal ? `killed by ${s.signal}` : s.exit_code === null ? "ended" : `exit ${s.exit_code}`;
    return { text: `${head}${took}${s.reason ? `: ${s.reason}` : ""}`, ok: s.exit_code === 0 && !s.signal };
  }
  const how = s.signal ? ` (killed by ${s.signal})` : s.exit_code !== null ? ` (exit ${s.exit_code})` : "";
  return { text: `${s.state}${how}${took}${s.reason ? `: ${s.reason}` : ""}`, ok: false };
}
