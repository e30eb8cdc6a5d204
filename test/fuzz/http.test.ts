// Bad input over HTTP against the real broker process: every route of the server's table gets
// malformed, mutated and random requests (bodies, headers, paths, ids, query strings, methods). Every
// generated request is built so that it must be refused, or so that it changes nothing even when
// served; so afterwards the broker must hold exactly what it held before, and the observer feed must
// not have seen a single change. Seeded and bounded: SWITCHBOARD_FUZZ_SEED replays a run,
// SWITCHBOARD_SOAK=1 sends 20 times as many requests.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import * as v from "valibot";
import { BrokerServer } from "../../src/broker/server.js";
import {
  ApprovalRequest,
  ChunksRequest,
  CompleteRequest,
  DecisionRequest,
  DismissRequest,
  DispatchRequest,
  IngressRequest,
  InitializeRequest,
  ReasonRequest,
  AbortRequest,
  ReattachRequest,
  RegisterRequest,
  SendRequest,
  StreamStartRequest,
  TaskHintRequest,
  AddRuleRequest,
  CheckRequest,
  PreviewRequest,
  AcceptWorkspaceRequest,
  BuiltinSettingsRequest,
} from "../../src/protocol/index.js";
import {
  RawHttp,
  SOAK,
  Tally,
  brokerWithState,
  errorBodyProblem,
  feedChanges,
  printSummary,
  seedFor,
  stateOf,
  type Fixture,
  type RawRequest,
  type RawResponse,
  assertNothingChanged,
  failureReporter,
} from "./helpers.js";

const SUITE = "fuzz/http";
const SEED = seedFor(SUITE);
const BATCH = 16;
const REQUESTS = SOAK ? 200_000 : 10_000;
const MIB = 1024 * 1024;
/** No process has these pids and no /v1/stream is open for them. */
const NO_STREAM_PID = 2_000_000_123;
const OTHER_PID = 2_000_000_456;

// ---- the server's route table ------------------------------------------------------------------------------

interface ServerRoute {
  method: string;
  pattern: RegExp;
}

/** The routes exactly as src/broker/server.ts builds them (a server that never listens). */
function serverRoutes(): ServerRoute[] {
  const stub = {} as never;
  const server = new BrokerServer({ token: "t".repeat(43), broker: stub, approvals: stub, streams: stub, audit: stub, log: stub });
  server.http.close();
  return (server as unknown as { routes: ServerRoute[] }).routes.map((r) => ({ method: r.method, pattern: r.pattern }));
}
const ROUTES = serverRoutes();

function pathnameOf(path: string): string | undefined {
  try {
    return new URL(path, "http://127.0.0.1").pathname;
  } catch {
    return undefined;
  }
}
const routesAt = (pathname: string) => ROUTES.filter((r) => r.pattern.test(pathname));

// ---- what the fuzzer knows about each route -----------------------------------------------------------------

type IdKind = "endpoint" | "inbox" | "approval" | "stream";
/** reject: must be refused; noop: may be served but changes nothing; change: may change state (never sent). */
type Verdict = "reject" | "noop" | "change";

interface Spec {
  method: string;
  path: string;
  auth?: false;
  id?: IdKind;
  schema?: v.GenericSchema;
  /** A valid body, with the fixture's ids. */
  base?: () => Record<string, unknown>;
  /** Headers a well-formed request to this route carries. */
  headers?: () => Record<string, string>;
  /** Query parameters the route reads. */
  query?: string[];
  /** Codes this route may refuse our requests with (besides the generic ones of each kind). */
  codes: string[];
  /** What a request with a body its schema accepts (or any body, without a schema) does. */
  verdict: (c: { body: any; id?: string; real: boolean; pid?: string }) => Verdict;
}

let fx: Fixture;

const wrongPid = (pid: string | undefined) => pid !== undefined && Number(pid.trim()) !== fx.ownerPid;

