// The client's pure cores: connection phases, backoff, observer-feed reducer, duplicate filter.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_BACKOFF,
  INITIAL_STATE,
  backoffMs,
  transition,
  type ConnEffect,
  type ConnEvent,
  type ConnState,
  type MachineOptions,
  type Phase,
  type Step,
} from "../../src/client/connection-state.js";
import { FeedEnvelope, applyFeedFrame, feedResumeQuery, type FeedEvent, type FeedModel } from "../../src/client/feed-model.js";
import * as v from "valibot";
import { RecentSet } from "../../src/client/recent-set.js";
import type { EndpointView, UndispatchedItem } from "../../src/protocol/index.js";

const opts = (extra: Partial<MachineOptions> = {}): MachineOptions => ({ backoff: DEFAULT_BACKOFF, random: () => 0.5, ...extra });
const run = (state: ConnState, events: ConnEvent[], o = opts()) => {
  const effects: ConnEffect[][] = [];
  for (const e of events) {
    const t = transition(state, e, o);
    state = t.next;
    effects.push(t.effects);
  }
  return { state, effects };
};
const types = (effects: ConnEffect[]) => effects.map((e) => e.type);
const emitted = (effects: ConnEffect[]) => effects.filter((e): e is Extract<ConnEffect, { type: "emit" }> => e.type === "emit");
const connectedAt = (gen = 1): ConnState => ({ phase: "connected", gen, failures: 0, step: "none", rediscover: false, lastFailure: undefined });

describe("backoffMs", () => {
  const b = { baseMs: 100, capMs: 1000 };
  it("grows exponentially with equal jitter, within [exp/2, exp]", () => {
    for (let attempt = 0; attempt < 4; attempt++) {
      const exp = 100 * 2 ** attempt;
      assert.equal(backoffMs(attempt, { ...b, random: () => 0 }), exp / 2);
      assert.equal(backoffMs(attempt, { ...b, random: () => 1 }), exp);
      const mid = backoffMs(attempt, { ...b, random: () => 0.5 });
      assert.ok(mid > exp / 2 && mid < exp);
    }
  });
  it("is capped, also for huge attempts, and never below half the cap once capped", () => {
    for (const attempt of [4, 5, 10, 50, 1e6]) {
      assert.equal(backoffMs(attempt, { ...b, random: () => 1 }), 1000);
      assert.equal(backoffMs(attempt, { ...b, random: () => 0 }), 500);
    }
  });
  it("clamps odd inputs: negative attempt, random outside [0,1]", () => {
    assert.equal(backoffMs(-3, { ...b, random: () => 1 }), 100);
    assert.equal(backoffMs(0, { ...b, random: () => 7 }), 100);
    assert.equal(backoffMs(0, { ...b, random: () => -1 }), 50);
  });
  it("default cap keeps a retry within 500 ms (the 1 s back-to-connected target)", () => {
    for (let attempt = 0; attempt < 40; attempt++) assert.ok(backoffMs(attempt, { ...DEFAULT_BACKOFF, random: Math.random }) <= 500);
  });
});

