import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { route, type RouteLookup } from "../../src/broker/router.js";
import type { EndpointState } from "../../src/protocol/index.js";

function lookup(states: Record<string, EndpointState>, correlations: Record<string, string> = {}, noMessages: string[] = []): RouteLookup {
  return { endpointState: (id) => states[id], correlationOwner: (c) => correlations[c], takesMessages: (id) => !noMessages.includes(id) };
}

describe("router", () => {
  const eps = lookup({ a: "active", r: "reconnecting", c: "closed" }, { corrA: "a", corrC: "c", corrR: "r" });

  it("pushes to an open target, active or reconnecting", () => {
    assert.deepEqual(route({ target_endpoint_id: "a" }, eps), { to: "endpoint", endpointId: "a", via: "target" });
    assert.deepEqual(route({ target_endpoint_id: "r" }, eps), { to: "endpoint", endpointId: "r", via: "target" });
  });

  it("routes an answer back to the endpoint that sent the correlated message", () => {
    assert.deepEqual(route({ correlation_id: "corrA" }, eps), { to: "endpoint", endpointId: "a", via: "correlation" });
    assert.deepEqual(route({ correlation_id: "corrR" }, eps), { to: "endpoint", endpointId: "r", via: "correlation" });
  });

  it("an explicit open target wins over a correlation", () => {
    assert.deepEqual(route({ target_endpoint_id: "r", correlation_id: "corrA" }, eps).to, "endpoint");
    assert.equal((route({ target_endpoint_id: "r", correlation_id: "corrA" }, eps) as { endpointId: string }).endpointId, "r");
  });

  it("a closed target falls back to its correlation, then to the inbox as a closed-session continuation", () => {
    assert.deepEqual(route({ target_endpoint_id: "c", correlation_id: "corrA" }, eps), { to: "endpoint", endpointId: "a", via: "correlation" });
    assert.deepEqual(route({ target_endpoint_id: "c" }, eps), { to: "inbox", reason: "closed_session_continuation", originalTargetEndpointId: "c" });
    assert.deepEqual(route({ correlation_id: "corrC" }, eps), {
      to: "inbox",
      reason: "closed_session_continuation",
      originalTargetEndpointId: "c",
      originalCorrelationId: "corrC",
    });
  });

  it("an answer to an open endpoint that takes no messages waits in the inbox instead of being pushed to it", () => {
    const quiet = lookup({ a: "active", n: "active" }, { corrN: "n" }, ["n"]);
    assert.deepEqual(route({ correlation_id: "corrN" }, quiet), { to: "inbox", reason: "unaddressed", originalCorrelationId: "corrN" });
  });

  it("no or unknown target and no known correlation is unaddressed", () => {
    assert.deepEqual(route({}, eps), { to: "inbox", reason: "unaddressed" });
    assert.deepEqual(route({ correlation_id: "nope" }, eps), { to: "inbox", reason: "unaddressed" });
    assert.deepEqual(route({ target_endpoint_id: "ghost" }, eps), { to: "inbox", reason: "unaddressed", originalTargetEndpointId: "ghost" });
  });

  it("ignores non-string routing fields", () => {
    assert.deepEqual(route({ target_endpoint_id: 42, correlation_id: { x: 1 } }, eps), { to: "inbox", reason: "unaddressed" });
  });
});
