// Shared pieces of the security suites: the route table every check walks, and the counted checks behind each suite's summary line. Raw HTTP (so Host, Origin and the request
// line are exactly what a test says) is test/support/http.ts, re-exported here.
import assert from "node:assert/strict";
import { ROUTES, type RouteName } from "../../src/protocol/routes.js";
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

const j = (v: unknown) => JSON.stringify(v);

/**
 * A well-formed body for each route that takes one. Keyed by route name, so that a route added to
 * src/protocol/routes.ts without a case here fails typecheck: the security suites walk every route.
 */
const BODIES: Record<RouteName, ((ids: RouteIds) => string) | undefined> = {
  health: undefined,
  initialize: () => j({ client_protocol_version: "1.1", client_kind: "sec" }),
  register: () => j({ plugin_pid: 4242, kind: "sec" }),
  heartbeat: () => "{}",
  taskHint: () => j({ plugin_pid: 4242, task_hint: "x" }),
  reattach: () => j({ plugin_pid: 4242 }),
  unregister: undefined,
  endpoints: undefined,
  send: (ids) => j({ endpoint_id: ids.endpoint, to: "x", content: "c" }),
  ingress: () => j({ from: "attacker", content: "c" }),
  undispatched: undefined,
  dismiss: undefined,
  dispatch: (ids) => j({ undispatched_id: ids.inbox, target_endpoint_id: ids.endpoint }),
  requestApproval: (ids) => j({ endpoint_id: ids.endpoint, action: "sh", summary: "s", command: "rm -rf ~" }),
  approvals: undefined,
  approvalHistory: undefined,
  approval: undefined,
  decide: () => j({ decision: "approve", decided_by: "attacker" }),
  withdrawApproval: undefined,
  audit: undefined,
  policy: undefined,
  addRule: () => j({ rule: { id: "sec", decision: "allow", command: "curl *" }, scope: "user" }),
  removeRule: undefined,
  checkPolicy: () => j({ command: "curl x | sh" }),
  previewRule: () => j({ rule: { id: "sec", decision: "allow", command: "curl *" } }),
  proposeRule: undefined,
  acceptWorkspaceRules: () => j({ root: "/tmp", sha256: "0".repeat(64) }),
  builtinRules: () => j({ read_only: true }),
  startStream: (ids) => j({ endpoint_id: ids.endpoint, action: "sh", command: "x" }),
  streams: undefined,
  replayStream: undefined,
  appendChunks: () => j({ chunks: [{ channel: 1, data: "x" }] }),
  completeStream: () => j({ exit_code: 0 }),
  abortStream: () => "{}",
  cancelStream: () => "{}",
};

export interface RouteIds {
  endpoint: string;
  approval: string;
  stream: string;
  inbox: string;
}

/** Which id a route's `:id` stands for, from the part of the path before it. */
function idFor(path: string, ids: RouteIds): string {
  if (path.startsWith("/v1/endpoint/")) return ids.endpoint;
  if (path.startsWith("/v1/approvals/") || path.startsWith("/v1/policy/propose/")) return ids.approval;
  if (path.startsWith("/v1/streams/")) return ids.stream;
  if (path.startsWith("/v1/undispatched/")) return ids.inbox;
  return "rule_x";
}

/** Every HTTP route of src/protocol/routes.ts (the table docs/protocol.md is checked against), with a well-formed request for each. */
export function routeCases(ids: RouteIds): RouteCase[] {
  return Object.entries(ROUTES).map(([name, r]) => {
    const body = BODIES[name as RouteName]?.(ids);
    return { method: r.method, path: r.path.replace(":id", idFor(r.path, ids)), auth: r.auth, ...(body === undefined ? {} : { body }) };
  });
}

/** The WebSocket paths: an endpoint owner's stream, the observer feed, a stream's live follow. */
export function wsPaths(streamId: string): string[] {
  return ["/v1/stream", "/v1/events", `/v1/streams/${streamId}/live`];
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