const SPECS: Spec[] = [
  { method: "GET", path: "/health", auth: false, codes: [], verdict: () => "noop" },
  {
    method: "POST",
    path: "/v1/initialize",
    schema: InitializeRequest,
    base: () => ({ client_protocol_version: "1.1", client_kind: "fuzz", client_version: "0.0.0", capabilities: { push_receipt_ack_v1: true } }),
    codes: ["bad_request", "protocol_version_mismatch"],
    verdict: () => "noop",
  },
  {
    method: "POST",
    path: "/v1/endpoint/register",
    schema: RegisterRequest,
    base: () => ({ plugin_pid: NO_STREAM_PID, kind: "fuzz", session_name: "fuzz-new", workspace: { root: "/tmp", cwd: "/tmp" }, runtime_capabilities: ["x"] }),
    codes: ["bad_request", "invalid_request", "ipc_channel_missing"],
    verdict: ({ body }) => (body.plugin_pid === fx.ownerPid ? "change" : "reject"),
  },
  { method: "POST", path: "/v1/endpoint/:id/heartbeat", id: "endpoint", codes: ["endpoint_unknown"], verdict: ({ real }) => (real ? "change" : "reject") },
  {
    method: "POST",
    path: "/v1/endpoint/:id/task-hint",
    id: "endpoint",
    schema: TaskHintRequest,
    base: () => ({ plugin_pid: OTHER_PID, task_hint: "fuzzing" }),
    codes: ["plugin_pid_invalid", "task_hint_invalid", "ownership_mismatch", "endpoint_unknown"],
    verdict: ({ body, real }) => (real && body.plugin_pid === fx.ownerPid ? "change" : "reject"),
  },
  {
    method: "POST",
    path: "/v1/endpoint/:id/reattach",
    id: "endpoint",
    schema: ReattachRequest,
    base: () => ({ plugin_pid: OTHER_PID }),
    codes: ["plugin_pid_invalid", "reattach_pid_mismatch", "endpoint_unknown", "ipc_channel_missing"],
    verdict: ({ body, real }) => (real && body.plugin_pid === fx.ownerPid ? "change" : "reject"),
  },
  { method: "DELETE", path: "/v1/endpoint/:id", id: "endpoint", codes: ["plugin_pid_invalid", "ownership_mismatch"], verdict: ({ real }) => (real ? "change" : "noop") },
  { method: "GET", path: "/v1/endpoints", codes: [], verdict: () => "noop" },
  {
    method: "POST",
    path: "/v1/send",
    schema: SendRequest,
    base: () => ({ endpoint_id: fx.endpointId, to: fx.sessionName, content: "hello", contentType: "text", metadata: { k: "v" }, require_live: false }),
    codes: [
      "bad_request",
      "unknown_endpoint",
      "endpoint_not_active",
      "recipient_unknown",
      "recipient_ambiguous",
      "correlation_id_forbidden",
      "target_endpoint_id_forbidden",
      "source_endpoint_id_mismatch",
    ],
    verdict: ({ body }) => (body.endpoint_id === fx.endpointId ? "change" : "reject"),
  },
  {
    method: "POST",
    path: "/v1/messages",
    schema: IngressRequest,
    base: () => ({ from: "fuzz", to: fx.sessionName, content: "hello", contentType: "text", metadata: { k: "v" } }),
    codes: ["bad_request", "recipient_unknown", "recipient_ambiguous"],
    verdict: () => "change",
  },
  {
    method: "GET",
    path: "/v1/undispatched",
    headers: () => ({ "x-plugin-pid": String(fx.ownerPid) }),
    codes: ["plugin_pid_invalid"],
    verdict: ({ pid }) => (pid === undefined ? "reject" : "noop"),
  },
  {
    method: "DELETE",
    path: "/v1/undispatched/:id",
    id: "inbox",
    schema: DismissRequest,
    base: () => ({ reason: "fuzz" }),
    query: ["reason"],
    codes: ["bad_request", "undispatched_unknown"],
    verdict: ({ real }) => (real ? "change" : "reject"),
  },
  {
    method: "POST",
    path: "/v1/dispatch",
    schema: DispatchRequest,
    base: () => ({ undispatched_id: fx.inboxId, target_endpoint_id: "ep_zznobody" }),
    codes: ["dispatch_body_invalid", "dispatch_failed"],
    verdict: ({ body }) => (body.undispatched_id === fx.inboxId && body.target_endpoint_id === fx.endpointId ? "change" : "reject"),
  },
  {
    method: "POST",
    path: "/v1/approvals",
    schema: ApprovalRequest,
    base: () => ({ endpoint_id: fx.endpointId, action: "sh", summary: "fuzz", command: "true", cwd: "/", timeout_ms: 0, execute: "agent", idempotency_key: "k" }),
    codes: ["bad_request", "unknown_endpoint"],
    verdict: ({ body }) => (body.endpoint_id === fx.endpointId ? "change" : "reject"),
  },
  { method: "GET", path: "/v1/approvals", query: ["state"], codes: ["bad_request"], verdict: () => "noop" },
  { method: "GET", path: "/v1/approvals/history", query: ["limit"], codes: ["bad_request"], verdict: () => "noop" },
  { method: "GET", path: "/v1/approvals/:id", id: "approval", query: ["wait_ms"], codes: ["bad_request", "approval_unknown"], verdict: ({ real }) => (real ? "noop" : "reject") },
  {
    method: "POST",
    path: "/v1/approvals/:id/decision",
    id: "approval",
    schema: DecisionRequest,
    base: () => ({ decision: "reject", reason: "fuzz", decided_by: "fuzz" }),
    codes: ["bad_request", "approval_unknown", "approval_already_decided", "approval_expired", "approval_cancelled"],
    verdict: ({ body, id, real }) => (!real ? "reject" : id === fx.pendingApproval ? "change" : body.decision === "approve" ? "noop" : "reject"),
  },
  {
    method: "DELETE",
    path: "/v1/approvals/:id",
    id: "approval",
    codes: ["approval_unknown", "plugin_pid_invalid", "ownership_mismatch"],
    verdict: ({ real }) => (real ? "change" : "reject"),
  },
  { method: "GET", path: "/v1/audit", codes: [], verdict: () => "noop" },
  {
    method: "POST",
    path: "/v1/streams",
    schema: StreamStartRequest,
    base: () => ({ endpoint_id: fx.endpointId, action: "sh", command: "true", cwd: "/", approval_id: fx.pendingApproval }),
    codes: ["bad_request", "unknown_endpoint", "approval_not_approved", "approval_unknown"],
    verdict: ({ body }) => (body.endpoint_id !== fx.endpointId ? "reject" : body.approval_id === undefined || body.approval_id === fx.approvedApproval ? "change" : "reject"),
  },
  { method: "GET", path: "/v1/streams", codes: [], verdict: () => "noop" },
  {
    method: "GET",
    path: "/v1/streams/:id",
    id: "stream",
    query: ["channel", "from_seq"],
    codes: ["bad_request", "stream_unknown"],
    verdict: ({ real }) => (real ? "noop" : "reject"),
  },
  {
    method: "POST",
    path: "/v1/streams/:id/chunks",
    id: "stream",
    schema: ChunksRequest,
    base: () => ({
      chunks: [
        { channel: 1, seq: 1000, data: "fuzz" },
        { channel: 2, data: "more" },
      ],
    }),
    headers: () => ({ "x-plugin-pid": String(OTHER_PID) }),
    codes: ["bad_request", "stream_unknown", "stream_ended", "stream_not_producer", "plugin_pid_invalid"],
    verdict: ({ id, real, pid }) => (!real || id === fx.endedStream || wrongPid(pid) ? "reject" : "change"),
  },
  {
    method: "POST",
    path: "/v1/streams/:id/complete",
    id: "stream",
    schema: CompleteRequest,
    base: () => ({ exit_code: 0, signal: null, duration_ms: 5 }),
    headers: () => ({ "x-plugin-pid": String(OTHER_PID) }),
    codes: ["bad_request", "stream_unknown", "stream_not_producer", "plugin_pid_invalid"],
    verdict: ({ id, real, pid }) => (!real ? "reject" : id === fx.endedStream ? "noop" : wrongPid(pid) ? "reject" : "change"),
  },
  {
    method: "POST",
    path: "/v1/streams/:id/abort",
    id: "stream",
    schema: AbortRequest,
    base: () => ({ reason: "fuzz" }),
    headers: () => ({ "x-plugin-pid": String(OTHER_PID) }),
    codes: ["bad_request", "stream_unknown", "stream_not_producer", "plugin_pid_invalid"],
    verdict: ({ id, real, pid }) => (!real ? "reject" : id === fx.endedStream ? "noop" : wrongPid(pid) ? "reject" : "change"),
  },
  {
    method: "POST",
    path: "/v1/streams/:id/cancel",
    id: "stream",
    schema: ReasonRequest,
    base: () => ({ reason: "fuzz" }),
    codes: ["bad_request", "stream_unknown"],
    verdict: ({ id, real }) => (!real ? "reject" : id === fx.endedStream ? "noop" : "change"),
  },
  // the approval policy (§11): reads are served, changes are never sent well-formed
  { method: "GET", path: "/v1/policy", codes: [], verdict: () => "noop" },
  {
    method: "POST",
    path: "/v1/policy/rules",
    schema: AddRuleRequest,
    base: () => ({ scope: "user", rule: { id: "fuzz", decision: "ask", command: "echo fuzz" } }),
    codes: ["bad_request", "rule_invalid", "unknown_endpoint", "recipient_unknown"],
    verdict: () => "change",
  },
  { method: "DELETE", path: "/v1/policy/rules/:id", codes: ["rule_unknown"], verdict: () => "reject" },
  {
    method: "POST",
    path: "/v1/policy/check",
    schema: CheckRequest,
    base: () => ({ command: "echo fuzz" }),
    codes: ["bad_request", "recipient_unknown", "recipient_ambiguous"],
    verdict: () => "noop",
  },
  {
    method: "POST",
    path: "/v1/policy/preview",
    schema: PreviewRequest,
    base: () => ({ rule: { id: "fuzz", decision: "allow", command: "echo *" } }),
    codes: ["bad_request", "rule_invalid", "unknown_endpoint"],
    verdict: () => "noop",
  },
  { method: "GET", path: "/v1/policy/propose/:id", id: "approval", codes: ["approval_unknown", "rule_invalid"], verdict: () => "noop" },
  {
    method: "POST",
    path: "/v1/policy/workspace/accept",
    schema: AcceptWorkspaceRequest,
    base: () => ({ root: "/tmp", sha256: "0".repeat(64) }),
    codes: ["bad_request", "rule_unknown", "workspace_rules_changed"],
    verdict: () => "change",
  },
  { method: "POST", path: "/v1/policy/builtin", schema: BuiltinSettingsRequest, base: () => ({ read_only: false }), codes: ["bad_request"], verdict: () => "change" },
];

