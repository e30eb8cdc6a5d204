// Bad input over WebSocket against the real broker process: malformed upgrade requests to /v1/stream,
// /v1/events and /v1/streams/:id/live (written byte for byte on a raw socket), then random, mutated and
// malformed frames (JSON text, binary chunk frames, invalid UTF-8, oversized) on producer sockets, on the
// endpoint owner's socket, on an observer and on a live follower. Every frame the broker cannot take must
// get an `error` frame (or, for a frame the WebSocket layer refuses, a close with a documented code); no
// frame may change what the broker stores. Seeded and bounded like the HTTP suite.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import * as v from "valibot";
import WebSocket from "ws";
import { ClientFrame } from "../../src/protocol/index.js";
import { decodeProducerChunk, encodeProducerChunk } from "../../src/protocol/binary-frames.js";
import { SOAK, Tally, brokerWithState, errorBodyProblem, feedChanges, printSummary, seedFor, stateOf, type Fixture, assertNothingChanged, failureReporter } from "./helpers.js";

const SUITE = "fuzz/ws";
const SEED = seedFor(SUITE);
const UPGRADES = SOAK ? 10_000 : 600;
const FRAMES = SOAK ? 60_000 : 3_000;
const MIB = 1024 * 1024;
/** Pids of the fuzzing producer sockets and of upgrade cases: no process has them, none owns an endpoint. */
const LANE_PID = 2_100_000_001;
const UPGRADE_PID = 2_100_001_000;
/** Close codes the WebSocket layer uses for frames it refuses (docs/protocol.md, section 5). */
const CLOSE_INVALID_UTF8 = 1007;
const CLOSE_TOO_BIG = 1009;

let fx: Fixture;

// ---- raw upgrades ----------------------------------------------------------------------------------------

interface RawUpgrade {
  method: string;
  path: string;
  /** Header lines as pairs, so that a header can be left out or sent twice. */
  headers: [string, string][];
}
type UpgradeAnswer = { status: number; text: string } | { failure: string };

function rawUpgrade(u: RawUpgrade, timeoutMs = 5000): Promise<UpgradeAnswer> {
  return new Promise((resolve) => {
    const socket = connect(fx.port, "127.0.0.1");
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (a: UpgradeAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => finish({ failure: `no answer within ${timeoutMs} ms` }), timeoutMs);
    const parse = (ended: boolean) => {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return ended && finish({ failure: `connection closed without an answer (${buf.length} bytes)` });
      const head = buf.subarray(0, end).toString("latin1");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      if (status === 101) return finish({ status, text: "" });
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? -1);
      const body = buf.subarray(end + 4);
      if (length >= 0 && body.length >= length) return finish({ status, text: body.subarray(0, length).toString("utf8") });
      if (ended) finish({ status, text: body.toString("utf8") });
    };
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      parse(false);
    });
    socket.on("end", () => parse(true));
    socket.on("close", () => parse(true));
    socket.on("error", (err) => (buf.length ? parse(true) : finish({ failure: `socket error: ${err.message}` })));
    const lines = [`${u.method} ${u.path} HTTP/1.1`, ...u.headers.map(([k, val]) => `${k}: ${val}`), "", ""];
    socket.write(lines.join("\r\n"));
  });
}

interface UpgradeCase {
  kind: string;
  up: RawUpgrade;
  /** Expected status, or "any" for a valid upgrade (101) or a documented refusal. */
  statuses: number[];
  codes?: string[];
}

const printableChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const printable = (maxLength = 30, minLength = 0) => fc.string({ unit: printableChar, minLength, maxLength });
const key = () => randomBytes(16).toString("base64");

function handshake(path: string, extra: [string, string][] = [], opts: { auth?: boolean; host?: string | null } = {}): RawUpgrade {
  const headers: [string, string][] = [];
  if (opts.host !== null) headers.push(["Host", opts.host ?? `127.0.0.1:${fx.port}`]);
  headers.push(["Connection", "Upgrade"], ["Upgrade", "websocket"], ["Sec-WebSocket-Version", "13"], ["Sec-WebSocket-Key", key()]);
  if (opts.auth !== false) headers.push(["Authorization", `Bearer ${fx.token}`]);
  return { method: "GET", path, headers: [...headers, ...extra] };
}

