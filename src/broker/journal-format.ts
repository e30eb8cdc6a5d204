// The journal's on-disk format: file names, one record per line ({"s":seq,"r":record}\n), the snapshot
// document ({"version":1,"seq":upTo,"state":...}) and its sliced serialization. Pure: no file I/O here.

export const SNAPSHOT = "snapshot.json";
export const SNAPSHOT_TMP = "snapshot.json.tmp";
export const SEGMENT_RE = /^log-(\d+)\.ndjson$/;
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

export const segmentName = (n: number): string => `log-${String(n).padStart(10, "0")}.ndjson`;

/** The segment number of a file name, or undefined for any other file. */
export function segmentNumber(name: string): number | undefined {
  const m = SEGMENT_RE.exec(name);
  return m === null ? undefined : Number(m[1]);
}

/** One record's line, or the error that keeps it out (no JSON value: a BigInt, a cycle). */
export function encodeLine(seq: number, record: unknown): string | { error: unknown } {
  let json: string | undefined;
  try {
    json = JSON.stringify(record);
  } catch (err) {
    return { error: err }; // e.g. BigInt or a cycle
  }
  if (json === undefined) return { error: new TypeError("journal: record is not a JSON value") };
  return `{"s":${seq},"r":${json}}\n`; // same bytes as JSON.stringify({s, r})
}

export function parseLine(text: string): { s: number; r: unknown } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined; // caller counts and logs it
  }
  if (typeof v !== "object" || v === null || !("r" in v) || !("s" in v)) return undefined;
  const { s, r } = v as { s: unknown; r: unknown };
  return typeof s === "number" && Number.isSafeInteger(s) && s > 0 ? { s, r } : undefined;
}

/** The snapshot document up to its state, which follows, then a closing brace. */
export const snapshotHead = (upTo: number): string => `{"version":1,"seq":${upTo},"state":`;

/** A snapshot's text checked: its seq and state, or why it is unusable. */
export function parseSnapshot(text: string): { seq: number; state: unknown } | { unusable: string; cause?: unknown } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { unusable: "invalid JSON", cause: err };
  }
  if (typeof parsed !== "object" || parsed === null) return { unusable: "not an object" };
  const o = parsed as Record<string, unknown>;
  if (o.version !== 1) return { unusable: `unsupported version ${JSON.stringify(o.version)}` };
  if (typeof o.seq !== "number" || !Number.isSafeInteger(o.seq) || o.seq < 0) return { unusable: "bad seq" };
  if (!("state" in o)) return { unusable: "missing state" };
  return { seq: o.seq, state: o.state };
}