describe("connection state machine: scenarios", () => {
  it("first connect: connecting -> open_stream -> reattach_all -> connected", () => {
    const { state, effects } = run(INITIAL_STATE, [{ type: "connect_requested" }, { type: "stream_open", gen: 1 }, { type: "reattached", gen: 1 }]);
    assert.deepEqual(effects[0], [
      { type: "emit", phase: "connecting", attempt: 1 },
      { type: "open_stream", gen: 1, rediscover: false },
    ]);
    assert.deepEqual(effects[1], [{ type: "reattach_all", gen: 1 }]);
    assert.deepEqual(effects[2], [{ type: "emit", phase: "connected", attempt: 1 }, { type: "start_heartbeats" }]);
    assert.equal(state.phase, "connected");
    assert.equal(state.step, "none");
  });

  it("a failed first connect ends in disconnected (no retry loop) and a new connect rediscovers", () => {
    let { state, effects } = run(INITIAL_STATE, [{ type: "connect_requested" }, { type: "attempt_failed", gen: 1, reason: "no broker", brokerGone: true }]);
    assert.equal(state.phase, "disconnected");
    assert.deepEqual(effects[1], [{ type: "close_stream" }, { type: "emit", phase: "disconnected", reason: "no broker", attempt: 1 }]);
    ({ state, effects } = run(state, [{ type: "connect_requested" }]));
    assert.equal(state.phase, "connecting");
    assert.equal(state.gen, 2);
    assert.deepEqual(effects[0]![1], { type: "open_stream", gen: 2, rediscover: true });
  });

  it("a failure while reattaching on the first connect also disconnects", () => {
    const { state } = run(INITIAL_STATE, [{ type: "connect_requested" }, { type: "stream_open", gen: 1 }, { type: "stream_closed", gen: 1, reason: "replaced" }]);
    assert.equal(state.phase, "disconnected");
  });

  it("stream drop while connected: reconnecting, quick first retry, new generation, reattach, connected", () => {
    const o = opts({ random: () => 1 });
    const { state, effects } = run(
      connectedAt(),
      [
        { type: "stream_closed", gen: 1, reason: "the stream closed (1000 replaced)" },
        { type: "retry_timer", gen: 1 },
        { type: "stream_open", gen: 2 },
        { type: "reattached", gen: 2 },
      ],
      o,
    );
    assert.deepEqual(effects[0], [
      { type: "stop_heartbeats" },
      { type: "emit", phase: "reconnecting", reason: "the stream closed (1000 replaced)", attempt: 1 },
      { type: "schedule_retry", gen: 1, delayMs: DEFAULT_BACKOFF.baseMs },
    ]);
    assert.deepEqual(effects[1], [{ type: "open_stream", gen: 2, rediscover: false }]);
    assert.deepEqual(effects[2], [{ type: "reattach_all", gen: 2 }]);
    assert.deepEqual(effects[3], [{ type: "emit", phase: "connected", attempt: 1 }, { type: "start_heartbeats" }]);
    assert.equal(state.phase, "connected");
    assert.equal(state.lastFailure, "the stream closed (1000 replaced)");
  });

  it("broker gone: rediscover is kept across failed attempts until connected; delays grow to the cap", () => {
    const o = opts({ random: () => 1, backoff: { baseMs: 100, capMs: 400 } });
    let state = connectedAt();
    const delays: number[] = [];
    const rediscovers: boolean[] = [];
    let t = transition(state, { type: "stream_closed", gen: 1, reason: "1006", brokerGone: true }, o);
    state = t.next;
    for (let i = 0; i < 5; i++) {
      const sched = t.effects.find((e) => e.type === "schedule_retry") as Extract<ConnEffect, { type: "schedule_retry" }>;
      delays.push(sched.delayMs);
      t = transition(state, { type: "retry_timer", gen: sched.gen }, o);
      state = t.next;
      const open = t.effects.find((e) => e.type === "open_stream") as Extract<ConnEffect, { type: "open_stream" }>;
      rediscovers.push(open.rediscover);
      // later failures do not say brokerGone; the flag must stay
      t = transition(state, { type: "attempt_failed", gen: open.gen, reason: `refused ${i}` }, o);
      state = t.next;
      assert.equal(state.phase, "reconnecting");
      assert.deepEqual(emitted(t.effects), [{ type: "emit", phase: "reconnecting", reason: `refused ${i}`, attempt: i + 2 }]);
    }
    assert.deepEqual(delays, [100, 200, 400, 400, 400]);
    assert.deepEqual(rediscovers, [true, true, true, true, true]);
    t = transition(state, { type: "retry_timer", gen: state.gen }, o);
    t = transition(t.next, { type: "stream_open", gen: t.next.gen }, o);
    t = transition(t.next, { type: "reattached", gen: t.next.gen }, o);
    assert.equal(t.next.phase, "connected");
    assert.equal(t.next.rediscover, false);
    assert.equal(t.next.failures, 0);
    assert.deepEqual(emitted(t.effects), [{ type: "emit", phase: "connected", attempt: 6 }]);
  });

  it("a fatal failure while reconnecting stops (disconnected, no retry)", () => {
    const { state, effects } = run(connectedAt(), [
      { type: "stream_closed", gen: 1, reason: "1001" },
      { type: "retry_timer", gen: 1 },
      { type: "attempt_failed", gen: 2, reason: "protocol 2.0", fatal: true },
    ]);
    assert.equal(state.phase, "disconnected");
    assert.deepEqual(types(effects[2]!), ["close_stream", "emit"]);
  });

  it("maxAttempts gives up after that many failures in a row", () => {
    const o = opts({ maxAttempts: 2 });
    const { state } = run(
      connectedAt(),
      [
        { type: "stream_closed", gen: 1, reason: "x" },
        { type: "retry_timer", gen: 1 },
        { type: "attempt_failed", gen: 2, reason: "a" },
        { type: "retry_timer", gen: 2 },
        { type: "attempt_failed", gen: 3, reason: "b" },
      ],
      o,
    );
    assert.equal(state.phase, "disconnected");
    assert.equal(state.lastFailure, "b");
  });

  it("broker_gone (a call could not reach the broker) drops the stream and reconnects with rediscovery", () => {
    const { state, effects } = run(connectedAt(), [{ type: "broker_gone", reason: "ECONNREFUSED" }]);
    assert.equal(state.phase, "reconnecting");
    assert.equal(state.rediscover, true);
    assert.deepEqual(types(effects[0]!), ["stop_heartbeats", "close_stream", "emit", "schedule_retry"]);
  });

  it("outcomes of an older attempt are ignored", () => {
    const mid = run(connectedAt(3), [
      { type: "stream_closed", gen: 3, reason: "x" },
      { type: "retry_timer", gen: 3 },
    ]).state; // gen 4, opening
    for (const e of [
      { type: "stream_open", gen: 3 },
      { type: "reattached", gen: 3 },
      { type: "attempt_failed", gen: 3, reason: "late" },
      { type: "stream_closed", gen: 3, reason: "late close of the old socket" },
      { type: "retry_timer", gen: 3 },
    ] as ConnEvent[]) {
      assert.deepEqual(transition(mid, e, opts()), { next: mid, effects: [] }, e.type);
    }
  });

  it("a second retry_timer or stream_open for the same attempt does nothing", () => {
    const s = run(connectedAt(), [
      { type: "stream_closed", gen: 1, reason: "x" },
      { type: "retry_timer", gen: 1 },
    ]).state;
    assert.deepEqual(transition(s, { type: "retry_timer", gen: 2 }, opts()).effects, []);
    const s2 = transition(s, { type: "stream_open", gen: 2 }, opts()).next;
    assert.deepEqual(transition(s2, { type: "stream_open", gen: 2 }, opts()).effects, []);
  });

  it("close from every phase: closed, timers and stream stopped, then absorbing", () => {
    const phases: ConnState[] = [
      INITIAL_STATE,
      run(INITIAL_STATE, [{ type: "connect_requested" }]).state,
      connectedAt(),
      run(connectedAt(), [{ type: "stream_closed", gen: 1, reason: "x" }]).state,
      run(INITIAL_STATE, [{ type: "connect_requested" }, { type: "attempt_failed", gen: 1, reason: "x" }]).state,
    ];
    for (const s of phases) {
      const t = transition(s, { type: "close_requested" }, opts());
      assert.equal(t.next.phase, "closed");
      assert.ok(t.next.gen > s.gen, "in-flight work of the old generation must be ignored");
      assert.deepEqual(types(t.effects), ["cancel_retry", "stop_heartbeats", "close_stream", "emit"]);
      for (const e of allEvents(t.next)) assert.deepEqual(transition(t.next, e, opts()), { next: t.next, effects: [] });
    }
  });
});

