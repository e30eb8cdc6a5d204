// Turns a schema failure into one sentence that says what to fix.
import * as v from "valibot";

export type Schema = v.GenericSchema;

export function describeIssues(issues: readonly v.BaseIssue<unknown>[], what = "body"): string {
  const parts = issues.slice(0, 3).map((issue) => {
    const path = v.getDotPath(issue);
    return `${path ? `${what}.${path}` : what}: ${issue.message}`;
  });
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : "";
  return parts.join("; ") + more;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export function parseWith<S extends Schema>(schema: S, input: unknown, what = "body"): Parsed<v.InferOutput<S>> {
  const r = v.safeParse(schema, input);
  return r.success ? { ok: true, value: r.output } : { ok: false, message: describeIssues(r.issues, what) };
}