const realIds = (kind: IdKind): string[] =>
  ({ endpoint: [fx.endpointId], inbox: [fx.inboxId], approval: [fx.pendingApproval, fx.approvedApproval], stream: [fx.runningStream, fx.endedStream] })[kind];

// ---- generators ---------------------------------------------------------------------------------------------

interface Case {
  kind: string;
  req: RawRequest;
  expect: Verdict;
  /** When set, a refusal must carry one of these codes. */
  codes?: string[];
}

const printableChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const printable = (maxLength = 40, minLength = 0) => fc.string({ unit: printableChar, minLength, maxLength });
const PROTO_KEYS = ["__proto__", "constructor", "prototype"];

/** Sets an own property, even "__proto__" (plain assignment would change the prototype instead). */
function defineOwn(target: unknown, key: string, value: unknown): void {
  if (target === null || typeof target !== "object") return;
  try {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } catch {
    // e.g. an array's length: leave it
  }
}

const protoObject = fc
  .constantFrom('{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '{"prototype":{"polluted":1}}', '{"__proto__":null}', '{"__proto__":[]}')
  .map((t) => JSON.parse(t) as unknown);

const weirdString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "",
      " ",
      "NaN",
      "Infinity",
      "-Infinity",
      "-1",
      "0",
      "1e999",
      "null",
      "undefined",
      "true",
      ...PROTO_KEYS,
      "toString",
      "\u0000",
      "\ud800",
      "\u202e",
      "💥",
      "'; DROP TABLE x; --",
      "../../etc/passwd",
      "%00",
      "\r\n",
      "1.1",
      "2.0",
      "x".repeat(129),
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom(257, 4097, 10_001, 70_000, 600_000).map((n) => "y".repeat(n)) },
);
const weirdNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(-1, 0, -0, 0.5, 1.5, 17, 2 ** 31, 2 ** 31 - 1, 2 ** 48, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, 1e-320, 7 * 24 * 3600 * 1000 + 1),
);
const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(null, true, false) },
  { weight: 3, arbitrary: weirdNumber },
  { weight: 4, arbitrary: weirdString },
  { weight: 2, arbitrary: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }) },
  { weight: 2, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }) },
  { weight: 1, arbitrary: protoObject },
  { weight: 1, arbitrary: fc.constant(Array.from({ length: 10_001 }, () => ({ channel: 1, data: "" }))) },
);

type Op =
  | { t: "set"; key: string; value: unknown }
  | { t: "del"; key: string }
  | { t: "replace"; value: unknown }
  | { t: "wrap"; key: string }
  | { t: "inner"; key: string; inner: string; value: unknown };

function opArb(keys: string[]): fc.Arbitrary<Op> {
  const key = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...keys) },
    { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS) },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  );
  return fc.oneof(
    { weight: 8, arbitrary: fc.record({ t: fc.constant("set" as const), key, value: weirdValue }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant("del" as const), key }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("replace" as const), value: weirdValue }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("wrap" as const), key: fc.constantFrom("__proto__", "constructor", "data", "body") }) },
    {
      weight: 3,
      arbitrary: fc.record({ t: fc.constant("inner" as const), key, inner: fc.constantFrom("0", "root", "channel", "data", "seq", "cwd", "1", ...PROTO_KEYS), value: weirdValue }),
    },
  );
}

/** A fresh copy of a generated value: fast-check may hand out one instance twice (a constant), and ops write into values. */
const fresh = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

function applyOps(base: Record<string, unknown>, ops: Op[]): unknown {
  let body: unknown = structuredClone(base);
  for (const op of ops) {
    if (op.t === "set") defineOwn(body, op.key, fresh(op.value));
    else if (op.t === "del" && body && typeof body === "object") delete (body as Record<string, unknown>)[op.key];
    else if (op.t === "replace") body = fresh(op.value);
    else if (op.t === "wrap") {
      const outer = {};
      defineOwn(outer, op.key, body);
      body = outer;
    } else if (op.t === "inner" && body && typeof body === "object") {
      const inner = Object.hasOwn(body, op.key) ? (body as Record<string, unknown>)[op.key] : undefined;
      defineOwn(inner, op.inner, fresh(op.value));
    }
  }
  return body;
}