// ---- exhaustive exploration -------------------------------------------------------------------------------

function allEvents(s: ConnState): ConnEvent[] {
  const gens = [s.gen, s.gen - 1, s.gen + 1];
  const out: ConnEvent[] = [{ type: "connect_requested" }, { type: "broker_gone", reason: "gone" }, { type: "close_requested" }];
  for (const gen of gens) {
    out.push(
      { type: "stream_open", gen },
      { type: "reattached", gen },
      { type: "retry_timer", gen },
      { type: "attempt_failed", gen, reason: "fail" },
      { type: "attempt_failed", gen, reason: "gone", brokerGone: true },
      { type: "attempt_failed", gen, reason: "fatal", fatal: true },
      { type: "stream_closed", gen, reason: "closed" },
      { type: "stream_closed", gen, reason: "closed-gone", brokerGone: true },
    );
  }
  return out;
}

describe("connection state machine: every reachable state x every event", () => {
  const o = opts({ random: Math.random, maxAttempts: 4 });
  const key = (s: ConnState) => JSON.stringify({ ...s, gen: 0, lastFailure: s.lastFailure === undefined ? 0 : 1 });
  const seen = new Map<string, ConnState>();
  const frontier: ConnState[] = [INITIAL_STATE];
  let checked = 0;
  const problems: string[] = [];
  const validSteps: Record<Phase, Step[]> = {
    idle: ["none"],
    connecting: ["opening", "reattaching"],
    connected: ["none"],
    reconnecting: ["opening", "reattaching", "waiting"],
    disconnected: ["none"],
    closed: ["none"],
  };
  while (frontier.length) {
    const s = frontier.pop()!;
    if (seen.has(key(s))) continue;
    seen.set(key(s), s);
    for (const e of allEvents(s)) {
      const { next, effects } = transition(s, e, o);
      checked++;
      const where = `${s.phase}/${s.step} + ${JSON.stringify(e)}`;
      const fail = (msg: string) => problems.push(`${where}: ${msg}`);
      if (!validSteps[next.phase].includes(next.step)) fail(`invalid step ${next.step} in ${next.phase}`);
      if (next.phase === "idle" && s.phase !== "idle") fail("went back to idle");
      if (s.phase === "closed" && (next !== s || effects.length)) fail("closed is not absorbing");
      if (next.gen < s.gen) fail("generation went backwards");
      const ems = emitted(effects);
      if (next.phase !== s.phase && !ems.some((x) => x.phase === next.phase)) fail(`phase changed to ${next.phase} without an emit`);
      if (ems.some((x) => x.phase !== next.phase)) fail("emitted a phase other than the new one");
      if (ems.length > 1) fail("more than one emit");
      const opens = effects.filter((x) => x.type === "open_stream");
      if (opens.length > 1) fail("two open_stream");
      for (const x of opens) if (x.gen !== next.gen || next.step !== "opening") fail("open_stream not matching the new generation/step");
      for (const x of effects) {
        if (x.type === "schedule_retry") {
          if (next.phase !== "reconnecting" || next.step !== "waiting") fail("retry scheduled outside reconnecting/waiting");
          if (x.gen !== next.gen) fail("retry for another generation");
          if (!(x.delayMs > 0 && x.delayMs <= DEFAULT_BACKOFF.capMs)) fail(`bad delay ${x.delayMs}`);
        }
        if (x.type === "reattach_all" && (next.step !== "reattaching" || x.gen !== next.gen)) fail("reattach_all outside reattaching");
        if (x.type === "start_heartbeats" && next.phase !== "connected") fail("heartbeats started while not connected");
      }
      if (next.phase === "connected" && s.phase !== "connected" && !effects.some((x) => x.type === "start_heartbeats")) fail("connected without heartbeats");
      if (s.phase === "connected" && next.phase !== "connected" && !effects.some((x) => x.type === "stop_heartbeats")) fail("left connected without stopping heartbeats");
      if ((next.phase === "disconnected" || next.phase === "closed") && next.phase !== s.phase && !effects.some((x) => x.type === "close_stream"))
        fail("stopped without closing the stream");
      if ("gen" in e && e.type !== "retry_timer" && e.gen !== s.gen && (next !== s || effects.length)) fail("acted on another generation");
      if (e.type === "retry_timer" && e.gen !== s.gen && (next !== s || effects.length)) fail("stale retry timer acted");
      if (!seen.has(key(next))) frontier.push(next);
    }
  }

  it("explores the reachable states and finds no violated invariant", () => {
    assert.ok(seen.size >= 10, `only ${seen.size} states reached`);
    assert.ok(checked > 300);
    assert.deepEqual(problems, []);
  });

  it("reaches every phase", () => {
    const phases = new Set([...seen.values()].map((s) => s.phase));
    assert.deepEqual([...phases].sort(), ["closed", "connected", "connecting", "disconnected", "idle", "reconnecting"]);
  });
});

