// The run size switch and the one summary line every fault, fuzz and security suite prints at its end.

/** `npm run test:soak` sets SWITCHBOARD_SOAK=1: longer runs, more kills, more clients, larger samples. */
export const SOAK = process.env.SWITCHBOARD_SOAK === "1";

/** Counts by key, for the summary line. */
export class Tally {
  readonly counts: Record<string, number> = {};
  add(key: string | number, n = 1): void {
    this.counts[key] = (this.counts[key] ?? 0) + n;
  }
  get total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }
}

/** The one-line JSON summary a suite prints at its end. */
export function summary(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(fields)}\n`);
}
