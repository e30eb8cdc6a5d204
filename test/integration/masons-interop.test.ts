// Interop: the real MASONS SDK (`BrokerClient` from @masons/runtime-broker, a dev dependency) pointed
// at our discovery record can connect, register endpoints, receive a routed message (and ack it),
// send, list undispatched items, unregister and close — without spawning anything and without
// killing our broker. Needs dist/broker.js (`npm run build`).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { BrokerClient, type BrokerConnectionState, type BrokerInboundMessage } from "@masons/runtime-broker";
import { BrokerApi } from "../../src/client/api.js";
import type { EndpointView } from "../../src/protocol/index.js";
import { BROKER_ENTRY, startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { exposeRecordToMasonsSdk, pidAlive, spawnSentinel, waitFor, within } from "../support/masons.js";

const STEP_MS = 5_000;
const ACCOUNT_ID = "default";
const RUNTIME_TOKEN = "switchboard-interop-token";
const SESSION_A = "sdk-session-A";
const SESSION_B = "sdk-session-B";

describe("MASONS BrokerClient SDK against our broker", { timeout: 60_000 }, () => {
  const homes: Array<{ cleanup(): Promise<void> }> = [];
  let broker: TestBroker | undefined;
  let api: BrokerApi;
  let sdkHome: string;
  let sentinel: Awaited<ReturnType<typeof spawnSentinel>>;
  let client: BrokerClient | undefined;
  let epA: string | undefined;
  let epB: string | undefined;
  const received: BrokerInboundMessage[] = [];
  const sdkErrors: Error[] = [];
  const phases: BrokerConnectionState[] = [];
  let disconnects = 0;
  // Sockets, pipes and child processes open before the test starts (the runner's own stdio pipes).
  const HANDLE_TYPES = new Set(["TCPSocketWrap", "TCPWRAP", "PipeWrap", "ProcessWrap", "TCPServerWrap"]);
  const openHandles = () =>
    process
      .getActiveResourcesInfo()
      .filter((r) => HANDLE_TYPES.has(r))
      .sort();
  let baseline: string[] = [];

  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`an earlier step failed: no ${what}`);
    return value;
  };
  const endpoints = () => within(api.endpoints(), STEP_MS, "GET /v1/endpoints");
  const endpoint = async (id: string): Promise<EndpointView | undefined> => (await endpoints()).find((e) => e.endpoint_id === id);
  const nextMessage = (what: string, match: (m: BrokerInboundMessage) => boolean) => waitFor(() => received.find(match), STEP_MS, `the SDK to emit message_received for ${what}`);

  before(async () => {
    baseline = openHandles();
    assert.ok(existsSync(BROKER_ENTRY), `${BROKER_ENTRY} is missing: run \`npm run build\` first`);
    const ours = await tempHome("sb-masons-broker-");
    homes.push(ours);
    const sdk = await tempHome("sb-masons-sdk-");
    homes.push(sdk);
    sdkHome = sdk.home;
    broker = await within(startBroker(ours.home), 15_000, "our broker to start");
    api = new BrokerApi(broker.record, { timeoutMs: STEP_MS });
    sentinel = await spawnSentinel(sdkHome);
  });

  after(async () => {
    // Safety net for failed steps; each call is harmless when the step already did it.
    await client?.close().catch(() => {});
    if (broker && broker.proc.exitCode === null && broker.proc.signalCode === null) {
      const code = await within(broker.stop(), 10_000, "our broker to stop on SIGTERM").catch(async (err) => {
        await broker?.kill9();
        throw err;
      });
      assert.equal(code, 0, "broker exit code after SIGTERM");
    }
    for (const h of homes) await h.cleanup();
    // The SDK's sockets and timers must be gone once it is closed and the broker has stopped.
    const settled = await waitFor(() => JSON.stringify(openHandles()) === JSON.stringify(baseline), 3_000, "handles to close").catch(() => false);
    if (!settled) assert.deepEqual(openHandles(), baseline, `handles still open after clean-up: ${JSON.stringify(process.getActiveResourcesInfo())}`);
  });

  it("discover() finds our record at the SDK-derived path, reuses our broker without spawning, and leaves it alive", async () => {
    const b = need(broker, "broker");
    const file = await exposeRecordToMasonsSdk(b.record, sdkHome, ACCOUNT_ID, RUNTIME_TOKEN);
    const health = await within(api.health(), STEP_MS, "GET /health");
    // Non-semver on purpose: a semver below the SDK's own version makes discover() SIGKILL record.pid.
    assert.match(health.version, /^agent-switchboard\//, "our /health version must stay non-semver");

    client = await within(
      BrokerClient.discover({ accountId: ACCOUNT_ID, runtimeToken: RUNTIME_TOKEN, userDataDir: sdkHome, brokerEntry: sentinel.entry, timeoutMs: 3_000 }),
      STEP_MS,
      "BrokerClient.discover",
    ).catch((err: Error) => {
      throw new Error(`discover failed (spawn attempted: ${sentinel.spawnAttempted()}, record at ${file}): ${err.message}`);
    });
    client.on("message_received", (m) => void received.push(m));
    client.on("error", (e) => void sdkErrors.push(e));
    client.on("connectionstate", (s) => void phases.push(s));
    client.on("disconnected", () => void disconnects++);

    assert.equal(client.spawnedNew, false, "the SDK must report it reused the broker");
    assert.equal(client.ipcUrl, b.record.ipcUrl);
    assert.equal(sentinel.spawnAttempted(), false, "the SDK ran its brokerEntry (a spawn attempt)");
    assert.equal(existsSync(`${file}.lock`), false, "the SDK took its spawn lock, so it did not consider the broker usable");
    assert.ok(pidAlive(b.record.pid), `our broker (pid ${b.record.pid}) was killed by discover()`);
    assert.equal(b.proc.exitCode, null);
    assert.equal(b.proc.signalCode, null, "our broker process got a signal");
    assert.equal((await within(api.health(), STEP_MS, "GET /health after discover")).ok, true);
  });

  it("connect() runs initialize and opens the stream with push_receipt_ack_v1", async () => {
    const c = need(client, "client");
    const init = await within(
      c.connect({ pluginPid: process.pid, clientKind: "masons-interop-test", clientVersion: "0.0.1", reconnectBackoffInitialMs: 60_000 }),
      STEP_MS,
      "client.connect",
    ).catch(async (err: Error) => {
      await c.close(); // a failed connect schedules a background reconnect (which may try to spawn)
      throw err;
    });
    assert.equal(init.server_protocol_version, "1.1");
    assert.equal(typeof init.session_id, "string");
    assert.equal(c.connectionState.phase, "connected");
    assert.equal(c.networkPresence, "online");
    assert.equal(typeof c.serverVersion, "string");
    // Without this flag the SDK never acks pushes (and ours would stay queued).
    assert.equal(c.serverCapabilities.push_receipt_ack_v1, true);
    assert.equal(c.serverCapabilities.endpoint_metadata_v1, true);
  });

  it("registerEndpoint() creates endpoints that our GET /v1/endpoints lists with kind, session name and workspace", async () => {
    const c = need(client, "connected client");
    const workspace = { root: "/work/proj", cwd: "/work/proj/pkg" };
    const a = await within(c.registerEndpoint({ agentId: "interop-agent", kind: "claude-code", sessionName: SESSION_A, workspace }), STEP_MS, "registerEndpoint A");
    const bb = await within(c.registerEndpoint({ agentId: "interop-agent", kind: "codex", sessionName: SESSION_B, workspace: "/work/other" }), STEP_MS, "registerEndpoint B");
    assert.equal(typeof a.endpoint_id, "string");
    assert.equal(typeof a.endpoint_owner_token, "string", "the SDK needs endpoint_owner_token for endpoint-scoped calls");
    assert.notEqual(a.endpoint_id, bb.endpoint_id);
    epA = a.endpoint_id;
    epB = bb.endpoint_id;

    const list = await endpoints();
    const viewA = list.find((e) => e.endpoint_id === epA);
    const viewB = list.find((e) => e.endpoint_id === epB);
    assert.ok(viewA, `endpoint A ${epA} missing from GET /v1/endpoints: ${JSON.stringify(list)}`);
    assert.ok(viewB, `endpoint B ${epB} missing from GET /v1/endpoints`);
    assert.equal(viewA.kind, "claude-code");
    assert.equal(viewA.session_name, SESSION_A);
    assert.equal(viewA.label, SESSION_A);
    assert.deepEqual(viewA.workspace, workspace);
    assert.equal(viewA.state, "active");
    assert.equal(viewA.plugin_pid, process.pid);
    assert.equal(viewA.agent_id, "interop-agent");
    assert.equal(viewA.client_kind, "masons-interop-test", "the SDK sends client_kind with register");
    assert.equal(viewB.kind, "codex");
    assert.equal(viewB.session_name, SESSION_B);
    assert.equal(viewB.workspace, "/work/other");
  });

  it("a message routed to an SDK endpoint is surfaced as message_received and acked", async () => {
    const a = need(epA, "endpoint A");
    const res = await within(
      api.ingress({ from: "mstp://peer.example/alice", content: "hello A", contentType: "text", metadata: { target_endpoint_id: a, thread: "t1" } }),
      STEP_MS,
      "POST /v1/messages",
    );
    assert.equal(res.target_endpoint_id, a);
    assert.ok(res.status === "delivered" || res.status === "stored", `ingress status ${res.status}`);

    const msg = await nextMessage("the ingress to A", (m) => m.sourceMessageId === res.messageId);
    assert.equal(msg.from, "mstp://peer.example/alice");
    assert.equal(msg.content, "hello A");
    assert.equal(msg.contentType, "text");
    assert.equal(msg.metadata?.target_endpoint_id, a);
    assert.equal(msg.metadata?.thread, "t1");
    assert.equal(msg.runtimeAssignment, undefined);

    // Unacked pushes stay queued, so buffered_count 0 means the SDK sent push_ack for it.
    await waitFor(async () => (await endpoint(a))?.buffered_count === 0, STEP_MS, "endpoint A's buffered_count to drop to 0 (SDK push_ack)");
    assert.equal((await endpoint(a))?.state, "active");
  });

  it("send() from one SDK endpoint reaches the other, by endpoint id and by session name", async () => {
    const c = need(client, "connected client");
    const a = need(epA, "endpoint A");
    const b = need(epB, "endpoint B");

    const res = await within(c.send(a, b, "hi B", "text", { note: "n1" }), STEP_MS, "client.send A -> B");
    assert.equal(typeof res.messageId, "string");
    assert.ok(res.status === "delivered" || res.status === "stored", `send status ${res.status}`);
    const msg = await nextMessage("A's send to B", (m) => m.sourceMessageId === res.messageId);
    assert.equal(msg.content, "hi B");
    assert.equal(msg.contentType, "text");
    assert.equal(msg.from, SESSION_A);
    assert.equal(msg.metadata?.note, "n1");
    assert.equal(typeof msg.metadata?.correlation_id, "string", "correlation_id must be set by the broker");
    const extra = res as { correlation_id?: unknown };
    if (extra.correlation_id !== undefined) assert.equal(msg.metadata?.correlation_id, extra.correlation_id);
    assert.equal(msg.metadata?.source_endpoint_id, a);
    assert.equal(msg.metadata?.target_endpoint_id, b);
    assert.equal(msg.metadata?.require_live, false);

    const byName = await within(c.send(b, SESSION_A, "hi A, by name"), STEP_MS, "client.send B -> session name A");
    const back = await nextMessage("B's send to A by name", (m) => m.sourceMessageId === byName.messageId);
    assert.equal(back.content, "hi A, by name");
    assert.equal(back.contentType, "text", "the SDK's default contentType");
    assert.equal(back.metadata?.source_endpoint_id, b);
    assert.equal(back.metadata?.target_endpoint_id, a);

    // MASONS rejects a caller-chosen correlation_id; the SDK turns the 400 into an Error with the body.
    await assert.rejects(within(c.send(a, b, "x", "text", { correlation_id: "mine" }), STEP_MS, "send with correlation_id"), /400 .*correlation_id_forbidden/);

    await waitFor(
      async () => {
        const list = await endpoints();
        return list.filter((e) => e.endpoint_id === a || e.endpoint_id === b).every((e) => e.buffered_count === 0);
      },
      STEP_MS,
      "both endpoints' buffered_count to drop to 0 (SDK push_ack)",
    );
  });

  it("listUndispatched() returns an unaddressed message with MASONS item fields", async () => {
    const c = need(client, "connected client");
    const a = need(epA, "endpoint A");
    const res = await within(
      api.ingress({ from: "mstp://peer.example/bob", content: "nobody in particular", contentType: "text", metadata: { topic: "triage" } }),
      STEP_MS,
      "POST /v1/messages (unaddressed)",
    );
    assert.equal(res.status, "undispatched");

    // With two endpoints on one pid MASONS needs ?endpoint_id= (else 409 ambiguous_endpoint), so pass it.
    const items = await within(c.listUndispatched({ endpointId: a }), STEP_MS, "client.listUndispatched");
    const item = items.find((i) => i.source_message_id === res.messageId);
    assert.ok(item, `unaddressed message ${res.messageId} missing from listUndispatched: ${JSON.stringify(items)}`);
    const fields = item; // typed by the SDK as UndispatchedMessage
    assert.equal(fields.id, res.undispatched_id ?? res.messageId);
    assert.equal(fields.source_message_id, res.messageId);
    assert.ok(typeof fields.arrived_at === "string" && !Number.isNaN(Date.parse(fields.arrived_at)), `arrived_at ${String(fields.arrived_at)}`);
    assert.equal(fields.sender_address, "mstp://peer.example/bob");
    assert.equal(fields.content, "nobody in particular");
    assert.equal(fields.content_type, "text");
    assert.deepEqual(fields.metadata, { topic: "triage" });
    assert.equal(fields.reason, "unaddressed");
    assert.equal(fields.claim_policy, "owner_select_required");
    // The earlier, targeted messages were delivered, not parked.
    assert.equal(items.length, 1, `only the unaddressed message should be listed: ${JSON.stringify(items)}`);

    const all = await within(c.listUndispatched(), STEP_MS, "client.listUndispatched without endpoint_id");
    assert.ok(all.some((i) => i.source_message_id === res.messageId));
  });

  it("unregisterEndpoint() and close() remove the endpoints; our broker stays alive and healthy", async () => {
    const c = need(client, "connected client");
    const b = need(broker, "broker");
    const a = need(epA, "endpoint A");
    const bId = need(epB, "endpoint B");

    await within(c.unregisterEndpoint(a), STEP_MS, "client.unregisterEndpoint(A)");
    assert.equal(await endpoint(a), undefined, "endpoint A still listed after unregisterEndpoint");
    assert.ok(await endpoint(bId), "unregistering A must not touch B");

    await within(c.close(bId), STEP_MS, "client.close(B)"); // DELETEs B, then closes the stream
    assert.equal(await endpoint(bId), undefined, "endpoint B still listed after close(B)");
    assert.equal(c.connectionState.phase, "connected", "close() does not change the phase");

    // Closing the stream must not bring anything back as reconnecting, and must not stop the broker.
    await new Promise((r) => setTimeout(r, 300));
    const left = (await endpoints()).filter((e) => e.plugin_pid === process.pid);
    assert.deepEqual(left, [], `endpoints of this pid still open after close: ${JSON.stringify(left)}`);
    assert.ok(pidAlive(b.record.pid), "our broker died");
    assert.equal((await within(api.health(), STEP_MS, "GET /health after close")).ok, true);

    // close() must stop the SDK's own timers (heartbeat ping, reconnect backoff). These are private
    // fields of BrokerClient 0.2.36, read here only to check for leaks.
    const internals = c as unknown as { heartbeatInterval: unknown; heartbeatTimeout: unknown; reconnectTimer: unknown; ws: unknown };
    assert.equal(internals.heartbeatInterval, null, "heartbeat interval still set after close()");
    assert.equal(internals.heartbeatTimeout, null, "heartbeat timeout still set after close()");
    assert.equal(internals.reconnectTimer, null, "reconnect timer still set after close()");
    assert.equal(internals.ws, null);

    assert.deepEqual(
      sdkErrors.map((e) => e.message),
      [],
      "the SDK emitted errors",
    );
    assert.equal(disconnects, 0, "the SDK saw its stream drop before close()");
    assert.deepEqual(
      phases.filter((p) => p.phase !== "connected"),
      [],
      "the SDK went into reconnecting/never_connected at some point",
    );
  });
});
