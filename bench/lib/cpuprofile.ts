// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): top functions by self and by total time,
// with positions in dist/broker.js mapped back to src/ through its source map when there is one.
import { existsSync, readFileSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { SourceMap } from "node:module";
import { basename, join } from "node:path";
import { round } from "./stats.js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileRow {
  fn: string;
  where: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  file: string;
  total_ms: number;
  busy_ms: number;
  top_self: ProfileRow[];
  top_total: ProfileRow[];
  by_area: Record<string, number>;
}

function loadSourceMap(url: string): SourceMap | undefined {
  if (!url.startsWith("file://")) return undefined;
  try {
    const path = new URL(url).pathname;
    return new SourceMap(JSON.parse(readFileSync(`${path}.map`, "utf8")));
  } catch {
    return undefined;
  }
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const raw = JSON.parse(readFileSync(file, "utf8")) as CpuProfile | { profile: CpuProfile };
  const prof = "profile" in raw ? raw.profile : raw;
  const byId = new Map<number, ProfileNode>();
  for (const n of prof.nodes) byId.set(n.id, n);
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const maps = new Map<string, SourceMap | undefined>();
  const keyOf = new Map<number, { fn: string; where: string; area: string }>();
  const describe = (n: ProfileNode) => {
    let k = keyOf.get(n.id);
    if (k) return k;
    const cf = n.callFrame;
    const fn = cf.functionName || "(anonymous)";
    let where = cf.url ? `${basename(cf.url)}:${cf.lineNumber + 1}` : "";
    let area = cf.url.startsWith("node:") ? "node internals" : cf.url ? "js (other)" : fn.startsWith("(") ? fn : "native/V8";
    if (cf.url.includes("/dist/")) {
      if (!maps.has(cf.url)) maps.set(cf.url, loadSourceMap(cf.url));
      const entry = maps.get(cf.url)?.findEntry(cf.lineNumber, cf.columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
      if (entry?.originalSource) {
        const src = entry.originalSource.replace(/^.*?(src\/|node_modules\/)/, "$1");
        where = `${src}:${(entry.originalLine ?? 0) + 1}`;
        area = src.startsWith("node_modules/") ? src.split("/").slice(0, 2).join("/") : src.split("/").slice(0, 2).join("/");
      } else area = "dist (unmapped)";
    }
    k = { fn, where, area };
    keyOf.set(n.id, k);
    return k;
  };

  const selfUs = new Map<number, number>();
  let totalUs = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const d = prof.timeDeltas[i + 1] ?? 0; // delta to the next sample = time spent in this one
    selfUs.set(prof.samples[i]!, (selfUs.get(prof.samples[i]!) ?? 0) + d);
    totalUs += d;
  }

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const area = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const k = describe(n);
    if (k.fn === "(idle)") idleUs += us;
    const key = `${k.fn}\t${k.where}`;
    self.set(key, (self.get(key) ?? 0) + us);
    area.set(k.area, (area.get(k.area) ?? 0) + us);
    // Total time: charge every distinct function on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id, guard = 0; cur !== undefined && guard < 10_000; cur = parent.get(cur), guard++) {
      const kk = describe(byId.get(cur)!);
      const key2 = `${kk.fn}\t${kk.where}`;
      if (seen.has(key2)) continue;
      seen.add(key2);
      total.set(key2, (total.get(key2) ?? 0) + us);
    }
  }
  const busy = totalUs - idleUs;
  const rows = (m: Map<string, number>, skip: (fn: string) => boolean) =>
    [...m.entries()]
      .filter(([k]) => !skip(k.split("\t")[0]!))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => {
        const [fn, where] = k.split("\t") as [string, string];
        return { fn, where, ms: round(us / 1000, 1), pct: round((us / Math.max(1, busy)) * 100, 1) };
      });
  const structural = (fn: string) => fn === "(root)" || fn === "(idle)" || fn === "(program)";
  return {
    file,
    total_ms: round(totalUs / 1000, 1),
    busy_ms: round(busy / 1000, 1),
    top_self: rows(self, (fn) => fn === "(idle)"),
    top_total: rows(total, structural),
    by_area: Object.fromEntries([...area.entries()].sort((a, b) => b[1] - a[1]).map(([k, us]) => [k, round(us / 1000, 1)])),
  };
}

/** The most recent .cpuprofile file in `dir` (what node --cpu-prof wrote last). */
export async function newestProfile(dir: string): Promise<string | undefined> {
  if (!existsSync(dir)) return undefined;
  const files = (await readdir(dir)).filter((f) => f.endsWith(".cpuprofile")).map((f) => join(dir, f));
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

export interface Attribution {
  total_ms: number;
  idle_ms: number;
  /** samples with a frame from a script whose URL contains the given text anywhere on the stack */
  ours_ms: number;
  /** busy, but not in our code: other extensions, the host itself, GC and compilation not under ours */
  other_ms: number;
  // idle_ms: waiting (idle samples, and gaps longer than the cap: the thread was not running)
}

/**
 * Splits a profile's time into idle, ours (a frame of `urlPart` on the stack) and everything else.
 * A sample stands for at most `capUs` (a few sampling intervals): a longer gap means the thread was
 * not running (descheduled on a busy machine, or waiting), which is nobody's CPU time.
 */
export function attributeProfile(file: string, urlPart: string, capUs = 1000): Attribution {
  // Either a bare profile, or {window_us: [from, to], profile}: then only samples inside the window count.
  const raw = JSON.parse(readFileSync(file, "utf8")) as CpuProfile | { window_us: [number, number]; profile: CpuProfile };
  const prof = "profile" in raw ? raw.profile : raw;
  const [from, to] = "window_us" in raw ? raw.window_us : [-Infinity, Infinity];
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const ours = new Map<number, boolean>();
  const isOurs = (id: number): boolean => {
    const known = ours.get(id);
    if (known !== undefined) return known;
    const n = byId.get(id)!;
    const p = parent.get(id);
    const v = n.callFrame.url.includes(urlPart) || (p !== undefined && isOurs(p));
    ours.set(id, v);
    return v;
  };
  let total = 0;
  let mine = 0;
  let busyOther = 0;
  let at = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    at += prof.timeDeltas[i] ?? 0; // this sample's timestamp
    if (at < from || at >= to) continue;
    const gap = Math.min(prof.timeDeltas[i + 1] ?? 0, to - at);
    const d = Math.min(gap, capUs);
    const id = prof.samples[i]!;
    total += gap;
    if (byId.get(id)!.callFrame.functionName === "(idle)") continue;
    if (isOurs(id)) mine += d;
    else busyOther += d;
  }
  return { total_ms: round(total / 1000, 1), idle_ms: round((total - mine - busyOther) / 1000, 1), ours_ms: round(mine / 1000, 1), other_ms: round(busyOther / 1000, 1) };
}