// ---- observer feed reducer ---------------------------------------------------------------------------------

const ep = (id: string, state: EndpointView["state"] = "active"): EndpointView => ({
  endpoint_id: id,
  kind: "test",
  label: id,
  session_name: id,
  workspace: null,
  task_hint: null,
  state,
  plugin_pid: 1,
  agent_id: null,
  client_kind: null,
  registered_at: "t",
  last_seen_at: "t",
  buffered_count: 0,
});
const item = (id: string): UndispatchedItem => ({
  id,
  source_message_id: id,
  arrived_at: "t",
  sender_address: "x",
  content: "c",
  content_type: "text",
  metadata: {},
  reason: "unaddressed",
  claim_policy: "owner_select_required",
});
type FeedFrame = FeedEvent;
const snap = (epoch: string, seq: number, eps: EndpointView[] = [], inbox: UndispatchedItem[] = [], extra: Record<string, unknown> = {}): FeedFrame =>
  v.parse(FeedEnvelope, { type: "snapshot", epoch, seq, endpoints: eps, inbox, ...extra });
const change = (epoch: string, seq: number, c: { kind: string; [k: string]: unknown }): FeedFrame => ({ type: "change", epoch, seq, change: c });
const applied = (m: FeedModel | undefined, f: FeedFrame): FeedModel => {
  const step = applyFeedFrame(m, f);
  assert.equal(step.kind, "applied", JSON.stringify(step));
  return (step as { model: FeedModel }).model;
};

