// How a cost grows with the size of the work: the ratio of the cost at the largest size to the cost
// at the smallest, set against the ratio of the sizes, as a log-log slope (the exponent k in
// cost ~ size^k between those two points), and a word for it.
//   |k| < 0.15 flat · 0.15..0.85 sub-linear · 0.85..1.15 linear · > 1.15 super-linear · <= -0.15 decreasing
// Over a 100x size range, "flat" allows the cost to grow by up to x2 (100^0.15), "linear" means x50..x200.
//
// A cost with a large fixed part (the RSS of an idle process, a restart with an empty journal) looks
// flat in total even when the part that depends on the size grows linearly. Given that fixed part as
// `base`, the class is that of the cost above it, from the first size where that part stands out of
// the fixed part's noise (at least BASE_SHARE of it) to the largest; the class of the total is kept too.
import { round } from "./stats.js";

export type GrowthClass = "flat" | "sub-linear" | "linear" | "super-linear" | "decreasing" | "n/a";

/** The size-dependent part must reach this share of the fixed part before it is classified. */
const BASE_SHARE = 0.1;

export interface Span {
  from_size: number;
  to_size: number;
  size_ratio: number;
  value_ratio: number;
  /** log(value ratio) / log(size ratio) */
  exponent: number;
  class: GrowthClass;
}

export interface Growth {
  sizes: number[];
  values: Array<number | null>;
  /** least-squares slope of log(value) on log(size) over every point */
  fit_exponent: number | null;
  /** (last value - first value) / (last size - first size): the cost of one more unit of size */
  per_unit: number | null;
  /** smallest to largest size, on the values as measured */
  total: Span | null;
  /** the fixed part, if any, and the cost above it */
  base: number | null;
  over_base: Array<number | null> | null;
  above_base: Span | null;
  /** the class of the cost above the base when it can be classified, else of the total */
  class: GrowthClass;
}

export function classify(k: number | null): GrowthClass {
  if (k === null || !Number.isFinite(k)) return "n/a";
  if (k <= -0.15) return "decreasing";
  if (k < 0.15) return "flat";
  if (k < 0.85) return "sub-linear";
  if (k <= 1.15) return "linear";
  return "super-linear";
}

function logSlope(points: Array<[number, number]>): number | null {
  const pts = points.filter(([s, v]) => s > 0 && v > 0).map(([s, v]) => [Math.log(s), Math.log(v)] as const);
  if (pts.length < 2) return null;
  const mx = pts.reduce((a, [x]) => a + x, 0) / pts.length;
  const my = pts.reduce((a, [, y]) => a + y, 0) / pts.length;
  let num = 0;
  let den = 0;
  for (const [x, y] of pts) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

function span(first: [number, number] | undefined, last: [number, number] | undefined): Span | null {
  if (!first || !last || first[0] <= 0 || last[0] <= first[0] || first[1] <= 0 || last[1] <= 0) return null;
  const sizeRatio = last[0] / first[0];
  const valueRatio = last[1] / first[1];
  const k = Math.log(valueRatio) / Math.log(sizeRatio);
  return { from_size: first[0], to_size: last[0], size_ratio: round(sizeRatio, 2), value_ratio: round(valueRatio, 2), exponent: round(k, 2), class: classify(k) };
}

/** `points`: [size, cost] in increasing size; a null cost (not measured) is skipped. */
export function growth(points: Array<[number, number | null]>, base: number | null = null): Growth {
  const known = points.filter((p): p is [number, number] => p[1] !== null && Number.isFinite(p[1]));
  const total = span(known[0], known.at(-1));
  let aboveBase: Span | null = null;
  if (base !== null) {
    const over = known.map(([s, v]) => [s, v - base] as [number, number]);
    aboveBase = span(
      over.find(([, v]) => v >= BASE_SHARE * Math.abs(base) && v > 0),
      over.at(-1),
    );
  }
  const fit = logSlope(known);
  const k0 = known[0];
  const kn = known.at(-1);
  return {
    sizes: points.map((p) => p[0]),
    values: points.map((p) => p[1]),
    fit_exponent: fit === null ? null : round(fit, 2),
    per_unit: k0 && kn && kn[0] !== k0[0] ? round((kn[1] - k0[1]) / (kn[0] - k0[0]), 9) : null,
    total,
    base,
    over_base: base === null ? null : points.map((p) => (p[1] === null ? null : round(p[1] - base, 3))),
    above_base: aboveBase,
    class: aboveBase?.class ?? total?.class ?? "n/a",
  };
}

const num = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 3 });
const spanText = (s: Span, sizeName: string) =>
  `x${s.value_ratio} from ${num(s.from_size)} to ${num(s.to_size)} ${sizeName} (x${s.size_ratio}): ${s.class}, log-log slope ${s.exponent}`;

/** One sentence for a metric's note: the points, the cost per `per` more units (if given), and the classes. */
export function growthNote(g: Growth, unit: string, sizeName: string, baseName = "the fixed part", per: number | null = 1000): string {
  const parts = [`${g.sizes.map((s, i) => `${num(s)}: ${g.values[i] ?? "n/a"}`).join(", ")} ${unit} by ${sizeName}`];
  if (g.per_unit !== null && per !== null) parts.push(`${g.per_unit >= 0 ? "+" : ""}${num(round(g.per_unit * per, 3))} ${unit} per ${num(per)} more ${sizeName}`);
  parts.push(g.total ? `total ${spanText(g.total, sizeName)}` : "total not classified (a missing or zero value)");
  if (g.base !== null) {
    const over = `above ${baseName} (${g.base} ${unit}): ${g.over_base!.map((v) => (v === null ? "n/a" : num(v))).join(", ")}`;
    parts.push(
      g.above_base
        ? `${over}, ${spanText(g.above_base, sizeName)}`
        : `${over}: not classified (it stands out of the fixed part's noise at one size at most), so the class is the total's`,
    );
  }
  return parts.join("; ");
}