/** The body as the broker sees it: the text trimmed, empty meaning {}. */
function brokerView(text: string | undefined): { ok: true; value: unknown } | { ok: false } {
  const t = (text ?? "").trim();
  if (!t) return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(t) };
  } catch {
    return { ok: false };
  }
}

/** An id that names nothing and is a plain path segment. */
const unknownId = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,24}$/).map((s) => `zz${s}`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      "valueOf",
      "undefined",
      "null",
      "0",
      "-1",
      "ep_",
      "str_",
      "apr_",
      "msg_",
      "z".repeat(3000),
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((s) => s !== "." && s !== ".." && s !== "history") },
);
/** Path segments that are not plain ids: dot segments, broken or odd percent-encoding (sent as is). */
const oddSegment = fc.constantFrom(".", "..", "%2e%2e", "%2E", "%", "%E0%A4%A", "%zz", "%FF", "%C0%AF", "%00", "a%2Fb", "%2F", "%u0041", "%%", "%E2%82");

interface Target {
  id?: string;
  real: boolean;
  path: string;
  /** The id is an odd segment: the path may normalise to another route or be refused as malformed. */
  odd: boolean;
}

const targetCache = new Map<string, fc.Arbitrary<Target>>();
/** Arbitraries are built once per spec and options: building them (stringMatching above all) costs more than drawing from them. */
function targetArb(spec: Spec, opts: { odd?: boolean; real?: boolean } = {}): fc.Arbitrary<Target> {
  const key = `${spec.method} ${spec.path} ${opts.odd} ${opts.real}`;
  let arb = targetCache.get(key);
  if (!arb) targetCache.set(key, (arb = buildTargetArb(spec, opts)));
  return arb;
}
function buildTargetArb(spec: Spec, opts: { odd?: boolean; real?: boolean }): fc.Arbitrary<Target> {
  if (!spec.id) return fc.constant({ real: false, path: spec.path, odd: false });
  const real = realIds(spec.id);
  const choices: { weight: number; arbitrary: fc.Arbitrary<Target> }[] = [
    { weight: 3, arbitrary: unknownId.map((id) => ({ id, real: false, path: spec.path.replace(":id", encodeURIComponent(id)), odd: false })) },
  ];
  if (opts.real !== false)
    choices.push({ weight: 3, arbitrary: fc.constantFrom(...real).map((id) => ({ id, real: true, path: spec.path.replace(":id", encodeURIComponent(id)), odd: false })) });
  if (opts.odd) choices.push({ weight: 2, arbitrary: oddSegment.map((seg) => ({ id: seg, real: false, path: spec.path.replace(":id", seg), odd: true })) });
  return fc.oneof(...choices);
}

const authHeader = () => ({ authorization: `Bearer ${fx.token}` });

function wellFormed(spec: Spec, t: Target, body?: string | Buffer): RawRequest {
  const b = body ?? (spec.base ? JSON.stringify(spec.base()) : undefined);
  return { method: spec.method, path: t.path, headers: { ...(spec.auth === false ? {} : authHeader()), ...spec.headers?.() }, ...(b === undefined ? {} : { body: b }) };
}

/** What a request with this body text does on this route and target. */
function classify(spec: Spec, t: Target, text: string | undefined, pid?: string): Verdict {
  const view = brokerView(text);
  if (!view.ok) return "reject";
  if (spec.schema && !v.safeParse(spec.schema, view.value).success) return "reject";
  return spec.verdict({ body: view.value ?? {}, id: t.id, real: t.real, pid });
}

const authSpecs = SPECS.filter((s) => s.auth !== false);
const schemaSpecs = SPECS.filter((s) => s.schema);
/** One arbitrary per spec, built once, then one of them per draw (cheaper than chain, which builds per draw). */
const perSpec = <T>(specs: Spec[], f: (spec: Spec) => fc.Arbitrary<T>): fc.Arbitrary<T> => fc.oneof(...specs.map(f));

// 1. a missing or wrong token
const badAuth = fc.oneof(
  fc.constant<string | string[] | undefined>(undefined),
  printable(60).map((s) => `Bearer ${s}`),
  printable(60),
);
function badAuthArb(): fc.Arbitrary<string | string[] | undefined> {
  const token = fx.token;
  return fc
    .oneof(
      badAuth,
      fc.tuple(fc.nat(token.length - 1), fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")).map(([i, c]) => {
        const other = c === token[i] ? (c === "A" ? "B" : "A") : c;
        return `Bearer ${token.slice(0, i)}${other}${token.slice(i + 1)}`;
      }),
      fc.nat(token.length - 1).map((n) => `Bearer ${token.slice(0, n)}`),
      fc.stringMatching(/^[A-Za-z0-9_-]{1,4}$/).map((s) => `Bearer ${token}${s}`),
      fc.constant(`Basic ${Buffer.from(`user:${token}`).toString("base64")}`),
      printable(20).map((s) => [`Bearer x${s}`, `Bearer ${token}`]),
    )
    .filter((a) => (Array.isArray(a) ? true : a === undefined || !a.includes(token)));
}
const authCase = (): fc.Arbitrary<Case> => {
  const auth = badAuthArb();
  return perSpec(authSpecs, (spec) =>
    fc.tuple(targetArb(spec), auth).map(([t, auth]) => {
      const req = wellFormed(spec, t);
      delete req.headers.authorization;
      if (auth !== undefined) req.headers.authorization = auth;
      return { kind: "auth", req, expect: "reject" as const, codes: ["unauthorized"] };
    }),
  );
};

