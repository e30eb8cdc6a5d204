// BrokerClient against a scripted fake broker in this process, for wire situations the real broker does
// not produce on demand: a gap in the observer feed (must resnapshot without `since`), a feed socket
// closed by the server (must resume with since+epoch), the same push sent twice or replayed under a new
// push_id (delivered once, acknowledged every time), other event frames with push_id (acknowledged),
// a frame that is not JSON (reported, the client keeps going).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type WebSocket from "ws";
import { WebSocketServer } from "ws";
import { BrokerClient, type ClientMessage, type FeedEvent, type StreamEventFrame } from "../../src/client/index.js";

import { waitFor } from "../support/wait.js";

const endpoint = (id: string) => ({
  endpoint_id: id,
  kind: "fake",
  label: id,
  session_name: null,
  workspace: null,
  task_hint: null,
  state: "active",
  plugin_pid: 1,
  agent_id: null,
  client_kind: null,
  registered_at: "t",
  last_seen_at: "t",
  buffered_count: 0,
});

class FakeBroker {
  private http: Server | undefined;
  private readonly wss = new WebSocketServer({ noServer: true });
  port = 0;
  stream: WebSocket | undefined;
  readonly acks: string[] = [];
  readonly feedQueries: string[] = [];
  /** Called with each new /v1/events socket and its query. */
  onFeed: (ws: WebSocket, query: URLSearchParams) => void = () => {};

  async start(): Promise<this> {
    const caps = { push_receipt_ack_v1: true, observer_feed_v1: true };
    this.http = createServer((req, res) => {
      req.resume();
      const send = (body: unknown) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (req.url === "/health") return send({ ok: true, version: "fake", protocol_version: "1.1", capabilities: caps });
      if (req.url === "/v1/initialize")
        return send({ server_version: "fake", server_protocol_version: "1.1", server_capabilities: caps, session_id: "s", network_presence: "online", feed_epoch: "E1" });
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not_found", message: "no" }));
    });
    this.http.on("upgrade", (req, socket, head) => {
      const url = new URL(req.url ?? "/", "http://x");
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        if (url.pathname === "/v1/stream") {
          this.stream = ws;
          ws.on("message", (d) => {
            const f = JSON.parse(String(d));
            if (f.event === "push_ack") this.acks.push(f.push_id);
          });
        } else {
          this.feedQueries.push(url.search);
          this.onFeed(ws, url.searchParams);
        }
      });
    });
    await new Promise<void>((r) => this.http!.listen(0, "127.0.0.1", r));
    this.port = (this.http.address() as { port: number }).port;
    return this;
  }

  push(frame: Record<string, unknown>): void {
    this.stream!.send(JSON.stringify(frame));
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.http?.closeAllConnections();
    await new Promise((r) => this.http?.close(r));
  }
}

const msg = (n: number, pushId: string) => ({
  event: "message_received",
  endpoint_id: "ep_1",
  from: "peer",
  content: `c${n}`,
  contentType: "text",
  metadata: {},
  sourceMessageId: `msg_${n}`,
  push_id: pushId,
});

