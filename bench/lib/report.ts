// The report shape every bench prints: a map of named metrics, each with its target (if the issue
// names one), whether it was met, and the floor it is measured beside.

export interface Metric {
  value: number | null;
  unit: string;
  target: number | null;
  op: "<" | "<=" | ">=" | "==" | null;
  pass: boolean | null;
  floor?: number | null;
  floor_name?: string;
  ratio?: number | null;
  note?: string;
}

/** a / b rounded to 2 decimals, or null when either side is missing or b is 0. */
function ratioOf(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return Math.round((a / b) * 100) / 100;
}

/** A metric; `pass` is null without a target, false when there is a target but no value. */
export function metric(value: number | null, unit: string, target: number | null, op: Metric["op"], extra: Partial<Metric> = {}): Metric {
  let pass: boolean | null = null;
  if (target !== null && op !== null && value !== null && Number.isFinite(value))
    pass = op === "<" ? value < target : op === "<=" ? value <= target : op === "==" ? value === target : value >= target;
  else if (target !== null) pass = false;
  const m: Metric = { value, unit, target, op, pass, ...extra };
  if (m.floor !== undefined && m.ratio === undefined) m.ratio = ratioOf(value, m.floor);
  return m;
}

/** The summary block: which targets were met, and which were not. */
export function targetSummary(metrics: Record<string, Metric>) {
  const targeted = Object.values(metrics).filter((m) => m.pass !== null);
  return {
    pass: targeted.every((m) => m.pass === true),
    passed: targeted.filter((m) => m.pass).length,
    targeted: targeted.length,
    failed: Object.entries(metrics)
      .filter(([, m]) => m.pass === false)
      .map(([k]) => k),
  };
}