/** The three WebSocket paths, each with what it needs to be accepted. */
function wsTargets(): fc.Arbitrary<{ path: string; extra: [string, string][] }> {
  return fc.oneof(
    fc.nat(999).map((n) => ({ path: "/v1/stream", extra: [["x-plugin-pid", String(UPGRADE_PID + n)]] as [string, string][] })),
    fc.constant({ path: "/v1/events", extra: [] as [string, string][] }),
    fc.constantFrom(fx.runningStream, fx.endedStream, "str_zznone").map((id) => ({ path: `/v1/streams/${id}/live`, extra: [] as [string, string][] })),
  );
}

const digits = /^\d+$/;
function upgradeCaseArb(): fc.Arbitrary<UpgradeCase> {
  const targets = wsTargets();
  const good = [`127.0.0.1:${fx.port}`, `localhost:${fx.port}`];
  const refuse =
    (kind: string, status: number, code: string) =>
    (up: RawUpgrade): UpgradeCase => ({ kind, up, statuses: [status], codes: [code] });
  return fc.oneof(
    // a path with no WebSocket (HTTP routes included)
    fc
      .oneof(
        fc.constantFrom(
          "/",
          "/health",
          "/v1/endpoints",
          "/v1/streams",
          "/v1/stream/",
          "/v1/events/x",
          "/v1/streams/x/live/",
          "/v1/streams//live",
          "/V1/STREAM",
          "/v1/stream%00",
          "/v2/stream",
        ),
        fc.stringMatching(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,20}$/),
      )
      .filter((p) => !["/v1/stream", "/v1/events"].includes(new URL(p, "http://x").pathname) && !/^\/v1\/streams\/[^/]+\/live$/.test(new URL(p, "http://x").pathname))
      .map((p) => refuse("ws_unknown_path", 404, "not_found")(handshake(p))),
    fc.constantFrom("//[x", "//[::1/v1/stream").map((p) => refuse("ws_bad_target", 400, "bad_request")(handshake(p))),
    // no or a wrong token
    fc
      .tuple(targets, fc.option(printable(50), { nil: undefined }))
      .map(([t, tok]) =>
        refuse(
          "ws_auth",
          401,
          "unauthorized",
        )(handshake(t.path, [...t.extra, ...(tok === undefined ? [] : [["Authorization", `Bearer ${tok}`] as [string, string]])], { auth: false })),
      ),
    // a foreign Host or any Origin
    fc
      .tuple(
        targets,
        fc.oneof(
          printable(30).filter((h) => !good.includes(h.trim().toLowerCase())),
          fc.constantFrom("evil.example", `127.0.0.1:${fx.port + 1}`, "localhost"),
          fc.constant(null),
        ),
      )
      .map(([t, host]) => refuse("ws_host", 403, "host_forbidden")(handshake(t.path, t.extra, { host }))),
    fc.tuple(targets, printable(30)).map(([t, origin]) => refuse("ws_origin", 403, "origin_forbidden")(handshake(t.path, [...t.extra, ["Origin", origin]]))),
    // /v1/stream without a usable x-plugin-pid
    fc
      .oneof(
        fc.constant<string[]>([]),
        fc.constantFrom("0", "-1", "abc", "2147483648", "1.5", "", "99999999999", "0x10").map((p) => [p]),
        printable(12)
          .filter((p) => !/^\d{1,10}$/.test(p.trim()))
          .map((p) => [p]),
        fc.constant(["5", "6"]),
      )
      .map((pids) =>
        refuse(
          "ws_pid",
          400,
          "plugin_pid_invalid",
        )(
          handshake(
            "/v1/stream",
            pids.map((p) => ["x-plugin-pid", p] as [string, string]),
          ),
        ),
      ),
    // query parameters that are not what the socket takes
    fc
      .oneof(printable(12), fc.constantFrom("-1", "abc", "1.5", "", "1e3", "NaN"))
      .filter((s) => !digits.test(s))
      .map((s) => refuse("ws_query", 400, "bad_request")(handshake(`/v1/events?since=${encodeURIComponent(s)}`))),
    fc
      .tuple(fc.constantFrom("from_seq", "channel"), fc.oneof(printable(12), fc.constantFrom("-1", "abc", "0", "17", "1.5", "")), fc.constantFrom(fx.runningStream, "str_zznone"))
      .filter(([name, val]) => !digits.test(val) || (name === "channel" && (Number(val) < 1 || Number(val) > 16)))
      .map(([name, val, id]) => refuse("ws_query", 400, "bad_request")(handshake(`/v1/streams/${id}/live?${name}=${encodeURIComponent(val)}`))),
    fc.constantFrom("%E0%A4%A", "%", "%zz", "%FF").map((id) => refuse("ws_bad_id", 400, "bad_request")(handshake(`/v1/streams/${id}/live`))),
    // no valid WebSocket handshake
    fc.tuple(targets, fc.constantFrom("no-key", "bad-key", "version", "no-version", "h2c", "post", "put")).map(([t, what]): UpgradeCase => {
      const up = handshake(t.path, t.extra);
      const set = (name: string, value: string | undefined) => {
        up.headers = up.headers.filter(([k]) => k !== name);
        if (value !== undefined) up.headers.push([name, value]);
      };
      if (what === "no-key") set("Sec-WebSocket-Key", undefined);
      if (what === "bad-key") set("Sec-WebSocket-Key", "short");
      if (what === "version") set("Sec-WebSocket-Version", "12");
      if (what === "no-version") set("Sec-WebSocket-Version", undefined);
      if (what === "h2c") set("Upgrade", "h2c");
      if (what === "post" || what === "put") up.method = what.toUpperCase();
      const post = what === "post" || what === "put";
      return { kind: "ws_handshake", up, statuses: [post ? 405 : 400], codes: [post ? "method_not_allowed" : "bad_request"] };
    }),
    // valid upgrades with odd but acceptable parameters: 101 (an unknown live stream then closes with 4404)
    fc
      .oneof(
        targets.map((t) => handshake(t.path, t.extra)),
        fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 15n }), printable(20)).map(([since, epoch]) => handshake(`/v1/events?since=${since}&epoch=${encodeURIComponent(epoch)}`)),
        fc
          .tuple(fc.constantFrom(fx.runningStream, fx.endedStream), fc.nat(1000), fc.integer({ min: 1, max: 16 }), fc.boolean())
          .map(([id, from, ch, bin]) => handshake(`/v1/streams/${id}/live?from_seq=${from}&channel=${ch}${bin ? "&binary=1" : ""}`)),
      )
      .map((up) => ({ kind: "ws_valid", up, statuses: [101] })),
  );
}