describe("observer feed reducer", () => {
  it("applies a snapshot then consecutive changes", () => {
    let m = applied(undefined, snap("e1", 5, [ep("a")], [item("i1")]));
    assert.equal(feedResumeQuery(m), "?since=5&epoch=e1");
    m = applied(m, change("e1", 6, { kind: "endpoint_upserted", endpoint: ep("b") }));
    m = applied(m, change("e1", 7, { kind: "endpoint_upserted", endpoint: ep("a", "reconnecting") }));
    m = applied(m, change("e1", 8, { kind: "inbox_added", item: item("i2") }));
    m = applied(m, change("e1", 9, { kind: "inbox_removed", id: "i1", reason: "dispatched" }));
    m = applied(m, change("e1", 10, { kind: "endpoint_closed", endpoint_id: "b", reason: "explicit_unregister" }));
    assert.equal(m.seq, 10);
    assert.deepEqual([...m.endpoints.keys()], ["a"]);
    assert.equal(m.endpoints.get("a")!.state, "reconnecting");
    assert.deepEqual([...m.inbox.keys()], ["i2"]);
  });

  it("does not mutate the previous model", () => {
    const m1 = applied(undefined, snap("e1", 0, [ep("a")]));
    const m2 = applied(m1, change("e1", 1, { kind: "endpoint_closed", endpoint_id: "a", reason: "x" }));
    assert.equal(m1.endpoints.size, 1);
    assert.equal(m2.endpoints.size, 0);
  });

  it("ignores a change already applied", () => {
    const m = applied(undefined, snap("e1", 5));
    assert.deepEqual(applyFeedFrame(m, change("e1", 5, { kind: "inbox_added", item: item("x") })), { kind: "stale" });
    assert.deepEqual(applyFeedFrame(m, change("e1", 2, { kind: "inbox_added", item: item("x") })), { kind: "stale" });
  });

  it("reports a gap: skipped seq, other epoch, change before snapshot", () => {
    const m = applied(undefined, snap("e1", 5));
    assert.equal(applyFeedFrame(m, change("e1", 7, { kind: "inbox_added", item: item("x") })).kind, "gap");
    assert.equal(applyFeedFrame(m, change("e2", 6, { kind: "inbox_added", item: item("x") })).kind, "gap");
    assert.equal(applyFeedFrame(undefined, change("e1", 1, { kind: "inbox_added", item: item("x") })).kind, "gap");
    assert.equal(feedResumeQuery(undefined), "");
  });

  it("tracks pending approvals and streams; a decided approval leaves", () => {
    let m = applied(undefined, snap("e1", 0, [], [], { approvals: [{ approval_id: "a1", state: "pending" }], streams: [{ stream_id: "s1" }] }));
    assert.deepEqual([...m.approvals.keys()], ["a1"]);
    m = applied(m, change("e1", 1, { kind: "approval_upserted", approval: { approval_id: "a2", state: "pending" } }));
    m = applied(m, change("e1", 2, { kind: "approval_upserted", approval: { approval_id: "a1", state: "approved" } }));
    m = applied(m, change("e1", 3, { kind: "stream_upserted", stream: { stream_id: "s2", state: "streaming" } }));
    assert.deepEqual([...m.approvals.keys()], ["a2"]);
    assert.deepEqual([...m.streams.keys()], ["s1", "s2"]);
  });

  it("is tolerant across versions: an older snapshot without approvals/streams, an unknown change kind", () => {
    let m = applied(undefined, snap("e1", 0));
    assert.equal(m.approvals.size, 0);
    assert.equal(m.streams.size, 0);
    m = applied(m, change("e1", 1, { kind: "something_new_v9", whatever: 1 }));
    assert.equal(m.seq, 1);
  });

  it("a malformed body of a known change kind is a gap (resnapshot), not a silent divergence", () => {
    const m = applied(undefined, snap("e1", 0));
    assert.equal(applyFeedFrame(m, change("e1", 1, { kind: "endpoint_upserted", endpoint: { nope: true } })).kind, "gap");
    assert.equal(v.safeParse(FeedEnvelope, { type: "snapshot", epoch: "e", seq: 1, endpoints: [] }).success, false);
  });

  it("a new snapshot (other epoch after a broker restart) replaces everything", () => {
    const m1 = applied(undefined, snap("e1", 50, [ep("a")], [item("i")]));
    const m2 = applied(m1, snap("e2", 3, [ep("z")]));
    assert.equal(m2.epoch, "e2");
    assert.deepEqual([...m2.endpoints.keys()], ["z"]);
    assert.equal(m2.inbox.size, 0);
  });
});

describe("RecentSet", () => {
  it("remembers up to capacity and forgets the oldest first", () => {
    const s = new RecentSet(3);
    for (const k of ["a", "b", "c", "d"]) s.add(k);
    assert.equal(s.size, 3);
    assert.equal(s.has("a"), false);
    assert.equal(s.has("d"), true);
    s.add("b"); // refresh b: c is now the oldest
    s.add("e");
    assert.equal(s.has("c"), false);
    assert.equal(s.has("b"), true);
    s.delete("b");
    assert.equal(s.has("b"), false);
    assert.throws(() => new RecentSet(0), RangeError);
  });
});
