// Turns a schema failure into one sentence that says what to fix.
import type { z } from "zod";

export function describeIssues(error: z.ZodError, what = "body"): string {
  const parts = error.issues.slice(0, 3).map((issue) => {
    const where = issue.path.length ? `${what}.${issue.path.join(".")}` : what;
    return `${where}: ${issue.message}`;
  });
  const more = error.issues.length > 3 ? ` (and ${error.issues.length - 3} more)` : "";
  return parts.join("; ") + more;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export function parseWith<S extends z.ZodType>(schema: S, input: unknown, what = "body"): Parsed<z.infer<S>> {
  const r = schema.safeParse(input);
  return r.success ? { ok: true, value: r.data } : { ok: false, message: describeIssues(r.error, what) };
}