// 2. a Host other than 127.0.0.1:PORT / localhost:PORT, or none
function badHostArb(): fc.Arbitrary<string | string[] | undefined> {
  const port = fx.port;
  const good = [`127.0.0.1:${port}`, `localhost:${port}`];
  return fc.oneof(
    printable(40).filter((h) => !good.includes(h.trim().toLowerCase())),
    fc.constantFrom(
      "127.0.0.1",
      "localhost",
      `127.0.0.1:${port + 1}`,
      `[::1]:${port}`,
      `0.0.0.0:${port}`,
      `127.0.0.1:${port}.evil.example`,
      "evil.example",
      `127.1:${port}`,
      `2130706433:${port}`,
      `127.0.0.1:0${port}`,
      `localhost.:${port}`,
      `evil.example:${port}`,
      "",
    ),
    fc.constant<string[]>([`evil.example:${port}`, `127.0.0.1:${port}`]),
    fc.constant(undefined),
  );
}
const hostCase = (): fc.Arbitrary<Case> => {
  const hosts = badHostArb();
  return perSpec(SPECS, (spec) =>
    fc.tuple(targetArb(spec), hosts).map(([t, host]) => {
      const req = wellFormed(spec, t);
      if (host === undefined) req.noHost = true;
      else req.headers.host = host;
      return { kind: "host", req, expect: "reject" as const, codes: ["host_forbidden"] };
    }),
  );
};

// 3. any Origin header
const originCase = (): fc.Arbitrary<Case> => {
  const origins = fc.oneof(printable(40), fc.constantFrom("null", "", `http://127.0.0.1:${fx.port}`, "vscode-webview://abc", "file://", "https://evil.example"));
  return perSpec(SPECS, (spec) =>
    fc.tuple(targetArb(spec), origins).map(([t, origin]) => {
      const req = wellFormed(spec, t);
      req.headers.origin = origin;
      return { kind: "origin", req, expect: "reject" as const, codes: ["origin_forbidden"] };
    }),
  );
};

