// Reading a request: its target, path parameters, query integers, pid headers and the JSON body,
// each checked; what is wrong is the client's error (a ProtocolError), never an exception of ours.
import type { IncomingMessage } from "node:http";
import type { InferOutput } from "valibot";
import { ProtocolError, parseWith, type ErrorCode, type Schema } from "../protocol/index.js";

export const MAX_BODY_BYTES = 1024 * 1024;

/** Deeper than any real request nests. Beyond it, writing the body back out (the journal, an answer) would overflow the stack. */
export const MAX_JSON_DEPTH = 100;

/** What routes read of a request's target. */
export type RequestTarget = Pick<URL, "pathname" | "searchParams">;

export function check<S extends Schema>(schema: S, body: unknown, code: ErrorCode): InferOutput<S> {
  const parsed = parseWith(schema, body);
  if (!parsed.ok) throw new ProtocolError(code, parsed.message);
  return parsed.value;
}

export function checkPid(body: unknown): number {
  const pid = (body as { plugin_pid?: unknown } | null)?.plugin_pid;
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 0) throw new ProtocolError("plugin_pid_invalid", "plugin_pid must be a positive integer.");
  return pid;
}

export function pidHeader(req: IncomingMessage): number {
  const raw = req.headers["x-plugin-pid"];
  const pid = typeof raw === "string" && /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(pid > 0 && pid < 2 ** 31)) throw new ProtocolError("plugin_pid_invalid", "Send the x-plugin-pid header with your process id (a positive integer).");
  return pid;
}

export function optionalPidHeader(req: IncomingMessage): number | undefined {
  return req.headers["x-plugin-pid"] === undefined ? undefined : pidHeader(req);
}

export function intParam(url: RequestTarget, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw new ProtocolError("bad_request", `${name} must be an integer from ${min} to ${max}.`);
  return n;
}

/** A query integer of a WebSocket upgrade: undefined when absent, null when malformed. */
export function parseSince(raw: string | null): number | undefined | null {
  if (raw === null) return undefined;
  return /^\d{1,16}$/.test(raw) ? Number(raw) : null;
}

/** A path of plain segments: no dots, no percent-encoding, no leading "//": nothing the URL parser would read differently. */
const PLAIN_PATH = /^\/(?!\/)[A-Za-z0-9_~/-]*$/;

/** The request target as a URL; a target no URL parser takes (e.g. "//[x") is the client's error. */
export function requestUrl(req: IncomingMessage): RequestTarget {
  // The common target (a plain path, maybe a query) is split by hand: the WHATWG parser costs more
  // than the rest of a small request. Anything else (dots, odd characters) still goes through it.
  const target = req.url ?? "/";
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  if (PLAIN_PATH.test(path)) return { pathname: path, searchParams: new URLSearchParams(q < 0 ? "" : target.slice(q + 1)) };
  try {
    return new URL(req.url ?? "/", "http://127.0.0.1");
  } catch {
    throw new ProtocolError("bad_request", "The request target is not a valid URL path.");
  }
}

/** A percent-decoded path segment; broken percent-encoding (e.g. "%E0%A4%A") is the client's error. */
export function decodePathParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ProtocolError("bad_request", `The path segment "${raw.slice(0, 100)}" is not valid percent-encoding.`);
  }
}

/** The values of every Host header (a request may carry several; only one is allowed). */
export function hostHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === "host") out.push(raw[i + 1]!);
  return out;
}

/** A cheap upper bound first: a body with at most `max` brackets cannot nest deeper than `max`. */
function mayNestDeeperThan(text: string, max: number): boolean {
  let brackets = 0;
  // indexOf is native and visits only the brackets, which most bodies have few of.
  for (const open of ["{", "["]) for (let i = text.indexOf(open); i >= 0; i = text.indexOf(open, i + 1)) if (++brackets > max) return true;
  return false;
}

function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** The JSON body, at most MAX_BODY_BYTES and MAX_JSON_DEPTH deep; an empty body is `{}`. */
export function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      req.resume();
      return reject(new ProtocolError("payload_too_large", `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        reject(new ProtocolError("payload_too_large", `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("error", reject);
    req.on("end", () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString("utf8").trim();
      if (!text) return resolve({});
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        return reject(new ProtocolError("invalid_json", `The request body is not valid JSON: ${(err as Error).message}`));
      }
      if (mayNestDeeperThan(text, MAX_JSON_DEPTH) && nestedDeeperThan(value, MAX_JSON_DEPTH))
        return reject(new ProtocolError("bad_request", `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`));
      resolve(value);
    });
  });
}