// ---- frames ------------------------------------------------------------------------------------------------

type Reaction = "error" | "silent" | "either" | { close: number[] };
interface Frame {
  kind: string;
  data: string | Buffer;
  binary: boolean;
}

const protoText = fc.constantFrom(
  '{"__proto__":{"event":"push_ack","push_id":"x"}}',
  '{"event":"push_ack","push_id":"p","__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"event":"stream_chunk"}}}',
  '{"event":"__proto__"}',
  '{"event":"constructor"}',
  '{"event":"toString"}',
);
const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 17, 2 ** 31, 2 ** 53, 1e308, "", "x".repeat(129), "\u0000", "\ud800", "💥", "__proto__", "NaN"),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 2 }),
);

function textFrameArb(): fc.Arbitrary<Frame> {
  const streamId = fc.constantFrom(fx.runningStream, fx.endedStream, "str_zznone", "", "x".repeat(200));
  const chunk = fc.record({
    event: fc.constant("stream_chunk"),
    stream_id: streamId,
    channel: fc.integer({ min: 1, max: 16 }),
    seq: fc.option(fc.integer({ min: 1, max: 1e6 }), { nil: undefined }),
    data: fc.string({ maxLength: 30 }),
  });
  const ack = fc.record({ event: fc.constant("push_ack"), push_id: fc.oneof(fc.string({ maxLength: 20 }), fc.constant("push_zz")) });
  const op = fc.tuple(fc.constantFrom("event", "stream_id", "channel", "seq", "data", "push_id", "__proto__", "extra"), weird, fc.boolean());
  const mutate = <T extends Record<string, unknown>>(base: fc.Arbitrary<T>) =>
    fc.tuple(base, op).map(([b, [k, val, del]]) => {
      const o: Record<string, unknown> = { ...b };
      if (del) delete o[k];
      else Object.defineProperty(o, k, { value: val, enumerable: true, writable: true, configurable: true });
      return o;
    });
  const json =
    (kind: string) =>
    (value: unknown): Frame => ({ kind, data: JSON.stringify(value) ?? "", binary: false });
  return fc.oneof(
    { weight: 3, arbitrary: mutate(chunk).map(json("chunk_mutated")) },
    { weight: 2, arbitrary: mutate(ack).map(json("ack_mutated")) },
    { weight: 2, arbitrary: chunk.map(json("chunk")) },
    { weight: 2, arbitrary: ack.map(json("ack")) },
    { weight: 3, arbitrary: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.anything({ maxDepth: 2 })).map((x) => ({ kind: "random_json", data: safeJson(x), binary: false })) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(printable(40), fc.string({ unit: "binary", maxLength: 40 }), fc.constantFrom("{", "[", "{'event':1}", '{"event":}', "NaN", "", " ", "\u0000"))
        .map((t) => ({ kind: "not_json", data: t, binary: false })),
    },
    { weight: 1, arbitrary: protoText.map((t) => ({ kind: "proto", data: t, binary: false })) },
    // Events that are HTTP routes here (or belong to other protocols): no frame of that name exists.
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            "register",
            "heartbeat",
            "reattach",
            "unregister",
            "task_hint",
            "stream_end",
            "stream_start",
            "subscribe",
            "ping",
            "message_received",
            "error",
            "PUSH_ACK",
            "push-ack",
            "stream_chunk ",
          ),
          fc.dictionary(fc.constantFrom("endpoint_id", "plugin_pid", "push_id", "stream_id", "data", "kind"), weird, { maxKeys: 3 }),
        )
        .map(([event, rest]) => ({ kind: "other_event", data: JSON.stringify({ ...rest, event }), binary: false })),
    },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 100_000 }).map((d) => ({ kind: "deep", data: "[".repeat(d) + "]".repeat(d), binary: false })) },
  );
}
function safeJson(x: unknown): string {
  try {
    return JSON.stringify(x) ?? "null";
  } catch {
    return "null";
  }
}

