// Recipient resolution (src/broker/recipients.ts) as a pure core: `to` as an endpoint id or a session
// name against a store, and the refusal of a recipient that takes no messages.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProtocolError } from "../../src/protocol/index.js";
import { requireTakesMessages, resolveRecipient } from "../../src/broker/recipients.js";
import { Store, type EndpointRecord } from "../../src/broker/store.js";

const ep = (id: string, name: string | null, state: EndpointRecord["state"] = "active", caps: EndpointRecord["runtime_capabilities"] = null): EndpointRecord => ({
  endpoint_id: id,
  owner_token: "t",
  plugin_pid: 7,
  kind: "pi",
  session_name: name,
  workspace: null,
  task_hint: null,
  agent_id: null,
  tracking_ref: null,
  runtime_capabilities: caps,
  client_kind: null,
  client_version: null,
  state,
  registered_at: "2026-01-01T00:00:00.000Z",
  last_seen_at: "2026-01-01T00:00:00.000Z",
});

function store(...eps: EndpointRecord[]): Store {
  const s = new Store();
  for (const e of eps) s.apply({ t: "ep", ep: e });
  return s;
}

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ProtocolError);
    return err.code;
  }
  return undefined;
};

describe("recipients", () => {
  it("an endpoint id names its endpoint, open or closed", () => {
    const s = store(ep("ep_a", "alpha"), ep("ep_b", "beta", "closed"));
    assert.equal(resolveRecipient(s, "ep_a"), "ep_a");
    assert.equal(resolveRecipient(s, "ep_b"), "ep_b");
  });

  it("a session name or label names the one open endpoint that has it", () => {
    const s = store(ep("ep_a", "alpha"), ep("ep_c", null));
    assert.equal(resolveRecipient(s, "alpha"), "ep_a");
    assert.equal(resolveRecipient(s, "pi-7"), "ep_c", "the label of an unnamed session");
  });

  it("open endpoints win over closed ones; the newest closed one means a continuation", () => {
    assert.equal(resolveRecipient(store(ep("ep_old", "alpha", "closed"), ep("ep_new", "alpha")), "alpha"), "ep_new");
    assert.equal(resolveRecipient(store(ep("ep_1", "alpha", "closed"), ep("ep_2", "alpha", "closed")), "alpha"), "ep_2");
  });

  it("two open sessions of one name are ambiguous; an unknown name is refused", () => {
    assert.equal(
      code(() => resolveRecipient(store(ep("ep_a", "alpha"), ep("ep_b", "alpha")), "alpha")),
      "recipient_ambiguous",
    );
    assert.equal(
      code(() => resolveRecipient(store(ep("ep_a", "alpha")), "gamma")),
      "recipient_unknown",
    );
  });

  it("an open endpoint registered with messages_v1: false takes no messages; others (and closed ones) pass", () => {
    const s = store(ep("ep_run", "run", "active", { messages_v1: false }), ep("ep_a", "alpha"), ep("ep_gone", "gone", "closed", { messages_v1: false }));
    assert.equal(
      code(() => requireTakesMessages(s, "ep_run")),
      "recipient_takes_no_messages",
    );
    assert.equal(
      code(() => requireTakesMessages(s, "ep_a")),
      undefined,
    );
    assert.equal(
      code(() => requireTakesMessages(s, "ep_gone")),
      undefined,
    );
    assert.equal(
      code(() => requireTakesMessages(s, "ep_missing")),
      undefined,
    );
  });
});
