// Plain-text output helpers for the CLI: aligned tables, relative times, stream outcomes.
import { streamOutcome, visibleLine, visibleText, type StreamEnd } from "../protocol/index.js";

/**
 * Agent-supplied text for the terminal: control, C1, bidi and invisible characters made visible (the
 * shared function of src/protocol/visible-text.ts), so it cannot move the cursor, erase a line, set a
 * title or reorder what the approver reads. Every field of agent text the CLI prints goes through
 * `shown` (whole) or `preview` (one cut line).
 */
export const shown = (text: string | null | undefined): string => visibleText(text ?? "");

export function table(rows: string[][], header: string[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** One line of at most `max` characters, with hidden characters (line breaks too) made visible. */
export function preview(text: string, max = 60): string {
  return visibleLine(text, max);
}

export function workspaceLabel(ws: unknown): string {
  if (!ws) return "-";
  if (typeof ws === "string") return shown(ws);
  const w = ws as { root?: string; cwd?: string };
  return shown(w.cwd ?? w.root ?? "-");
}

/** A stream's state in a few words: running, exit N, killed by SIG, cancelled (SIG)… */
/** How a stream ended: the same words as the terminal footer and the sidebar (protocol/stream-outcome.ts), agent text visible. */
export function streamStatus(s: StreamEnd): string {
  return shown(streamOutcome(s).text);
}
