// The tamper-evident chain of the approval audit log: each record holds the SHA-256 digest of the one
// before it (`prev`) and its own digest (`hash`) over prev + its canonical JSON. Pure; shared by the
// broker (which writes the log) and the CLI (which verifies it).
import { createHash } from "node:crypto";

export const GENESIS = "0".repeat(64);

/** JSON with object keys sorted at every level, so the digest does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function recordHash(prev: string, body: Record<string, unknown>): string {
  const { hash: _ignored, ...rest } = body;
  return createHash("sha256").update(prev).update(canonicalJson(rest)).digest("hex");
}

export type ChainCheck = { ok: true; count: number; head: string } | { ok: false; count: number; index: number; seq: unknown; problem: string };

/** Checks every link; names the first record that does not fit. */
export function verifyChain(records: unknown[]): ChainCheck {
  let prev = GENESIS;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as Record<string, unknown> | null;
    const fail = (problem: string): ChainCheck => ({ ok: false, count: records.length, index: i, seq: r?.seq, problem });
    if (!r || typeof r !== "object") return fail("is not a JSON object");
    if (r.seq !== i + 1) return fail(`has seq ${JSON.stringify(r.seq)}, expected ${i + 1} (a record was removed or reordered)`);
    if (r.prev !== prev) return fail("does not point at the digest of the record before it (a record before it was changed or removed)");
    if (r.hash !== recordHash(prev, r)) return fail("does not match its own digest (its content was changed)");
    prev = r.hash as string;
  }
  return { ok: true, count: records.length, head: prev };
}

/** The records of an audit file; a line that is not JSON stays in place (as a marker) so verification names it. */
export function parseAuditLines(text: string): unknown[] {
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return { unparseable: line.slice(0, 200) };
      }
    });
}
