// Shared pieces of the security suites: the route table every check walks, robust statistics for the timing
// check, and the counted checks behind each suite's summary line. Raw HTTP (so Host, Origin and the request
// line are exactly what a test says) is test/support/http.ts, re-exported here.
import assert from "node:assert/strict";
import { SOAK, summary } from "../support/soak.js";

export { portOf, type Raw, raw, rawBytes } from "../support/http.js";
export { SOAK } from "../support/soak.js";

/** A WebSocket upgrade request's headers, for rawBytes. */
export function upgradeHead(path: string, extra: string[]): string[] {
  return [`GET ${path} HTTP/1.1`, "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: c2VjdXJpdHktc3VpdGUta2V5", ...extra];
}

export interface RouteCase {
  method: string;
  path: string;
  body?: string;
  /** /health is the only route without a token. */
  auth: boolean;
}

/** Every HTTP route family of docs/protocol.md, with a well-formed request for each. */
export function routeCases(ids: { endpoint: string; approval: string; stream: string; inbox: string }): RouteCase[] {
  const j = (v: unknown) => JSON.stringify(v);
  return [
    { method: "GET", path: "/health", auth: false },
    { method: "POST", path: "/v1/initialize", body: j({ client_protocol_version: "1.1", client_kind: "sec" }), auth: true },
    { method: "POST", path: "/v1/endpoint/register", body: j({ plugin_pid: 4242, kind: "sec" }), auth: true },
    { method: "POST", path: `/v1/endpoint/${ids.endpoint}/heartbeat`, body: "{}", auth: true },
    { method: "POST", path: `/v1/endpoint/${ids.endpoint}/task-hint`, body: j({ plugin_pid: 4242, task_hint: "x" }), auth: true },
    { method: "POST", path: `/v1/endpoint/${ids.endpoint}/reattach`, body: j({ plugin_pid: 4242 }), auth: true },
    { method: "DELETE", path: `/v1/endpoint/${ids.endpoint}`, auth: true },
    { method: "GET", path: "/v1/endpoints", auth: true },
    { method: "POST", path: "/v1/send", body: j({ endpoint_id: ids.endpoint, to: "x", content: "c" }), auth: true },
    { method: "POST", path: "/v1/messages", body: j({ from: "attacker", content: "c" }), auth: true },
    { method: "GET", path: "/v1/undispatched", auth: true },
    { method: "POST", path: "/v1/dispatch", body: j({ undispatched_id: ids.inbox, target_endpoint_id: ids.endpoint }), auth: true },
    { method: "DELETE", path: `/v1/undispatched/${ids.inbox}`, auth: true },
    { method: "POST", path: "/v1/approvals", body: j({ endpoint_id: ids.endpoint, action: "sh", summary: "s", command: "rm -rf ~" }), auth: true },
    { method: "GET", path: "/v1/approvals", auth: true },
    { method: "GET", path: "/v1/approvals/history", auth: true },
    { method: "GET", path: `/v1/approvals/${ids.approval}`, auth: true },
    { method: "POST", path: `/v1/approvals/${ids.approval}/decision`, body: j({ decision: "approve", decided_by: "attacker" }), auth: true },
    { method: "DELETE", path: `/v1/approvals/${ids.approval}`, auth: true },
    { method: "GET", path: "/v1/audit", auth: true },
    { method: "POST", path: "/v1/streams", body: j({ endpoint_id: ids.endpoint, action: "sh", command: "x" }), auth: true },
    { method: "GET", path: "/v1/streams", auth: true },
    { method: "GET", path: `/v1/streams/${ids.stream}`, auth: true },
    { method: "POST", path: `/v1/streams/${ids.stream}/chunks`, body: j({ chunks: [{ channel: 1, data: "x" }] }), auth: true },
    { method: "POST", path: `/v1/streams/${ids.stream}/complete`, body: j({ exit_code: 0 }), auth: true },
    { method: "POST", path: `/v1/streams/${ids.stream}/abort`, body: "{}", auth: true },
    { method: "POST", path: `/v1/streams/${ids.stream}/cancel`, body: "{}", auth: true },
  ];
}

/** The WebSocket paths: an endpoint owner's stream, the observer feed, a stream's live follow. */
export function wsPaths(streamId: string): string[] {
  return ["/v1/stream", "/v1/events", `/v1/streams/${streamId}/live`];
}

// ---- statistics ----------------------------------------------------------------------------------

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** Mean of the middle values after dropping `cut` of each tail. */
export function trimmedMean(xs: readonly number[], cut = 0.1): number {
  const s = [...xs].sort((a, b) => a - b);
  const k = Math.floor(s.length * cut);
  const mid = s.slice(k, s.length - k);
  return mid.reduce((a, b) => a + b, 0) / mid.length;
}

/** Fraction of paired rounds in which `a` took longer than `b`, and its two-sided sign-test z score. */
export function signTest(a: readonly number[], b: readonly number[]): { fraction: number; z: number } {
  let wins = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    n++;
    if (a[i]! > b[i]!) wins++;
  }
  return { fraction: n ? wins / n : 0.5, z: n ? (wins - n / 2) / Math.sqrt(n / 4) : 0 };
}

/** Fisher–Yates, so every round measures the classes in a fresh order. */
export function shuffled<T>(xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

// ---- the summary line ----------------------------------------------------------------------------

/** Counts checks and prints `{"suite":…,"checks":N,…}` as one line on stdout when the suite ends. */
export class Summary {
  checks = 0;
  private readonly extra: Record<string, unknown> = {};
  constructor(readonly suite: string) {}

  /** One check: counted, then asserted. */
  ok(value: unknown, message: string): void {
    this.checks++;
    assert.ok(value, message);
  }

  equal<T>(actual: T, expected: T, message?: string): void {
    this.checks++;
    assert.equal(actual, expected, message);
  }

  deepEqual<T>(actual: T, expected: T, message?: string): void {
    this.checks++;
    assert.deepEqual(actual, expected, message);
  }

  /** An answer with this status and error code (and a sentence that explains it). */
  error(r: { status: number; body: any; text?: string }, status: number, code: string, what = ""): void {
    this.checks++;
    assert.equal(r.status, status, `${what}: expected ${status} ${code}, got ${r.status} ${r.text ?? JSON.stringify(r.body)}`);
    assert.equal(r.body?.error, code, `${what}: expected error ${code}, got ${r.text ?? JSON.stringify(r.body)}`);
    assert.equal(typeof r.body.message, "string", `${what}: the error has a message`);
  }

  set(key: string, value: unknown): void {
    this.extra[key] = value;
  }

  print(): void {
    summary({ suite: this.suite, checks: this.checks, soak: SOAK, ...this.extra });
  }
}
