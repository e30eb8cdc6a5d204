import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { transition, type EndpointEvent } from "../../src/broker/lifecycle.js";
import type { EndpointState } from "../../src/protocol/index.js";

const STATES: EndpointState[] = ["active", "reconnecting", "closed"];
const EVENTS: EndpointEvent[] = [
  { type: "stream_closed", pidAlive: true },
  { type: "stream_closed", pidAlive: false },
  { type: "stream_replaced" },
  { type: "reattach", samePid: true, streamOpen: true },
  { type: "reattach", samePid: false, streamOpen: true },
  { type: "reattach", samePid: true, streamOpen: false },
  { type: "grace_expired" },
  { type: "owner_gone" },
  { type: "unregister" },
  { type: "restored", pidAlive: true },
  { type: "restored", pidAlive: false },
];

describe("endpoint lifecycle", () => {
  it("active: stream closes with the owner alive -> reconnecting with a grace timer", () => {
    assert.deepEqual(transition("active", { type: "stream_closed", pidAlive: true }), { next: "reconnecting", effects: [{ type: "start_grace" }] });
  });

  it("active: stream closes with the owner dead -> closed at once", () => {
    assert.deepEqual(transition("active", { type: "stream_closed", pidAlive: false }), {
      next: "closed",
      effects: [{ type: "close", reason: "plugin_exit" }],
    });
  });

  it("reconnecting: reattach from the same pid on an open stream -> active and drained", () => {
    assert.deepEqual(transition("reconnecting", { type: "reattach", samePid: true, streamOpen: true }), {
      next: "active",
      effects: [{ type: "cancel_grace" }, { type: "drain" }],
    });
  });

  it("reattach is refused with the MASONS error codes", () => {
    const code = (s: EndpointState, e: EndpointEvent) => transition(s, e).effects.find((x) => x.type === "reject");
    assert.equal(code("reconnecting", { type: "reattach", samePid: false, streamOpen: true })?.code, "reattach_pid_mismatch");
    assert.equal(code("reconnecting", { type: "reattach", samePid: true, streamOpen: false })?.code, "ipc_channel_missing");
    assert.equal(code("active", { type: "reattach", samePid: true, streamOpen: true }), undefined, "reattaching a rebound endpoint is idempotent");
    assert.deepEqual(transition("active", { type: "reattach", samePid: true, streamOpen: true }), { next: "active", effects: [] });
    assert.equal(code("closed", { type: "reattach", samePid: true, streamOpen: true })?.code, "endpoint_unknown");
  });

  it("an owner found gone while reconnecting closes the endpoint at once (no waiting out the grace)", () => {
    assert.deepEqual(transition("reconnecting", { type: "owner_gone" }), {
      next: "closed",
      effects: [{ type: "cancel_grace" }, { type: "close", reason: "plugin_exit" }],
    });
    assert.deepEqual(transition("active", { type: "owner_gone" }), { next: "active", effects: [] });
  });

  it("grace expiry closes only a reconnecting endpoint", () => {
    assert.deepEqual(transition("reconnecting", { type: "grace_expired" }).next, "closed");
    assert.deepEqual(transition("active", { type: "grace_expired" }), { next: "active", effects: [] });
  });

  it("a replaced stream re-pushes for active endpoints and leaves reconnecting ones waiting for reattach", () => {
    assert.deepEqual(transition("active", { type: "stream_replaced" }), { next: "active", effects: [{ type: "drain" }] });
    assert.deepEqual(transition("reconnecting", { type: "stream_replaced" }), { next: "reconnecting", effects: [] });
  });

  it("after a broker restart, endpoints of live owners wait for reattach and others close", () => {
    for (const s of ["active", "reconnecting"] as const) {
      assert.equal(transition(s, { type: "restored", pidAlive: true }).next, "reconnecting");
      assert.equal(transition(s, { type: "restored", pidAlive: false }).next, "closed");
    }
  });

  it("unregister closes from any open state and cancels the grace timer", () => {
    for (const s of ["active", "reconnecting"] as const) {
      assert.deepEqual(transition(s, { type: "unregister" }), {
        next: "closed",
        effects: [{ type: "cancel_grace" }, { type: "close", reason: "explicit_unregister" }],
      });
    }
  });

  it("every (state, event) pair is defined, closed is terminal, and only closing transitions emit close", () => {
    for (const s of STATES) {
      for (const e of EVENTS) {
        const t = transition(s, e);
        assert.ok(STATES.includes(t.next), `${s} + ${e.type}`);
        if (s === "closed") assert.equal(t.next, "closed");
        const closes = t.effects.some((x) => x.type === "close");
        assert.equal(closes, t.next === "closed" && s !== "closed", `${s} + ${JSON.stringify(e)}`);
        const rejects = t.effects.some((x) => x.type === "reject");
        if (rejects) assert.equal(t.next, s, "a rejected event never changes state");
      }
    }
  });
});
