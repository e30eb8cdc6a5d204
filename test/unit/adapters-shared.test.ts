// Pure pieces of src/adapters/shared that every adapter uses: the routed message and its reply, the
// sentences a blocked call gets, how broker failures are sorted, and waits that an abort cuts short.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClientClosedError, NotConnectedError, ProtocolMismatchError } from "../../src/client/client-errors.js";
import type { ClientMessage } from "../../src/client/client-types.js";
import { BrokerError, BrokerUnreachableError, DiscoveryError } from "../../src/client/errors.js";
import { notRunReason } from "../../src/adapters/shared/approval-wait.js";
import { errText, isUnreachable } from "../../src/adapters/shared/failures.js";
import { replyRequest, routedMessage } from "../../src/adapters/shared/routed.js";
import { bounded, sleep } from "../../src/adapters/shared/waits.js";
import type { Approval } from "../../src/protocol/index.js";

const message = (metadata: Record<string, unknown>): ClientMessage =>
  ({ event: "message_received", sourceMessageId: "m1", from: "alice", content: "hi", contentType: "text/plain", metadata, endpointId: "e1" }) as unknown as ClientMessage;

describe("adapters/shared: routed messages", () => {
  it("a message from a session is answered at its endpoint, in reply to its conversation", () => {
    const r = routedMessage(message({ source_endpoint_id: "ep-9", correlation_id: "c-7" }));
    assert.deepEqual(r, { messageId: "m1", text: "hi", from: "alice", replyTo: "ep-9", replyToEndpoint: true, inReplyTo: "c-7" });
    assert.deepEqual(replyRequest("me", r, "done"), { endpoint_id: "me", to: "ep-9", content: "done", metadata: { in_reply_to: "c-7", reply_to_message_id: "m1" } });
  });

  it("a message without a sending session is answered by name, in reply to the message itself", () => {
    const r = routedMessage(message({ source_endpoint_id: 5, correlation_id: null }));
    assert.equal(r.replyTo, "alice");
    assert.equal(r.replyToEndpoint, false);
    assert.equal(r.inReplyTo, "m1");
  });
});

describe("adapters/shared: what a call that does not run is told", () => {
  const approval = (extra: Partial<Approval>) => ({ approval_id: "a1", state: "rejected", ...extra }) as Approval;
  it("names the reviewer and the reason of a rejection", () => {
    assert.equal(notRunReason({ kind: "rejected", approval: approval({ decided_by: "bob", reason: " too risky " }) }), "Rejected in Switchboard by bob: too risky");
    assert.equal(notRunReason({ kind: "rejected", approval: approval({}) }), "Rejected in Switchboard: no reason given");
  });
  it("says why for expiry, abort and failure", () => {
    assert.match(notRunReason({ kind: "expired", approval: approval({ state: "expired" }) }), /timed out/);
    assert.match(notRunReason({ kind: "aborted" }), /stopped while waiting/);
    assert.equal(notRunReason({ kind: "failed", why: "boom" }), "Not run: Switchboard could not ask for approval (boom).");
  });
});

describe("adapters/shared: broker failures", () => {
  it("no broker right now, as opposed to a refusal", () => {
    assert.ok(isUnreachable(new BrokerUnreachableError("http://127.0.0.1:1", new Error("ECONNREFUSED"))));
    assert.ok(isUnreachable(new NotConnectedError("reconnecting")));
    assert.ok(isUnreachable(new ClientClosedError()));
    assert.ok(isUnreachable(new DiscoveryError("not_running", "No broker is running.")));
    for (const code of ["unknown_endpoint", "endpoint_not_active", "shutting_down", "unauthorized"]) assert.ok(isUnreachable(new BrokerError(code, 409, "x")), code);
    assert.ok(!isUnreachable(new BrokerError("approval_too_large", 413, "too large")));
    assert.ok(!isUnreachable(new ProtocolMismatchError("http://x", "9.0", "1.0")));
    assert.ok(!isUnreachable(new Error("other")));
  });
  it("words a broker error with its code", () => {
    assert.equal(errText(new BrokerError("approval_too_large", 413, "The request is too large.")), "The request is too large. (approval_too_large)");
    assert.equal(errText(new Error("plain")), "plain");
    assert.equal(errText("text"), "text");
  });
});

describe("adapters/shared: waits", () => {
  it("bounded hands back the value, or undefined at once for an aborted signal", async () => {
    assert.equal(await bounded(Promise.resolve(7), 60_000), 7);
    const never = new Promise<number>(() => {});
    assert.equal(await bounded(never, 60_000, AbortSignal.abort()), undefined);
    await assert.rejects(bounded(Promise.reject(new Error("no")), 60_000), /no/);
  });
  it("an abort ends a sleep and a bounded wait in progress", async () => {
    const ac = new AbortController();
    const pending = Promise.all([sleep(60_000, ac.signal), bounded(new Promise(() => {}), 60_000, ac.signal)]);
    ac.abort();
    assert.deepEqual(await pending, [undefined, undefined]);
  });
});
