// Every rejection the broker promises, against the real daemon process. None of them may hurt it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTempBroker, type TempBroker } from "../support/broker.js";
import { type Raw, raw } from "../support/http.js";
import { openStream, tryUpgrade } from "../support/ws.js";

describe("broker rejections", () => {
  let b: TempBroker;
  before(async () => {
    b = await startTempBroker();
  });
  after(() => b.cleanup());

  const expectError = (r: Raw, status: number, code: string) => {
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.equal(r.body.error, code);
    assert.equal(typeof r.body.message, "string");
    assert.ok(r.body.message.length > 10, "the error explains itself in a sentence");
  };

  it("/health needs no token but answers the MASONS shape", async () => {
    const r = await raw(b.record, "GET", "/health", { auth: false });
    assert.equal(r.status, 200);
    assert.equal(r.body.ok, true);
    assert.equal(r.body.protocol_version, "1.1");
    assert.equal(r.body.capabilities.push_receipt_ack_v1, true);
  });

  it("a foreign Host gets 403 (DNS rebinding), even on /health", async () => {
    expectError(await raw(b.record, "GET", "/health", { headers: { host: "evil.example:80" } }), 403, "host_forbidden");
    expectError(await raw(b.record, "GET", "/v1/endpoints", { headers: { host: `attacker.test:${new URL(b.record.ipcUrl).port}` } }), 403, "host_forbidden");
    assert.equal((await raw(b.record, "GET", "/health", { headers: { host: `localhost:${new URL(b.record.ipcUrl).port}` } })).status, 200);
  });

  it("a browser Origin gets 403, with or without a token", async () => {
    expectError(await raw(b.record, "GET", "/v1/endpoints", { headers: { origin: "https://evil.example" } }), 403, "origin_forbidden");
    expectError(await raw(b.record, "POST", "/v1/messages", { headers: { origin: "null" }, body: '{"from":"x","content":"y"}' }), 403, "origin_forbidden");
  });

  it("a missing or wrong token gets 401", async () => {
    expectError(await raw(b.record, "GET", "/v1/endpoints", { auth: false }), 401, "unauthorized");
    expectError(await raw(b.record, "GET", "/v1/endpoints", { auth: false, headers: { authorization: "Bearer nope" } }), 401, "unauthorized");
    expectError(await raw(b.record, "GET", "/v1/endpoints", { auth: false, headers: { authorization: `Bearer ${b.record.bearerToken}x` } }), 401, "unauthorized");
    // The bare token without "Bearer " is accepted, as in MASONS.
    assert.equal((await raw(b.record, "GET", "/v1/endpoints", { auth: false, headers: { authorization: b.record.bearerToken } })).status, 200);
  });

  it("bodies over 1 MiB get 413", async () => {
    const big = JSON.stringify({ from: "x", content: "a".repeat(1024 * 1024 + 10) });
    expectError(await raw(b.record, "POST", "/v1/messages", { body: big, headers: { "content-type": "application/json" } }), 413, "payload_too_large");
    const chunked = await raw(b.record, "POST", "/v1/messages", { body: Buffer.alloc(1024 * 1024 + 1, 0x20), chunked: true });
    expectError(chunked, 413, "payload_too_large");
  });

  it("malformed JSON and schema violations get 400 with a stable code and a sentence naming the field", async () => {
    expectError(await raw(b.record, "POST", "/v1/messages", { body: "{not json" }), 400, "invalid_json");
    const r = await raw(b.record, "POST", "/v1/messages", { body: JSON.stringify({ from: "", content: 5 }) });
    expectError(r, 400, "bad_request");
    assert.match(r.body.message, /body\.(from|content)/);
    expectError(await raw(b.record, "POST", "/v1/messages", { body: "[1,2]" }), 400, "bad_request");
    expectError(await raw(b.record, "POST", "/v1/endpoint/register", { body: JSON.stringify({ plugin_pid: -1, kind: "x" }) }), 400, "bad_request");
    expectError(await raw(b.record, "POST", "/v1/dispatch", { body: JSON.stringify({ undispatched_id: 3 }) }), 400, "dispatch_body_invalid");
    expectError(await raw(b.record, "POST", "/v1/endpoint/x/reattach", { body: "{}" }), 400, "plugin_pid_invalid");
    expectError(await raw(b.record, "GET", "/v1/undispatched"), 400, "plugin_pid_invalid");
    expectError(await raw(b.record, "GET", "/v1/undispatched", { headers: { "x-plugin-pid": "abc" } }), 400, "plugin_pid_invalid");
  });

  it("protocol major mismatch gets 400 protocol_version_mismatch", async () => {
    expectError(await raw(b.record, "POST", "/v1/initialize", { body: JSON.stringify({ client_protocol_version: "2.0", client_kind: "t" }) }), 400, "protocol_version_mismatch");
    const ok = await raw(b.record, "POST", "/v1/initialize", { body: JSON.stringify({ client_protocol_version: "1.x", client_kind: "t" }) });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.server_protocol_version, "1.1");
    assert.equal(ok.body.network_presence, "online");
    assert.match(ok.body.session_id, /^[0-9a-f-]{36}$/);
  });

  it("unknown routes, wrong methods and unknown ids get 404/405/4xx", async () => {
    assert.equal((await raw(b.record, "GET", "/v1/nope")).status, 404);
    expectError(await raw(b.record, "GET", "/v1/send"), 405, "method_not_allowed");
    expectError(await raw(b.record, "POST", "/v1/endpoint/ep_unknown/heartbeat"), 404, "endpoint_unknown");
    expectError(await raw(b.record, "POST", "/v1/dispatch", { body: JSON.stringify({ undispatched_id: "nope", target_endpoint_id: "nope" }) }), 400, "dispatch_failed");
    expectError(await raw(b.record, "DELETE", "/v1/undispatched/nope"), 404, "undispatched_unknown");
    assert.deepEqual((await raw(b.record, "DELETE", "/v1/endpoint/ep_unknown")).body, { ok: true }, "unregister is idempotent");
    expectError(await raw(b.record, "POST", "/v1/send", { body: JSON.stringify({ endpoint_id: "nope", to: "x", content: "y" }) }), 404, "unknown_endpoint");
  });

  it("register needs an open stream for the pid", async () => {
    expectError(await raw(b.record, "POST", "/v1/endpoint/register", { body: JSON.stringify({ plugin_pid: process.pid, kind: "x" }) }), 400, "ipc_channel_missing");
  });

  it("a bad workspace gets 422 invalid_request, and send forbids broker-owned metadata", async () => {
    const s = await openStream(b.record, process.pid);
    try {
      expectError(
        await raw(b.record, "POST", "/v1/endpoint/register", { body: JSON.stringify({ plugin_pid: process.pid, kind: "x", workspace: { cwd: 3 } }) }),
        422,
        "invalid_request",
      );
      const reg = await raw(b.record, "POST", "/v1/endpoint/register", { body: JSON.stringify({ plugin_pid: process.pid, kind: "x", session_name: "sec" }) });
      const id = reg.body.endpoint_id;
      const send = (metadata: object) => raw(b.record, "POST", "/v1/send", { body: JSON.stringify({ endpoint_id: id, to: "sec", content: "c", metadata }) });
      expectError(await send({ correlation_id: "x" }), 400, "correlation_id_forbidden");
      expectError(await send({ target_endpoint_id: "x" }), 400, "target_endpoint_id_forbidden");
      expectError(await send({ source_endpoint_id: "ep_other" }), 403, "source_endpoint_id_mismatch");
      expectError(await raw(b.record, "POST", `/v1/endpoint/${id}/task-hint`, { body: JSON.stringify({ plugin_pid: 1, task_hint: "t" }) }), 403, "ownership_mismatch");
      expectError(await raw(b.record, "POST", `/v1/endpoint/${id}/task-hint`, { body: JSON.stringify({ plugin_pid: process.pid, task_hint: 7 }) }), 400, "task_hint_invalid");
      expectError(await raw(b.record, "POST", `/v1/endpoint/${id}/reattach`, { body: JSON.stringify({ plugin_pid: 1 }) }), 403, "reattach_pid_mismatch");
      const again = await raw(b.record, "POST", `/v1/endpoint/${id}/reattach`, { body: JSON.stringify({ plugin_pid: process.pid }) });
      assert.deepEqual(again.body, { restored: true, reconnecting_buffer_count: 0 }, "reattaching an active endpoint from its own open stream is idempotent");
      expectError(await raw(b.record, "POST", "/v1/messages", { body: JSON.stringify({ from: "x", to: "no-such-session", content: "c" }) }), 404, "recipient_unknown");
      await raw(b.record, "DELETE", `/v1/endpoint/${id}`);
    } finally {
      await s.close();
    }
  });

  it("WebSocket upgrades check Host, Origin, token and pid", async () => {
    const url = b.record.ipcUrl.replace("http", "ws");
    const auth = { authorization: `Bearer ${b.record.bearerToken}` };
    assert.equal(await tryUpgrade(`${url}/v1/stream`, { "x-plugin-pid": "5" }), 401);
    assert.equal(await tryUpgrade(`${url}/v1/stream`, { ...auth }), 400);
    assert.equal(await tryUpgrade(`${url}/v1/stream`, { ...auth, "x-plugin-pid": "0" }), 400);
    assert.equal(await tryUpgrade(`${url}/v1/stream`, { ...auth, "x-plugin-pid": "5", origin: "https://evil.example" }), 403);
    assert.equal(await tryUpgrade(`${url}/v1/stream`, { ...auth, "x-plugin-pid": "5", host: "evil.example" }), 403);
    assert.equal(await tryUpgrade(`${url}/v1/events`, { origin: "http://localhost:1234", ...auth }), 403);
    assert.equal(await tryUpgrade(`${url}/v1/events`, {}), 401);
    assert.equal(await tryUpgrade(`${url}/v1/events?since=abc`, auth), 400);
    assert.equal(await tryUpgrade(`${url}/v1/other`, auth), 404);
    assert.equal(await tryUpgrade(`${url}/v1/events`, auth), 101);
  });

  it("bad frames get an error frame and the socket keeps working", async () => {
    const s = await openStream(b.record, process.pid);
    try {
      s.ws.send("not json");
      assert.equal((await s.next((f) => f.event === "error")).error, "bad_frame");
      s.ws.send(JSON.stringify({ event: "push_ack" }));
      assert.match((await s.next((f) => f.event === "error")).message, /push_id/);
      s.ws.send(JSON.stringify({ event: "nonsense", x: 1 }));
      await s.next((f) => f.event === "error");
      s.ws.send(Buffer.from([0xff, 0x00]), { binary: true });
      await s.next((f) => f.event === "error");
      const reg = await b.api.register({ plugin_pid: process.pid, kind: "x" });
      await b.api.ingress({ from: "t", content: "still works", metadata: { target_endpoint_id: reg.endpoint_id } });
      assert.equal((await s.next((f) => f.event === "message_received")).content, "still works");
      await b.api.unregister(reg.endpoint_id);
    } finally {
      await s.close();
    }
  });

  it("an oversized frame closes that socket only; the broker stays healthy", async () => {
    const s = await openStream(b.record, process.pid);
    s.ws.on("error", () => {});
    s.ws.send("x".repeat(1024 * 1024 + 100));
    const closed = await s.closed;
    assert.equal(closed.code, 1009);
    assert.equal((await b.api.health()).ok, true);
  });

  it("the discovery file is 0600 in a 0700 folder and the token is 32 random bytes", async () => {
    const { stat } = await import("node:fs/promises");
    const { brokerPaths } = await import("../../src/platform/paths.js");
    const p = brokerPaths(b.home);
    assert.equal((await stat(p.discoveryFile)).mode & 0o777, 0o600);
    assert.equal((await stat(p.brokerDir)).mode & 0o777, 0o700);
    assert.equal(Buffer.from(b.record.bearerToken, "base64url").length, 32);
    assert.equal(new URL(b.record.ipcUrl).hostname, "127.0.0.1");
  });

  it("after all that abuse the broker is alive", async () => {
    assert.equal(b.proc.exitCode, null);
    assert.equal((await b.api.health()).ok, true);
  });
});