describe("BrokerClient against a scripted broker", { timeout: 30_000 }, () => {
  let dir: string;
  let fake: FakeBroker;
  let client: BrokerClient;
  const messages: ClientMessage[] = [];
  const frames: StreamEventFrame[] = [];
  const feed: FeedEvent[] = [];
  const errors: Error[] = [];
  let feedScript: Array<(ws: WebSocket, q: URLSearchParams) => void> = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "sb-client-fake-"));
    fake = await new FakeBroker().start();
    fake.onFeed = (ws, q) => feedScript.shift()?.(ws, q);
    const file = join(dir, "discovery.json");
    await writeFile(
      file,
      JSON.stringify({ version: 1, pid: process.pid, startedAt: new Date().toISOString(), ipcUrl: `http://127.0.0.1:${fake.port}`, bearerToken: "t".repeat(43) }),
    );
    feedScript = [
      // 1st feed socket: snapshot 5, change 6, then change 8: a gap
      (ws) => {
        ws.send(JSON.stringify({ type: "snapshot", epoch: "E1", seq: 5, endpoints: [endpoint("ep_1")], inbox: [] }));
        ws.send(JSON.stringify({ type: "change", epoch: "E1", seq: 6, change: { kind: "endpoint_upserted", endpoint: endpoint("ep_2") } }));
        ws.send(JSON.stringify({ type: "change", epoch: "E1", seq: 8, change: { kind: "endpoint_closed", endpoint_id: "ep_1", reason: "x" } }));
      },
      // 2nd (after the gap, no since): a fresh snapshot at 8
      (ws) => ws.send(JSON.stringify({ type: "snapshot", epoch: "E1", seq: 8, endpoints: [endpoint("ep_2")], inbox: [] })),
    ];
    client = new BrokerClient({ discover: { discoveryFile: file, spawn: false }, clientKind: "fake-test", observe: true });
    client.on("message", (m) => messages.push(m));
    client.on("frame", (f) => frames.push(f));
    client.on("feed", (f) => feed.push(f));
    client.on("error", (e) => errors.push(e));
    await client.connect();
  });

  after(async () => {
    await client.close();
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a feed gap makes the client reopen /v1/events without since and take the new snapshot", async () => {
    await waitFor(() => feed.length >= 3, 5000, "snapshot, change, snapshot");
    assert.deepEqual(
      feed.map((f) => [f.type, f.seq]),
      [
        ["snapshot", 5],
        ["change", 6],
        ["snapshot", 8],
      ],
    );
    assert.deepEqual(fake.feedQueries, ["", ""], "the second connection asks for a snapshot (no since)");
    assert.deepEqual([...client.feed!.endpoints.keys()], ["ep_2"]);
    assert.equal(client.feed!.seq, 8);
  });

  it("a feed socket closed by the server is reopened with since and epoch, and resumes", async () => {
    const before = fake.feedQueries.length;
    feedScript.push((ws, q) => {
      assert.equal(q.get("since"), "8");
      ws.send(JSON.stringify({ type: "change", epoch: "E1", seq: 9, change: { kind: "endpoint_upserted", endpoint: endpoint("ep_3") } }));
    });
    for (const c of [...(fake as unknown as { wss: WebSocketServer }).wss.clients]) if (c !== fake.stream) c.close(1001, "going away");
    await waitFor(() => client.feed?.seq === 9, 5000, "the resumed change");
    assert.equal(fake.feedQueries[before], "?since=8&epoch=E1");
    assert.deepEqual([...client.feed!.endpoints.keys()].sort(), ["ep_2", "ep_3"]);
    assert.equal(feed.at(-1)?.type, "change");
  });

  it("each push is delivered once and acknowledged every time, after the listeners ran", async () => {
    let acksSeenByListener = -1;
    client.once("message", () => (acksSeenByListener = fake.acks.length));
    const acksBefore = fake.acks.length;
    fake.push(msg(1, "p1"));
    fake.push(msg(1, "p1")); // the same push again (re-push after a reattach or rebind)
    fake.push(msg(1, "p1-replay")); // the same message under another push id (a replay)
    fake.push(msg(2, "p2"));
    fake.push({ event: "approval_resolved", endpoint_id: "ep_1", approval_id: "a1", decision: "approve", push_id: "p3" });
    fake.push({ event: "approval_resolved", endpoint_id: "ep_1", approval_id: "a1", decision: "approve", push_id: "p3" });
    await waitFor(() => fake.acks.length - acksBefore >= 6, 5000, "six acks");
    assert.deepEqual(fake.acks.slice(acksBefore), ["p1", "p1", "p1-replay", "p2", "p3", "p3"]);
    assert.equal(acksSeenByListener, acksBefore, "the ack went out after the message listener returned");
    assert.deepEqual(
      messages.map((m) => [m.content, m.endpointId, m.push_id]),
      [
        ["c1", "ep_1", "p1"],
        ["c2", "ep_1", "p2"],
      ],
    );
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.event, "approval_resolved");
    assert.equal(frames[0]!.endpointId, "ep_1");
    assert.equal(frames[0]!.approval_id, "a1");
  });

  it("frames it cannot use are reported, not acknowledged, and the stream goes on", async () => {
    const acksBefore = fake.acks.length;
    const errorsBefore = errors.length;
    fake.stream!.send("this is not json");
    fake.push({ event: "message_received", push_id: "bad1", content: 5 });
    fake.push({ event: "presence_changed", presence: "reconnecting", reason: "connector_disconnected" });
    fake.push(msg(3, "p4"));
    await waitFor(() => messages.some((m) => m.content === "c3") && fake.acks.includes("p4"), 5000, "the next good message and its ack");
    assert.equal(errors.length - errorsBefore, 2, errors.map((e) => e.message).join("; "));
    assert.deepEqual(fake.acks.slice(acksBefore), ["p4"], "the malformed push is not acknowledged");
    assert.equal(client.networkPresence, "reconnecting");
    assert.equal(client.phase, "connected");
  });
});