// 4. paths no route has
const segment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,12}$/),
  fc.constantFrom("v1", "v2", "endpoint", "endpoints", "streams", "approvals", "live", "stream", "events", "health", "..", "."),
);
const unknownPathCase = (): fc.Arbitrary<Case> =>
  fc
    .tuple(
      fc.oneof(
        fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => `/${s.join("/")}`),
        fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/v1/${s.join("/")}`),
        fc.constantFrom(
          "/",
          "//",
          "/v1",
          "/v1/",
          "/v2/endpoints",
          "/V1/ENDPOINTS",
          "/v1/endpoints/",
          "/health/",
          "/v1/streams/x/live",
          "/v1/stream",
          "/v1/events",
          "/v1/endpoint",
          "/v1/endpoint/x/y",
          "/v1/approvals/x/y",
          "//[x",
          "//[::1/v1/endpoints",
          "//user@evil/v1/endpoints",
          "/%2e%2e/%2e%2e/etc/passwd",
        ),
      ),
      fc.option(
        printable(20).map((q) => `?${encodeURI(q)}`),
        { nil: "" },
      ),
      fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"),
    )
    .filter(([path]) => {
      const p = pathnameOf(path);
      return p === undefined || routesAt(p).length === 0;
    })
    .map(([path, query, method]) => ({
      kind: "unknown_path",
      req: { method, path: path + query, headers: authHeader(), ...(method === "POST" ? { body: "{}" } : {}) },
      expect: "reject" as const,
      codes: pathnameOf(path) === undefined ? ["bad_request"] : ["not_found"],
    }));

// 5. a method the path does not take
const wrongMethodCase = (): fc.Arbitrary<Case> =>
  perSpec(SPECS, (spec) =>
    fc
      .tuple(targetArb(spec), fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"))
      .filter(([t, method]) => !routesAt(pathnameOf(t.path)!).some((r) => r.method === method))
      // Without a token (the open route, /health, is sent without one) the token is checked first: 401.
      .map(([t, method]) => ({
        kind: "wrong_method",
        req: { ...wellFormed(spec, t), method },
        expect: "reject" as const,
        codes: [spec.auth === false ? "unauthorized" : "method_not_allowed"],
      })),
  );

// 6. bodies that are not JSON
const invalidJsonText: fc.Arbitrary<string | Buffer> = fc
  .oneof(
    fc
      .tuple(
        fc.constantFrom('{"from":"x","content":"y","metadata":{"a":[1,2,{"b":null}]}}', '{"chunks":[{"channel":1,"data":"x"}]}', "[1,2,3]", '"text"'),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
      )
      .map(([t, f]) => t.slice(0, Math.max(1, Math.floor(t.length * f)))),
    printable(40),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.constantFrom(
      "{",
      "[",
      "{'a':1}",
      "NaN",
      "undefined",
      '{"a":}',
      "{}x",
      "1 2",
      '"unterminated',
      '{"a":1,}',
      "[1,]",
      "nul",
      "tru",
      '{"__proto__":}',
      "\u0000",
      '{"a":"\\x"}',
      "0x10",
      "+1",
      ".5",
      "01",
      "{}{}",
      "//{}",
      "/*x*/{}",
      "\u00a0{\u00a0x}",
    ),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => Buffer.from(a)),
  )
  .filter((b) => !brokerView(b.toString()).ok);
const invalidJsonCase = (): fc.Arbitrary<Case> =>
  perSpec(SPECS, (spec) =>
    fc.tuple(targetArb(spec), invalidJsonText).map(([t, body]) => ({ kind: "invalid_json", req: wellFormed(spec, t, body), expect: "reject" as const, codes: ["invalid_json"] })),
  );

// 7. bodies over 1 MiB, with a Content-Length or chunked
const oversizeCase = (): fc.Arbitrary<Case> =>
  perSpec(SPECS, (spec) =>
    fc.tuple(targetArb(spec), fc.integer({ min: 1, max: 64 * 1024 }), fc.boolean(), fc.boolean()).map(([t, extra, chunked, json]) => {
      const body = json ? JSON.stringify({ from: "x", content: "z".repeat(MIB + extra) }) : Buffer.alloc(MIB + extra, 0x7b);
      return { kind: "oversize", req: { ...wellFormed(spec, t, body), chunked }, expect: "reject" as const, codes: ["payload_too_large"] };
    }),
  );

// 8. JSON nested far deeper than any real request: the whole body, or one field of a valid body
const deepCase = (): fc.Arbitrary<Case> =>
  perSpec(SPECS, (spec) =>
    fc.tuple(targetArb(spec), fc.integer({ min: 1000, max: 100_000 }), fc.constantFrom("array", "object", "field")).map(([t, depth, shape]) => {
      const deep = shape === "object" ? '{"a":'.repeat(depth) + "1" + "}".repeat(depth) : "[".repeat(depth) + "]".repeat(depth);
      const base: Record<string, unknown> = spec.base ? spec.base() : {};
      if (base.metadata && typeof base.metadata === "object") base.metadata = { ...base.metadata, deep: "__DEEP__" };
      else base.deep = "__DEEP__";
      const body = shape === "field" ? JSON.stringify(base).replace('"__DEEP__"', deep) : deep;
      return { kind: "deep", req: wellFormed(spec, t, body), expect: "reject" as const, codes: ["bad_request", "invalid_json"] };
    }),
  );

// 9. a valid body with one to three fields broken; 10. random JSON
const mutatedCase = (): fc.Arbitrary<Case> =>
  perSpec(schemaSpecs, (spec) => {
    const base = spec.base!();
    return fc
      .tuple(targetArb(spec), fc.array(opArb(Object.keys(base)), { minLength: 1, maxLength: 3 }))
      .map(([t, ops]) => {
        const body = JSON.stringify(applyOps(base, ops)) ?? "";
        const req = wellFormed(spec, t, body);
        return { spec, t, req, verdict: classify(spec, t, body, req.headers["x-plugin-pid"] as string | undefined) };
      })
      .filter((c) => c.verdict !== "change")
      .map(({ spec, req, verdict }) => ({ kind: "mutated", req, expect: verdict, codes: spec.codes }));
  });
const randomBodyCase = (): fc.Arbitrary<Case> =>
  perSpec(SPECS, (spec) =>
    fc
      .tuple(targetArb(spec), fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.anything({ maxDepth: 3 }), protoObject))
      .map(([t, value]) => {
        let text: string | undefined;
        try {
          text = JSON.stringify(value);
        } catch {
          text = "{}";
        }
        const req = wellFormed(spec, t, text ?? "");
        return { spec, req, verdict: classify(spec, t, text, req.headers["x-plugin-pid"] as string | undefined) };
      })
      .filter((c) => c.verdict !== "change")
      .map(({ spec, req, verdict }) => ({ kind: "random_body", req, expect: verdict, codes: spec.codes })),
  );

// 11. query parameters that are not what the route takes
const STATES = ["pending", "approved", "rejected", "expired", "cancelled"];
const intOutside = (min: number, max: number) =>
  fc
    .oneof(
      fc.integer().map(String),
      fc.double().map(String),
      printable(12),
      fc.constantFrom("-1", "abc", "", " ", "1.5", "1e3", " 1", "0x10", "NaN", "Infinity", "-0", "+1", "99999999999999999999", "１", "1,2", "null", "[]"),
    )
    .filter((raw) => !(/^\d+$/.test(raw) && Number(raw) >= min && Number(raw) <= max));
const badQueryCase = (): fc.Arbitrary<Case> => {
  const q = (name: string, value: string) => `${name}=${encodeURIComponent(value)}`;
  const bySpec = (path: string) => SPECS.find((s) => s.method === "GET" && s.path === path)!;
  return fc
    .oneof(
      fc.tuple(
        fc.constant(bySpec("/v1/approvals")),
        fc
          .oneof(printable(12), fc.constantFrom("PENDING", "pending ", "", "approved,pending", "\u0000"))
          .filter((s) => !STATES.includes(s))
          .map((s) => q("state", s)),
      ),
      fc.tuple(
        fc.constant(bySpec("/v1/approvals/history")),
        intOutside(1, 500).map((s) => q("limit", s)),
      ),
      fc.tuple(
        fc.constant(bySpec("/v1/approvals/:id")),
        intOutside(0, 60_000).map((s) => q("wait_ms", s)),
      ),
      fc.tuple(
        fc.constant(bySpec("/v1/streams/:id")),
        fc.oneof(
          intOutside(1, 16).map((s) => q("channel", s)),
          intOutside(1, Number.MAX_SAFE_INTEGER).map((s) => q("from_seq", s)),
        ),
      ),
    )
    .chain(([spec, query]) =>
      targetArb(spec).map((t) => ({ kind: "bad_query", req: { ...wellFormed(spec, t), path: `${t.path}?${query}` }, expect: "reject" as const, codes: ["bad_request"] })),
    );
};

// 12. x-plugin-pid missing (where it is required), garbage or repeated
const pidValid = (raw: string) => /^\d{1,10}$/.test(raw.trim()) && Number(raw.trim()) > 0 && Number(raw.trim()) < 2 ** 31;
const badPidValue = fc.oneof(
  printable(14).filter((s) => !pidValid(s)),
  fc.constantFrom("0", "-1", "2147483648", "1.5", "1e3", "0x10", " ", "", "99999999999", "+5", "5 5", "\u00b2"),
  fc.constant(["1", "2"]),
) as fc.Arbitrary<string | string[]>;
const badPidCase = (): fc.Arbitrary<Case> => {
  const pidSpecs = SPECS.filter((s) => s.path === "/v1/undispatched" || /streams\/:id\/(chunks|complete|abort)$/.test(s.path));
  return perSpec(pidSpecs, (spec) =>
    fc.tuple(targetArb(spec), spec.id ? badPidValue : fc.option(badPidValue, { nil: undefined })).map(([t, pid]) => {
      const req = wellFormed(spec, t);
      delete req.headers["x-plugin-pid"];
      if (pid !== undefined) req.headers["x-plugin-pid"] = pid;
      return { kind: "bad_pid", req, expect: "reject" as const, codes: ["plugin_pid_invalid"] };
    }),
  );
};

// 13. ids that name nothing, or are no plain path segment at all
const unknownIdCase = (): fc.Arbitrary<Case> =>
  perSpec(
    SPECS.filter((s) => s.id),
    (spec) =>
      targetArb(spec, { odd: true, real: false }).map((t) => {
        const req = wellFormed(spec, t);
        const verdict =
          t.odd && spec.method === "DELETE" && spec.path === "/v1/endpoint/:id"
            ? "noop"
            : classify(spec, t, req.body?.toString(), req.headers["x-plugin-pid"] as string | undefined);
        return { kind: "unknown_id", req, expect: verdict, codes: t.odd ? [...spec.codes, "not_found", "bad_request", "method_not_allowed"] : spec.codes };
      }),
  );

// 14. well-formed requests the broker's state refuses, each with its one documented code
const conflictCase = (): fc.Arbitrary<Case> => {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}): RawRequest => ({
    method: "POST",
    path,
    headers: { ...authHeader(), ...headers },
    body: JSON.stringify(body),
  });
  const word = fc.stringMatching(/^[a-z0-9-]{1,16}$/);
  const chunk = fc.record({ channel: fc.integer({ min: 1, max: 16 }), data: fc.string({ maxLength: 20 }) });
  return fc.oneof(
    word.map((w) => ({
      kind: "conflict",
      req: post(`/v1/approvals/${fx.approvedApproval}/decision`, { decision: "reject", decided_by: w }),
      expect: "reject" as const,
      codes: ["approval_already_decided"],
    })),
    fc
      .array(chunk, { maxLength: 3 })
      .map((chunks) => ({ kind: "conflict", req: post(`/v1/streams/${fx.endedStream}/chunks`, { chunks }), expect: "reject" as const, codes: ["stream_ended"] })),
    fc.tuple(fc.constantFrom("chunks", "complete", "abort"), fc.array(chunk, { minLength: 1, maxLength: 3 })).map(([what, chunks]) => ({
      kind: "conflict",
      req: post(`/v1/streams/${fx.runningStream}/${what}`, what === "chunks" ? { chunks } : what === "complete" ? { exit_code: 1 } : { reason: "x" }, {
        "x-plugin-pid": String(OTHER_PID),
      }),
      expect: "reject" as const,
      codes: ["stream_not_producer"],
    })),
    word.map((w) => ({
      kind: "conflict",
      req: post("/v1/streams", { endpoint_id: fx.endpointId, action: "sh", command: w, approval_id: fx.pendingApproval }),
      expect: "reject" as const,
      codes: ["approval_not_approved"],
    })),
    fc.tuple(fc.constantFrom("correlation_id", "target_endpoint_id", "source_endpoint_id"), word).map(([key, w]) => ({
      kind: "conflict",
      req: post("/v1/send", { endpoint_id: fx.endpointId, to: fx.sessionName, content: "c", metadata: { [key]: `zz${w}` } }),
      expect: "reject" as const,
      codes: [{ correlation_id: "correlation_id_forbidden", target_endpoint_id: "target_endpoint_id_forbidden", source_endpoint_id: "source_endpoint_id_mismatch" }[key]!],
    })),
    word.map((w) => ({ kind: "conflict", req: post("/v1/messages", { from: "fuzz", to: `nobody-${w}`, content: "c" }), expect: "reject" as const, codes: ["recipient_unknown"] })),
    word.map((w) => ({
      kind: "conflict",
      req: post(`/v1/endpoint/${fx.endpointId}/task-hint`, { plugin_pid: OTHER_PID, task_hint: w }),
      expect: "reject" as const,
      codes: ["ownership_mismatch"],
    })),
    fc.constant<Case>({
      kind: "conflict",
      req: post(`/v1/endpoint/${fx.endpointId}/reattach`, { plugin_pid: OTHER_PID }),
      expect: "reject",
      codes: ["reattach_pid_mismatch", "ipc_channel_missing"],
    }),
    word.map((w) => ({
      kind: "conflict",
      req: post("/v1/dispatch", { undispatched_id: fx.inboxId, target_endpoint_id: `ep_zz${w}` }),
      expect: "reject" as const,
      codes: ["dispatch_failed"],
    })),
    word.map((w) => ({
      kind: "conflict",
      req: post("/v1/dispatch", { undispatched_id: `msg_zz${w}`, target_endpoint_id: fx.endpointId }),
      expect: "reject" as const,
      codes: ["dispatch_failed"],
    })),
    word.map((w) => ({ kind: "conflict", req: post("/v1/endpoint/register", { plugin_pid: NO_STREAM_PID, kind: w }), expect: "reject" as const, codes: ["ipc_channel_missing"] })),
    fc
      .oneof(
        fc.integer({ min: 2, max: 99 }).map((n) => `${n}.0`),
        fc.constantFrom("0.9", "0", "10.1", "2.x"),
      )
      .map((ver) => ({
        kind: "conflict",
        req: post("/v1/initialize", { client_protocol_version: ver, client_kind: "fuzz" }),
        expect: "reject" as const,
        codes: ["protocol_version_mismatch"],
      })),
    word.map((w) => ({
      kind: "conflict",
      req: post("/v1/approvals", { endpoint_id: `ep_zz${w}`, action: "sh", summary: "s" }),
      expect: "reject" as const,
      codes: ["unknown_endpoint"],
    })),
  );
};

// 15. requests that may be served and change nothing (random queries, unknown ids where that is fine)
const noopCase = (): fc.Arbitrary<Case> =>
  fc
    .oneof(
      fc.constant({ method: "GET", path: "/health", headers: {} as Record<string, string> }),
      fc
        .constantFrom("/v1/endpoints", "/v1/audit", "/v1/streams", "/v1/approvals/history?limit=1", "/v1/approvals?state=approved")
        .map((path) => ({ method: "GET", path, headers: authHeader() })),
      fc
        .tuple(fc.constantFrom(fx.pendingApproval, fx.approvedApproval), fc.constantFrom("", "?wait_ms=0", "?wait_ms=5"))
        .map(([id, q]) => ({ method: "GET", path: `/v1/approvals/${id}${q}`, headers: authHeader() })),
      fc
        .tuple(fc.constantFrom(fx.runningStream, fx.endedStream), fc.constantFrom("", "?channel=1", "?channel=2&from_seq=2", "?from_seq=999"))
        .map(([id, q]) => ({ method: "GET", path: `/v1/streams/${id}${q}`, headers: authHeader() })),
      fc.constant({ method: "GET", path: "/v1/undispatched", headers: { ...authHeader(), "x-plugin-pid": "42" } }),
      unknownId.map((id) => ({ method: "DELETE", path: `/v1/endpoint/${encodeURIComponent(id)}`, headers: authHeader() })),
    )
    .map((req) => ({ kind: "noop", req, expect: "noop" as const }));

/** Headers and query parameters no route reads, added to every case. */
type Noise = { contentType: string | undefined; extra: Record<string, string>; query: [string, string] | undefined };
function noiseArb(): fc.Arbitrary<Noise> {
  return fc.record({
    contentType: fc.option(
      fc.oneof(
        fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", "*/*"),
        printable(30),
      ),
      { nil: undefined },
    ),
    extra: fc.dictionary(fc.stringMatching(/^x-fuzz-[a-z]{1,8}$/), printable(30), { maxKeys: 3 }),
    query: fc.option(fc.tuple(fc.constantFrom("since", "epoch", "x", "__proto__", "pretty"), printable(12)), { nil: undefined }),
  });
}
function withNoise(c: Case, { contentType, extra, query }: Noise): Case {
  const req = { ...c.req, headers: { ...c.req.headers, ...extra } };
  if (contentType !== undefined) req.headers["content-type"] = contentType;
  if (query && c.kind !== "unknown_path") req.path += `${req.path.includes("?") ? "&" : "?"}${query[0]}=${encodeURIComponent(query[1])}`;
  return { ...c, req };
}

function caseArb(): fc.Arbitrary<Case> {
  const kinds = fc.oneof(
    { weight: 8, arbitrary: authCase() },
    { weight: 5, arbitrary: hostCase() },
    { weight: 3, arbitrary: originCase() },
    { weight: 6, arbitrary: unknownPathCase() },
    { weight: 5, arbitrary: wrongMethodCase() },
    { weight: 10, arbitrary: invalidJsonCase() },
    { weight: 1, arbitrary: oversizeCase() },
    { weight: 2, arbitrary: deepCase() },
    { weight: 30, arbitrary: mutatedCase() },
    { weight: 8, arbitrary: randomBodyCase() },
    { weight: 7, arbitrary: badQueryCase() },
    { weight: 5, arbitrary: badPidCase() },
    { weight: 8, arbitrary: unknownIdCase() },
    { weight: 8, arbitrary: conflictCase() },
    { weight: 3, arbitrary: noopCase() },
  );
  return fc.tuple(kinds, noiseArb()).map(([c, noise]) => withNoise(c, noise));
}

// ---- checking one answer -----------------------------------------------------------------------------------

function describeCase(c: Case, res: RawResponse): string {
  const body = c.req.body === undefined ? "" : c.req.body.toString();
  const shown = body.length > 300 ? `${body.slice(0, 300)}… (${body.length} bytes)` : body;
  const answer = "failure" in res ? res.failure : `${res.status} ${res.text.slice(0, 300)}`;
  return `[${c.kind}] ${c.req.method} ${c.req.path.slice(0, 200)}\nheaders: ${JSON.stringify(c.req.headers).slice(0, 400)}\nbody: ${JSON.stringify(shown)}\nanswer: ${answer}`;
}

function problemWith(c: Case, res: RawResponse): string | undefined {
  if ("failure" in res) return "no HTTP answer";
  if (res.status >= 500) return `a ${res.status} for a client's request`;
  if (c.expect === "reject" && !(res.status >= 400 && res.status < 500)) return `expected a refusal, got ${res.status}`;
  if (res.status >= 400 && c.req.method !== "HEAD") {
    const p = errorBodyProblem(res.status, res.text);
    if (p) return p;
    const code = (JSON.parse(res.text) as { error: string }).error;
    if (c.expect === "reject" && c.codes && !c.codes.includes(code)) return `code ${code} is not one of ${c.codes.join(", ")}`;
  }
  return undefined;
}

