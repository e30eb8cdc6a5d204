// The first-connect retry policy (src/client/connect-retry.ts) shared by the VS Code window (on a
// timer) and the agent adapters (on demand): the delays per failure, the reset on success, and when an
// on-demand attempt is due.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ON_DEMAND_RETRY_MS,
  TIMED_RETRY_MS,
  attemptFailed,
  attemptStarted,
  connectRetry,
  connectSucceeded,
  retryDelayMs,
  retryDueIn,
  type ConnectRetry,
} from "../../src/client/connect-retry.js";

const failTimes = (r: ConnectRetry, n: number) => {
  for (let i = 0; i < n; i++) r = attemptFailed(r);
  return r;
};

describe("first-connect retry policy", () => {
  it("on a timer: 2 s, 5 s, 10 s, then every 30 s", () => {
    const delays: number[] = [];
    let r = connectRetry(TIMED_RETRY_MS);
    for (let i = 0; i < 7; i++) {
      r = attemptFailed(attemptStarted(r, i * 1000));
      delays.push(retryDelayMs(r));
    }
    assert.deepEqual(delays, [2000, 5000, 10_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it("starts over from the first delay after a success", () => {
    const r = connectSucceeded(failTimes(connectRetry(TIMED_RETRY_MS), 5));
    assert.equal(r.failures, 0);
    assert.equal(retryDelayMs(attemptFailed(r)), 2000);
  });

  it("before any failure the first delay applies", () => {
    assert.equal(retryDelayMs(connectRetry(TIMED_RETRY_MS)), 2000);
  });

  it("on demand: due at once before any attempt, then 5 s after the last attempt began", () => {
    let r = connectRetry(ON_DEMAND_RETRY_MS);
    assert.equal(retryDueIn(r, 0), 0);
    r = attemptStarted(r, 10_000);
    assert.equal(retryDueIn(r, 10_000), 5000);
    r = attemptFailed(r);
    assert.equal(retryDueIn(r, 14_999), 1);
    assert.equal(retryDueIn(r, 15_000), 0);
    assert.equal(retryDueIn(r, 60_000), 0);
    // The wait does not grow with failures on a one-step schedule.
    assert.equal(retryDueIn(failTimes(r, 10), 12_000), 3000);
  });

  it("does not change the state it is given", () => {
    const r = connectRetry(TIMED_RETRY_MS);
    attemptFailed(attemptStarted(r, 5));
    assert.deepEqual(r, { schedule: TIMED_RETRY_MS, failures: 0, lastAttemptAt: undefined });
  });

  it("refuses a schedule it cannot follow", () => {
    assert.throws(() => connectRetry([]), RangeError);
    assert.throws(() => connectRetry([1000, -1]), RangeError);
    assert.throws(() => connectRetry([Number.NaN]), RangeError);
  });
});
