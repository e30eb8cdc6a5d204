// The admission guard of connections without the token (src/broker/admission.ts), without sockets:
// the oldest is closed beyond the cap, the deadline closes what did not authenticate, authenticating
// takes a connection out of both, and settings that are no number fall back to the defaults.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { test } from "node:test";
import { ConnectionGuard, DEFAULT_ADMISSION } from "../../src/broker/admission.js";
import { waitFor } from "../support/wait.js";

class FakeSocket extends EventEmitter {
  destroyed = false;
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit("close");
  }
}
const sock = () => new FakeSocket() as unknown as Socket & FakeSocket;

test("beyond the cap the oldest unauthenticated connection is closed; trusted ones do not count", () => {
  const g = new ConnectionGuard({ max: 3, deadlineMs: 60_000 });
  try {
    const [a, b, c, d, e] = [sock(), sock(), sock(), sock(), sock()];
    g.admit(a);
    g.admit(b);
    g.authenticate(b); // b is the user's now
    g.admit(c);
    g.admit(d);
    assert.equal(g.counts.unauthenticated, 3);
    g.admit(e);
    assert.equal(a.destroyed, true, "the oldest waiting one made room");
    assert.equal(b.destroyed, false, "an authenticated connection is never closed for room");
    assert.deepEqual([c.destroyed, d.destroyed, e.destroyed], [false, false, false]);
    assert.deepEqual(g.counts, { unauthenticated: 3, closedUnauthenticated: 1 });
    assert.equal(g.isTrusted(b), true);
    assert.equal(g.isTrusted(c), false);
    c.destroy(); // a connection that closes by itself leaves the count
    assert.equal(g.counts.unauthenticated, 2);
  } finally {
    g.stop();
  }
});

test("a connection that does not authenticate before the deadline is closed; one that does is kept", async () => {
  let now = 0;
  const g = new ConnectionGuard({ max: 10, deadlineMs: 150 }, () => now);
  try {
    const [slow, quick, late] = [sock(), sock(), sock()];
    g.admit(slow);
    g.admit(quick);
    now = 100;
    g.admit(late);
    g.authenticate(quick);
    now = 200; // slow is past its deadline, late is not
    await waitFor(() => slow.destroyed || undefined, 5000, "the sweep to close the slow connection");
    assert.equal(quick.destroyed, false);
    assert.equal(late.destroyed, false);
    now = 300;
    await waitFor(() => late.destroyed || undefined, 5000, "the sweep to close the late one");
    assert.equal(quick.destroyed, false, "the authenticated one stays");
    assert.equal(g.counts.closedUnauthenticated, 2);
  } finally {
    g.stop();
  }
});

test("settings that are no number fall back to the defaults instead of turning the limits off", () => {
  const g = new ConnectionGuard({ max: Number.NaN, deadlineMs: Number.NaN });
  try {
    assert.deepEqual(g.limits, DEFAULT_ADMISSION, "NaN is neither no cap nor a zero deadline");
    const s = Array.from({ length: DEFAULT_ADMISSION.max + 1 }, sock);
    for (const x of s) g.admit(x);
    assert.equal(s[0]!.destroyed, true, "the default cap applies");
    assert.equal(g.counts.unauthenticated, DEFAULT_ADMISSION.max);
  } finally {
    g.stop();
  }
  for (const bad of [
    { max: 0, deadlineMs: 10 },
    { max: -5, deadlineMs: -1 },
    { max: 1.5, deadlineMs: Number.POSITIVE_INFINITY },
  ]) {
    const h = new ConnectionGuard(bad);
    assert.deepEqual(h.limits, DEFAULT_ADMISSION, JSON.stringify(bad));
    h.stop();
  }
});
