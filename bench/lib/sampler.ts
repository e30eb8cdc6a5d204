// Samples a process's resident memory and CPU time from /proc every `intervalMs` (Linux; empty elsewhere).
import { readFileSync } from "node:fs";
import { cpuSeconds, machineBusySeconds, rssMb } from "./procs.js";
import { round } from "./stats.js";

export interface Sample {
  /** ms since the sampler started */
  t_ms: number;
  rss_mb: number;
  cpu_s: number | null;
}

export interface SamplerResult {
  samples: Sample[];
  start_mb: number | null;
  max_mb: number | null;
  end_mb: number | null;
  /** VmHWM (peak RSS over the process's life) when the sampler stopped */
  hwm_mb: number | null;
}

export function startSampler(pid: number, intervalMs = 100, maxSamples = 5000): { stop(): SamplerResult } {
  const t0 = performance.now();
  const samples: Sample[] = [];
  const take = () => {
    const r = rssMb(pid);
    if (r && samples.length < maxSamples) samples.push({ t_ms: round(performance.now() - t0, 1), rss_mb: r.rss, cpu_s: cpuSeconds(pid) });
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      const rss = samples.map((s) => s.rss_mb);
      return {
        samples,
        start_mb: rss[0] ?? null,
        max_mb: rss.length ? Math.max(...rss) : null,
        end_mb: rss.at(-1) ?? null,
        hwm_mb: rssMb(pid)?.hwm ?? null,
      };
    },
  };
}

const CLK_TCK = 100; // USER_HZ, as in procs.ts

/** CPU seconds of a process's waited-for children (cutime + cstime in /proc/<pid>/stat): shells and writers it spawned and reaped. */
export function reapedChildrenCpuSeconds(pid: number | "self" = "self"): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); cutime is field 16, cstime field 17.
    return (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
  } catch {
    return null;
  }
}

export interface CpuWindow {
  wall_s: number;
  /** machine busy CPU (all cores) as % of one core */
  machine_busy_pct: number | null;
  /** CPU of the bench's own processes (listed pids + this process + children it reaped), % of one core */
  ours_pct: number | null;
  /** everything else on the machine, % of one core: high values mean the numbers are noisy */
  other_pct: number | null;
}

/** Measures how busy the machine was, and how much of it was not us, between start and end. */
export function cpuWindow(pids: number[]): { end(): CpuWindow } {
  const t0 = performance.now();
  const ours = () => {
    const self = process.cpuUsage();
    let sum = (self.user + self.system) / 1e6 + (reapedChildrenCpuSeconds() ?? 0);
    for (const p of pids) sum += cpuSeconds(p) ?? 0;
    return sum;
  };
  const m0 = machineBusySeconds();
  const o0 = ours();
  return {
    end() {
      const wall = (performance.now() - t0) / 1000;
      const m1 = machineBusySeconds();
      const o1 = ours();
      const busy = m0 !== null && m1 !== null ? ((m1 - m0) / wall) * 100 : null;
      const mine = ((o1 - o0) / wall) * 100;
      return {
        wall_s: round(wall, 2),
        machine_busy_pct: busy === null ? null : round(busy, 1),
        ours_pct: round(mine, 1),
        other_pct: busy === null ? null : round(Math.max(0, busy - mine), 1),
      };
    },
  };
}