// ---- the suite -----------------------------------------------------------------------------------------------

describe(SUITE, () => {
  let http: RawHttp;
  const byStatus = new Tally();
  const byKind = new Tally();
  const codes = new Set<string>();
  let fiveXX = 0;
  let before_: unknown;
  const started = Date.now();

  before(async () => {
    fx = await brokerWithState("sb-fuzz-http-");
    http = new RawHttp(fx.port);
    before_ = await stateOf(fx);
  });
  after(async () => {
    http?.close();
    await fx?.stop();
  });

  it("the fuzzer knows every route of the server's table, and nothing else", () => {
    for (const r of ROUTES) {
      const covered = SPECS.some((s) => s.method === r.method && r.pattern.test(s.path.replace(":id", "x")));
      assert.ok(covered, `server route ${r.method} ${r.pattern} has no fuzz spec`);
    }
    for (const s of SPECS)
      assert.ok(
        ROUTES.some((r) => r.method === s.method && r.pattern.test(s.path.replace(":id", "x"))),
        `fuzz spec ${s.method} ${s.path} is no server route`,
      );
  });

  it(`${REQUESTS} malformed, mutated and random requests: each refused with a documented code or harmless, never a 5xx`, { timeout: SOAK ? 3_600_000 : 180_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(caseArb(), { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const answers = await Promise.all(batch.map((c) => http.send(c.req)));
        batch.forEach((c, i) => {
          const res = answers[i]!;
          byKind.add(c.kind);
          if ("failure" in res) byStatus.add("no_answer");
          else {
            byStatus.add(res.status);
            if (res.status >= 500) fiveXX++;
            if (res.status >= 400 && res.text) {
              try {
                codes.add((JSON.parse(res.text) as { error: string }).error);
              } catch {
                // reported by problemWith
              }
            }
          }
          const problem = problemWith(c, res);
          if (problem) throw new Error(`${problem}\n${describeCase(c, res)}`);
        });
      }),
      { seed: SEED, numRuns: Math.ceil(REQUESTS / BATCH), endOnFailure: true, reporter: failureReporter(SUITE) },
    );
    assert.ok(byStatus.total >= REQUESTS, `sent ${byStatus.total} requests`);
  });

  it("afterwards the broker is alive and stores exactly what it stored before", async () => {
    await new Promise((r) => setTimeout(r, 200));
    const { crashes } = await assertNothingChanged(fx, before_);
    printSummary({
      suite: SUITE,
      seed: SEED,
      requests: byStatus.total,
      by_status: byStatus.counts,
      by_kind: byKind.counts,
      codes: [...codes].sort(),
      crashes,
      "5xx": fiveXX,
      state_changes: feedChanges(fx).length,
      ms: Date.now() - started,
    });
  });
});