function binaryFrameArb(): fc.Arbitrary<Frame> {
  const id = fc.constantFrom(fx.runningStream, fx.endedStream, "str_zznone", "a");
  const valid = fc
    .tuple(id, fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 2 ** 40 }), fc.uint8Array({ maxLength: 40 }))
    .map(([s, ch, seq, data]) => encodeProducerChunk(s, ch, seq, data));
  const corrupt = fc.tuple(valid, fc.nat(20), fc.nat(255), fc.constantFrom("flip", "truncate", "type", "channel", "seq0", "idlen", "idchar")).map(([frame, i, byte, how]) => {
    const f = Buffer.from(frame);
    if (how === "flip") f[Math.min(i, f.length - 1)] = byte;
    if (how === "truncate") return f.subarray(0, Math.min(i, f.length));
    if (how === "type") f[0] = byte === 1 ? 2 : byte;
    if (how === "channel") f[1] = byte % 2 ? 0 : 17 + (byte % 200);
    if (how === "seq0") f.fill(0, 2, 8);
    if (how === "idlen") f[8] = byte % 2 ? 0 : 255;
    if (how === "idchar" && f.length > 9) f[9] = 0x20;
    return f;
  });
  return fc.oneof(
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => ({ kind: "binary_random", data: Buffer.from(a), binary: true })) },
    { weight: 3, arbitrary: corrupt.map((f) => ({ kind: "binary_corrupt", data: f, binary: true })) },
    { weight: 1, arbitrary: valid.map((f) => ({ kind: "binary_chunk", data: f, binary: true })) },
  );
}

/** Frames the WebSocket layer itself refuses: a text frame that is not UTF-8, a frame over 1 MiB. */
const invalidUtf8Arb: fc.Arbitrary<Frame> = fc
  .constantFrom([0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x7b, 0x22, 0xc0, 0xaf])
  .map((b) => ({ kind: "invalid_utf8", data: Buffer.from(b), binary: false }));
const oversizedArb: fc.Arbitrary<Frame> = fc
  .tuple(fc.integer({ min: 1, max: 4096 }), fc.boolean())
  .map(([extra, binary]) => ({ kind: "oversized", data: Buffer.alloc(MIB + extra, 0x61), binary }));

