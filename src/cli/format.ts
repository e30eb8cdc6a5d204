// Plain-text output helpers for the CLI: aligned tables, relative times, stream outcomes.
import type { StreamView } from "../protocol/index.js";

export function table(rows: string[][], header: string[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}

export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** One line of at most `max` characters, with control characters made visible. */
export function preview(text: string, max = 60): string {
  const flat = text.replace(/\s+/g, " ").replace(/[\u0000-\u001f\u007f]/g, "?").trim();
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
}

export function workspaceLabel(ws: unknown): string {
  if (!ws) return "-";
  if (typeof ws === "string") return ws;
  const w = ws as { root?: string; cwd?: string };
  return w.cwd ?? w.root ?? "-";
}

/** A stream's state in a few words: running, exit N, killed by SIG, cancelled (SIG)… */
export function streamStatus(s: Pick<StreamView, "state" | "exit_code" | "signal" | "reason">): string {
  if (s.state === "streaming") return "running";
  if (s.state === "completed") return s.signal ? `killed by ${s.signal}` : `exit ${s.exit_code}`;
  return `${s.state}${s.signal ? ` (${s.signal})` : s.exit_code !== null ? ` (exit ${s.exit_code})` : ""}`;
}