/** What the broker must do with a frame on a producer socket (owner or fuzzing pid). */
function producerReaction(f: Frame): Reaction {
  if (f.kind === "invalid_utf8") return { close: [CLOSE_INVALID_UTF8] };
  if (f.kind === "oversized") return { close: [CLOSE_TOO_BIG] };
  if (f.binary) return typeof decodeProducerChunk(f.data as Buffer) === "string" ? "error" : "either";
  let parsed: unknown;
  try {
    parsed = JSON.parse(f.data.toString());
  } catch {
    return "error";
  }
  // The ack fast path accepts exactly what the schema accepts.
  if (v.safeParse(ClientFrame, parsed).success) return "silent";
  return "error";
}

/** Observers and followers send nothing back; only frames the WebSocket layer refuses close them. */
function listenerReaction(f: Frame): Reaction {
  if (f.kind === "invalid_utf8") return { close: [CLOSE_INVALID_UTF8] };
  if (f.kind === "oversized") return { close: [CLOSE_TOO_BIG] };
  return "silent";
}

/** Could this frame change state when the owner (the running stream's producer) sends it? */
function changesState(f: Frame): boolean {
  if (f.binary) {
    const c = decodeProducerChunk(f.data as Buffer);
    return typeof c !== "string" && c.streamId === fx.runningStream;
  }
  try {
    const p = JSON.parse(f.data.toString()) as { event?: unknown; stream_id?: unknown };
    return p?.event === "stream_chunk" || (p?.event === "push_ack" && v.safeParse(ClientFrame, p).success);
  } catch {
    return false;
  }
}

interface LaneSocket {
  ws: WebSocket;
  frames: any[];
  closed?: { code: number; reason: string };
  waiters: (() => void)[];
  /** Frames received when the socket was opened (snapshot, hello, replay). */
  baseline: number;
}

function openSocket(url: string, headers: Record<string, string>): Promise<LaneSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    const s: LaneSocket = { ws, frames: [], waiters: [], baseline: 0 };
    const wake = () => {
      for (const w of s.waiters.splice(0)) w();
    };
    ws.on("message", (data, isBinary) => {
      s.frames.push(isBinary ? { binary: (data as Buffer).length } : JSON.parse(data.toString()));
      wake();
    });
    ws.on("close", (code, reason) => {
      s.closed = { code, reason: reason.toString() };
      wake();
    });
    ws.on("error", () => {});
    ws.once("open", () => resolve(s));
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
}

async function until(s: LaneSocket, cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}; frames: ${JSON.stringify(s.frames.slice(-5)).slice(0, 500)}`);
    await new Promise<void>((r) => {
      const t = setTimeout(r, left);
      s.waiters.push(() => (clearTimeout(t), r()));
    });
  }
}

// ---- the suite -----------------------------------------------------------------------------------------------

describe(SUITE, () => {
  const upgradeStatus = new Tally();
  const reactions = new Tally();
  const frameKinds = new Tally();
  const codes = new Set<string>();
  const errorMessages = new Set<string>();
  let fiveXX = 0;
  let before_: unknown;
  const started = Date.now();
  const lanes = new Map<string, LaneSocket>();
  let sentinelMessage = "";

  const wsUrl = (path: string) => `ws://127.0.0.1:${fx.port}${path}`;
  const auth = () => ({ authorization: `Bearer ${fx.token}` });

  async function openLane(name: string): Promise<LaneSocket> {
    let s: LaneSocket;
    if (name.startsWith("producer"))
      s = await openSocket(wsUrl("/v1/stream"), {
        ...auth(),
        "x-plugin-pid": String(LANE_PID + Number(name.slice(8))),
        "x-masons-ipc-capabilities": "push_receipt_ack_v1,stream_frames_v1",
      });
    else if (name === "observer") {
      s = await openSocket(wsUrl("/v1/events"), auth());
      await until(s, () => s.frames.some((f) => f.type === "snapshot"), 5000, "the observer snapshot");
    } else {
      s = await openSocket(wsUrl(`/v1/streams/${fx.runningStream}/live`), auth());
      await until(s, () => s.frames.some((f) => f.type === "chunk"), 5000, "the follower's replay");
    }
    s.baseline = s.frames.length;
    lanes.set(name, s);
    return s;
  }

  before(async () => {
    fx = await brokerWithState("sb-fuzz-ws-");
    for (const name of ["producer0", "producer1", "producer2", "observer", "follower"]) await openLane(name);
    // The owner's socket: learn the error message of the sentinel frame (not JSON) used to mark "nothing came back".
    fx.owner.ws.send("\u0001sentinel");
    sentinelMessage = (await fx.owner.next((f) => f.event === "error")).message;
    before_ = await stateOf(fx);
  });
  after(async () => {
    for (const s of lanes.values()) s.ws.terminate();
    await fx?.stop();
  });

  it(`${UPGRADES} malformed and odd upgrade requests: refused with a documented code, or accepted when valid`, { timeout: SOAK ? 3_600_000 : 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(upgradeCaseArb(), { minLength: 8, maxLength: 8 }), async (batch) => {
        const answers = await Promise.all(batch.map((c) => rawUpgrade(c.up)));
        batch.forEach((c, i) => {
          const a = answers[i]!;
          const where = `[${c.kind}] ${c.up.method} ${c.up.path}\nheaders: ${JSON.stringify(c.up.headers).slice(0, 400)}\nanswer: ${JSON.stringify(a).slice(0, 400)}`;
          if ("failure" in a) throw new Error(`no answer\n${where}`);
          upgradeStatus.add(a.status);
          if (a.status >= 500) fiveXX++;
          if (!c.statuses.includes(a.status)) throw new Error(`expected ${c.statuses.join(" or ")}, got ${a.status}\n${where}`);
          if (a.status >= 400) {
            const problem = errorBodyProblem(a.status, a.text);
            if (problem) throw new Error(`${problem}\n${where}`);
            const code = (JSON.parse(a.text) as { error: string }).error;
            codes.add(code);
            if (c.codes && !c.codes.includes(code)) throw new Error(`code ${code} is not one of ${c.codes.join(", ")}\n${where}`);
          }
        });
      }),
      { seed: SEED, numRuns: Math.ceil(UPGRADES / 8), endOnFailure: true, reporter: failureReporter(SUITE, "runs") },
    );
  });

  it(`${FRAMES} random, mutated and malformed frames: an error frame or a documented close for each bad one, never a crash`, { timeout: SOAK ? 3_600_000 : 120_000 }, async () => {
    // Oversized frames cost a megabyte each: rare.
    const frame = fc.oneof(
      { weight: 40, arbitrary: textFrameArb() },
      { weight: 20, arbitrary: binaryFrameArb() },
      { weight: 4, arbitrary: invalidUtf8Arb },
      { weight: 1, arbitrary: oversizedArb },
    );
    const laneName = fc.constantFrom("producer0", "producer1", "producer2", "owner", "observer", "follower");
    const item = fc
      .tuple(laneName, frame)
      // The owner's socket must stay open and its stream must take no output: only frames it must refuse go there.
      .filter(([lane, f]) => lane !== "owner" || (producerReaction(f) === "error" && !changesState(f)));

    const send = (ws: WebSocket, f: Frame) => new Promise<void>((resolve) => ws.send(f.data, { binary: f.binary }, () => resolve()));

    async function one(lane: string, f: Frame): Promise<void> {
      const isOwner = lane === "owner";
      const reaction = lane.startsWith("producer") || isOwner ? producerReaction(f) : listenerReaction(f);
      const label = typeof reaction === "string" ? reaction : `close_${reaction.close.join("_")}`;
      reactions.add(label);
      frameKinds.add(f.kind);
      const s = isOwner ? undefined : lanes.get(lane)!;
      const ws = isOwner ? fx.owner.ws : s!.ws;
      const frames: any[] = isOwner ? fx.owner.frames : s!.frames;
      const shown = () => `[${f.kind} on ${lane}, expected ${label}] ${f.binary ? "binary " : ""}${JSON.stringify(f.data.toString().slice(0, 200))} (${f.data.length} bytes)`;
      const wait = (cond: () => boolean, what: string) => (isOwner ? waitOwner(cond, what) : until(s!, cond, 5000, what));
      const errorsFrom = (n: number) => frames.slice(n).filter((x) => x?.event === "error");
      const start = frames.length;

      if (typeof reaction === "object") {
        await send(ws, f);
        await wait(() => s!.closed !== undefined, "the close").catch((e) => Promise.reject(new Error(`${(e as Error).message}\n${shown()}`)));
        if (!reaction.close.includes(s!.closed!.code)) throw new Error(`closed with ${s!.closed!.code} ${s!.closed!.reason}\n${shown()}`);
        await openLane(lane);
        return;
      }
      if (lane === "observer" || lane === "follower") {
        await send(ws, f);
        return;
      }
      await send(ws, f);
      if (reaction !== "error") ws.send("\u0001sentinel");
      const done = () => errorsFrom(start).some((x) => reaction === "error" || x.message === sentinelMessage);
      await wait(done, "an error frame").catch((e) => Promise.reject(new Error(`${(e as Error).message}\n${shown()}`)));
      if (reaction !== "error") {
        // Only the sentinel's error, or (for "either") one more from this frame, may have come back.
        const others = errorsFrom(start).filter((x) => x.message !== sentinelMessage);
        if (others.length > (reaction === "either" ? 1 : 0)) throw new Error(`a frame the broker accepts got ${JSON.stringify(others)}\n${shown()}`);
      }
      for (const e of errorsFrom(start)) {
        if (e.error !== "bad_frame" || typeof e.message !== "string" || !/\w+\s+\w+/.test(e.message))
          throw new Error(`error frame without code or sentence: ${JSON.stringify(e)}\n${shown()}`);
        errorMessages.add(e.message.slice(0, 40));
      }
      const unexpected = frames.slice(start).filter((x) => x?.event !== "error");
      if (unexpected.length) throw new Error(`unexpected frames: ${JSON.stringify(unexpected).slice(0, 400)}\n${shown()}`);
    }

    async function waitOwner(cond: () => boolean, what: string): Promise<void> {
      const deadline = Date.now() + 5000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} on the owner's socket`);
        await new Promise((r) => setTimeout(r, 1));
      }
    }

    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 12, maxLength: 12 }), async (batch) => {
        // Lanes run side by side; frames on one lane go one at a time, in order.
        const byLane = new Map<string, Frame[]>();
        for (const [lane, f] of batch) byLane.set(lane, [...(byLane.get(lane) ?? []), f]);
        await Promise.all(
          [...byLane].map(async ([lane, list]) => {
            for (const f of list) await one(lane, f);
          }),
        );
      }),
      { seed: SEED, numRuns: Math.ceil(FRAMES / 12), endOnFailure: true, reporter: failureReporter(SUITE, "runs") },
    );

    // Listeners answered nothing and are still open; the owner's socket is open and got nothing but error frames.
    await new Promise((r) => setTimeout(r, 200));
    for (const name of ["observer", "follower"]) {
      const s = lanes.get(name)!;
      assert.equal(s.closed, undefined, `${name} closed: ${JSON.stringify(s.closed)}`);
      assert.deepEqual(s.frames.slice(s.baseline), [], `${name} received frames`);
    }
    assert.equal(fx.owner.ws.readyState, WebSocket.OPEN, "the owner's socket is open");
    assert.deepEqual(
      fx.owner.frames.filter((f) => f.event !== "error" && f.event !== "approval_resolved"),
      [],
      "the owner received pushes",
    );
  });

  it("afterwards the broker is alive and stores exactly what it stored before", async () => {
    await new Promise((r) => setTimeout(r, 200));
    const { crashes } = await assertNothingChanged(fx, before_);
    const endpoints = await fx.b.api.endpoints();
    assert.deepEqual(
      endpoints.map((e) => e.state),
      ["active"],
      "the owner's endpoint is still active",
    );
    printSummary({
      suite: SUITE,
      seed: SEED,
      upgrades: upgradeStatus.total,
      upgrade_by_status: upgradeStatus.counts,
      frames: reactions.total,
      frame_reactions: reactions.counts,
      frame_kinds: frameKinds.counts,
      codes: [...codes].sort(),
      error_frames: errorMessages.size,
      crashes,
      "5xx": fiveXX,
      state_changes: feedChanges(fx).length,
      ms: Date.now() - started,
    });
  });
});
