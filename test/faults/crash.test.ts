// Crash under load. Clients send messages, ask for approvals, decide some and stream output while the
// broker is killed with SIGKILL at random moments and restarted on the same state folder. A client
// only counts something as acknowledged when the broker answered 2xx; a request without an answer is
// not acknowledged (it may or may not have happened). Afterwards:
//   - every acknowledged message reached its target exactly once (re-pushes of the same push_id are
//     deduplicated, as the protocol says clients must), or sits in the inbox; no message ever arrived
//     under two push ids, at two endpoints, or both arrived and sits in the inbox;
//   - every acknowledged approval exists with its last acknowledged state; no acknowledged decision
//     was lost or flipped, and each one is in the audit chain;
//   - every stream is completed or aborted: streams running at a crash are aborted by the restart,
//     streams whose producer died are aborted while the broker runs; a completed stream replays
//     every acknowledged chunk.
// Randomness is seeded; the seed is in the summary line. Replay with SWITCHBOARD_FAULT_SEED=<seed>.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import WebSocket from "ws";
import { BrokerApi } from "../../src/client/api.js";
import { BrokerError, BrokerUnreachableError } from "../../src/client/errors.js";
import { verifyChain } from "../../src/platform/audit-chain.js";
import type { Approval, Decision, DiscoveryRecord, StreamView } from "../../src/protocol/index.js";
import { startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { get } from "../support/calls.js";
import { makeRng, outcomeOf, Owners, runSeed, SOAK, summary, Tally, type Rng } from "../support/faults.js";
import { sleep, waitFor, within } from "../support/wait.js";

const KILLS = SOAK ? 100 : 20;
const CLIENTS = SOAK ? 16 : 10;
/** Clients whose process dies at the end, with a stream running: the broker must abort those streams. */
const DYING = 3;
// The broker keeps the last 500 decided approvals and the last 200 ended streams; stay below both so
// that every one of ours can still be looked up at the end.
const APPROVALS_PER_CLIENT = Math.floor(400 / CLIENTS);
const STREAMS_PER_CLIENT = Math.floor(170 / CLIENTS);
const INBOX_PER_CLIENT = Math.floor(800 / CLIENTS);

interface Gen {
  n: number;
  b: TestBroker;
  api: BrokerApi;
}

/** The broker of the moment, or none while it is down. Clients wait for the next one. */
class Harness {
  gen: Gen | undefined;
  /** Share of the kills done, 0..1: approvals and streams are spread over the whole run by it. */
  progress = 0;
  private n = 0;
  private waiters: (() => void)[] = [];

  set(b: TestBroker): void {
    this.gen = { n: ++this.n, b, api: new BrokerApi(b.record, { timeoutMs: 8000 }) };
    for (const w of this.waiters.splice(0)) w();
  }

  down(): void {
    this.gen = undefined;
  }

  async up(): Promise<Gen> {
    while (!this.gen) await new Promise<void>((r) => this.waiters.push(r));
    return this.gen;
  }
}

/** How many of `cap` may be used by now, so that they last until the last kill. */
const budget = (cap: number, progress: number) => Math.min(cap, 1 + Math.floor(cap * progress));

const toState = (d: Decision) => (d === "approve" ? "approved" : "rejected");

/** What the clients saw, acknowledged or not. */
class Ledger {
  /** Acknowledged messages: id -> the endpoint they were for, or null for the inbox. */
  readonly messages = new Map<string, { target: string | null }>();
  /** Every message_received push, deduplicated by push_id only at check time. */
  readonly deliveries = new Map<string, { pushIds: Set<string>; endpoints: Set<string>; frames: number }>();
  readonly approvals = new Map<string, { requester: string; state: Approval["state"]; attempted: Set<Decision> }>();
  /** Decisions answered 2xx, per approval: more than one distinct value would be a flip. */
  readonly ackedDecisions = new Map<string, Set<Decision>>();
  readonly streams = new Map<string, { producer: number; sent: Map<number, string>; acked: Set<number>; final?: StreamView }>();
  readonly tally = new Tally();

  delivered(f: { sourceMessageId: string; push_id: string; endpoint_id: string }): void {
    let d = this.deliveries.get(f.sourceMessageId);
    if (!d) this.deliveries.set(f.sourceMessageId, (d = { pushIds: new Set(), endpoints: new Set(), frames: 0 }));
    d.pushIds.add(f.push_id);
    d.endpoints.add(f.endpoint_id);
    d.frames++;
  }

  approval(a: Approval): void {
    const known = this.approvals.get(a.approval_id);
    if (known) known.state = a.state;
    else this.approvals.set(a.approval_id, { requester: a.endpoint_id, state: a.state, attempted: new Set() });
  }
}

/** Opens /v1/stream for `pid` with push acknowledgements; acknowledges and records every push. */
function openOwnerSocket(record: DiscoveryRecord, pid: number, onFrame: (f: any) => void): Promise<WebSocket> {
  const ws = new WebSocket(record.ipcUrl.replace("http", "ws") + "/v1/stream", {
    headers: { authorization: `Bearer ${record.bearerToken}`, "x-plugin-pid": String(pid), "x-masons-ipc-capabilities": "push_receipt_ack_v1" },
  });
  ws.on("message", (data) => {
    const f = JSON.parse(data.toString());
    if (typeof f.push_id === "string" && ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event: "push_ack", push_id: f.push_id }));
    onFrame(f);
  });
  ws.on("error", () => {}); // a killed broker resets the socket; the client notices on its next request
  return within(
    new Promise<WebSocket>((resolve, reject) => {
      ws.once("open", () => resolve(ws));
      ws.once("error", reject);
      ws.once("close", () => reject(new Error("closed before open")));
    }),
    5000,
    "owner socket open",
  ).catch((err) => {
    ws.terminate();
    throw err;
  });
}

class Client {
  ep: string | undefined;
  private gen = 0;
  private ws: WebSocket | undefined;
  private stream: { id: string; seq: number } | undefined;
  /** An idempotent request whose answer was lost: sent again once a broker is back. */
  private retry: ((g: Gen) => Promise<void>) | undefined;
  private n = 0;
  private asked = 0;
  private streamsStarted = 0;
  private toInbox = 0;

  constructor(
    readonly i: number,
    readonly pid: number,
    private readonly h: Harness,
    private readonly L: Ledger,
    private readonly rand: Rng,
    private readonly peers: Client[],
  ) {}

  /** Connected to the current broker: socket open, endpoint registered or reattached. */
  async connect(): Promise<Gen> {
    for (;;) {
      const g = await this.h.up();
      if (this.gen === g.n && this.ws?.readyState === WebSocket.OPEN) return g;
      try {
        this.ws?.terminate();
        this.ws = await openOwnerSocket(g.b.record, this.pid, (f) => this.onFrame(f));
        if (this.ep) {
          try {
            await g.api.reattach(this.ep, this.pid);
          } catch (err) {
            // An acknowledged registration must survive every crash.
            if (outcomeOf(err) === "refused:endpoint_unknown") assert.fail(`client ${this.i}: acknowledged endpoint ${this.ep} is gone after a restart`);
            throw err;
          }
        } else {
          this.ep = (await g.api.register({ plugin_pid: this.pid, kind: "fault", session_name: `client-${this.i}` })).endpoint_id;
        }
        this.gen = g.n;
        if (this.retry) {
          const again = this.retry;
          this.retry = undefined;
          await this.attempt(g, again);
        }
        return g;
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        this.L.tally.add(err instanceof BrokerError || err instanceof BrokerUnreachableError ? `connect:${outcomeOf(err)}` : "connect:socket");
        await sleep(this.rand.int(5, 40));
      }
    }
  }

  private onFrame(f: any): void {
    if (f.event === "message_received") this.L.delivered(f);
  }

  /** Runs a request; a lost answer schedules a retry when `idempotent`. Refusals are tallied. */
  private async attempt(g: Gen, op: (g: Gen) => Promise<void>, idempotent = true): Promise<void> {
    try {
      await op(g);
    } catch (err) {
      const o = outcomeOf(err);
      this.L.tally.add(o);
      if (o === "unreachable") {
        this.gen = 0; // reconnect before the next request
        if (idempotent) this.retry = op;
      }
    }
  }

  async step(): Promise<void> {
    const g = await this.connect();
    const r = this.rand();
    if (r < 0.35) return this.attempt(g, (g) => this.send(g), false);
    if (r < 0.45) return this.attempt(g, (g) => this.ingress(g), false);
    if (r < 0.57) return this.ask(g);
    if (r < 0.7) return this.decide(g);
    return this.streamStep(g);
  }

  private targetEndpoint(): string | undefined {
    const others = this.peers.filter((c) => c !== this && c.ep);
    return others.length ? this.rand.pick(others).ep : undefined;
  }

  private async send(g: Gen): Promise<void> {
    const to = this.targetEndpoint();
    if (!to) return;
    const content = `c${this.i} m${++this.n}`;
    this.L.tally.add("messages_sent");
    const res = await g.api.send({ endpoint_id: this.ep!, to, content });
    assert.equal(res.target_endpoint_id, to);
    this.L.messages.set(res.messageId, { target: to });
  }

  /** Ingress for a script without an endpoint: to a client, or (no target) into the inbox. */
  private async ingress(g: Gen): Promise<void> {
    const to = this.rand.chance(0.5) && this.toInbox < INBOX_PER_CLIENT ? undefined : this.targetEndpoint();
    if (to === undefined) this.toInbox++;
    const content = `c${this.i} i${++this.n}`;
    this.L.tally.add("messages_sent");
    const res = await g.api.ingress({ from: `script-${this.i}`, content, ...(to ? { metadata: { target_endpoint_id: to } } : {}) });
    if (to) assert.equal(res.target_endpoint_id, to);
    else assert.equal(res.status, "undispatched");
    this.L.messages.set(res.messageId, { target: to ?? null });
  }

  private async ask(g: Gen): Promise<void> {
    if (this.asked >= budget(APPROVALS_PER_CLIENT, this.h.progress)) return;
    const key = `c${this.i} a${++this.asked}`;
    this.L.tally.add("approvals_requested");
    // The same idempotency key makes a retry return the approval if the lost request created it.
    await this.attempt(g, async (g) => {
      const a = await g.api.requestApproval({ endpoint_id: this.ep!, action: "sh", summary: key, command: `echo ${key}`, idempotency_key: key });
      assert.equal(a.state, "pending");
      this.L.approval(a);
    });
  }

  private async decide(g: Gen): Promise<void> {
    const pending = [...this.L.approvals.entries()].filter(([, a]) => a.state === "pending");
    if (!pending.length) return;
    const [id, known] = this.rand.pick(pending);
    const decision: Decision = this.rand.chance(0.6) ? "approve" : "reject";
    known.attempted.add(decision);
    this.L.tally.add("decisions_sent");
    await this.attempt(g, async (g) => {
      try {
        const a = await g.api.decide(id, { decision, decided_by: `client-${this.i}`, reason: `r${this.n}` });
        assert.equal(a.decision, decision, "a 2xx answer to a decision carries that decision");
        let acked = this.L.ackedDecisions.get(id);
        if (!acked) this.L.ackedDecisions.set(id, (acked = new Set()));
        acked.add(decision);
        this.L.approval(a);
      } catch (err) {
        // Someone else's decision won: that is the rule, not a fault.
        if (outcomeOf(err) === "refused:approval_already_decided") return void this.L.tally.add("decision_conflicts");
        throw err;
      }
    });
  }

  private async streamStep(g: Gen): Promise<void> {
    if (!this.stream) {
      if (this.streamsStarted >= budget(STREAMS_PER_CLIENT, this.h.progress)) return;
      this.streamsStarted++;
      this.L.tally.add("streams_started");
      // Not retried: a lost start leaves at most a stream nobody writes to, which the restart aborts.
      return this.attempt(g, (g) => this.startStream(g), false);
    }
    if (this.rand.chance(0.85)) return this.attempt(g, (g) => this.chunk(g), false);
    return this.finishStream(g);
  }

  private finishStream(g: Gen): Promise<void> {
    const { id, seq } = this.stream!;
    const exit = this.rand.chance(0.7) ? 0 : 1; // chosen once: a retry reports the same exit
    return this.attempt(g, (g) => this.complete(g, id, exit, seq));
  }

  private async startStream(g: Gen): Promise<void> {
    const s = await g.api.startStream({ endpoint_id: this.ep!, action: "sh", command: `job ${this.i}.${this.streamsStarted}` });
    assert.equal(s.state, "streaming");
    this.L.streams.set(s.stream_id, { producer: this.i, sent: new Map(), acked: new Set() });
    this.stream = { id: s.stream_id, seq: 0 };
  }

  private async chunk(g: Gen): Promise<void> {
    const s = this.stream!;
    const seq = ++s.seq;
    const data = `${s.id} #${seq} ${"x".repeat(this.rand.int(0, 1500))}\n`;
    const known = this.L.streams.get(s.id)!;
    known.sent.set(seq, data);
    try {
      await g.api.appendChunks(s.id, [{ channel: this.rand.chance(0.8) ? 1 : 2, seq, data }], this.pid);
      known.acked.add(seq);
      this.L.tally.add("chunks_acked");
    } catch (err) {
      // The broker restarted since: it aborted the stream (its producer's connection was gone).
      if (outcomeOf(err) === "refused:stream_ended") this.stream = undefined;
      throw err;
    }
  }

  private async complete(g: Gen, id: string, exit: number, lastSeq: number): Promise<void> {
    const known = this.L.streams.get(id)!;
    // A retry after a restart finds the stream aborted by that restart: 409 stream_ended with the
    // aborted stream, also a final, acknowledged state.
    const view = await g.api.completeStream(id, { exit_code: exit, last_seq: lastSeq }, this.pid).catch((err: unknown) => {
      if (err instanceof BrokerError && err.code === "stream_ended" && err.extra.state === "aborted") return err.extra.stream as StreamView;
      throw err;
    });
    assert.ok(view.state === "completed" || view.state === "aborted", `complete answered ${view.state}`);
    if (view.state === "completed") assert.equal(view.exit_code, exit);
    known.final = view;
    if (this.stream?.id === id) this.stream = undefined;
  }

  /** At the end: finish the pending retry, and end or keep the running stream. */
  async settle(keepStreaming: boolean): Promise<void> {
    for (let round = 0; ; round++) {
      assert.ok(round < 50, `client ${this.i} could not settle`);
      const g = await this.connect();
      if (this.retry) continue;
      if (keepStreaming && !this.stream) {
        await this.attempt(g, (g) => this.startStream(g), false);
        continue;
      }
      if (keepStreaming && this.stream!.seq === 0) {
        await this.attempt(g, (g) => this.chunk(g), false);
        continue;
      }
      if (!keepStreaming && this.stream) {
        await this.finishStream(g);
        continue;
      }
      if (this.gen === g.n) return;
    }
  }

  runningStream(): string | undefined {
    return this.stream?.id;
  }

  close(): void {
    this.ws?.terminate();
  }
}

describe("faults: crash under load", () => {
  const owners = new Owners();
  let b: TestBroker | undefined;
  let home: Awaited<ReturnType<typeof tempHome>> | undefined;
  const clients: Client[] = [];
  after(async () => {
    for (const c of clients) c.close();
    await b?.stop().catch(() => {});
    b?.proc.kill("SIGKILL");
    await owners.killAll();
    await home?.cleanup();
  });

  it(`${KILLS} kill -9 of the broker under ${CLIENTS} clients lose and duplicate nothing acknowledged`, { timeout: SOAK ? 900_000 : 120_000 }, async () => {
    const seed = runSeed();
    const rand = makeRng(seed);
    const t0 = performance.now();
    home = await tempHome("sb-crash-");
    const h = new Harness();
    const L = new Ledger();
    b = await startBroker(home.home);
    h.set(b);

    for (let i = 0; i < CLIENTS; i++) clients.push(new Client(i, owners.spawn(), h, L, makeRng(seed + 1 + i), clients));
    let stop = false;
    let failure: unknown;
    const loops = clients.map(async (c, i) => {
      const pace = makeRng(seed + 1000 + i);
      try {
        while (!stop) {
          await c.step();
          await sleep(pace.int(2, 15));
        }
      } catch (err) {
        failure ??= err;
        stop = true;
      }
    });

    // The killer: SIGKILL at a random moment (sometimes right after a start, while clients reattach),
    // sometimes leave the broker down for a while, then start it again on the same folder.
    let kills = 0;
    while (kills < KILLS && !stop) {
      await sleep(rand.chance(0.2) ? rand.int(0, 60) : rand.int(100, 700));
      // Load is a condition, not a hope: on a busy machine, wait (a while) for the clients to get some
      // messages acknowledged before the next kill, so every round has acknowledged work to lose.
      for (const until = Date.now() + 5000; L.messages.size < 3 * (kills + 1) && Date.now() < until && !stop; ) await sleep(20);
      h.down();
      await b.kill9();
      kills++;
      h.progress = kills / KILLS;
      if (rand.chance(0.3)) await sleep(rand.int(10, 300));
      b = await b.restart();
      h.set(b);
    }
    stop = true;
    await within(Promise.all(loops), 30_000, "client loops to stop");
    if (failure) throw failure;

    // Settle: every client reconnected with nothing in flight. The last DYING clients keep a stream
    // running, then their process dies.
    const dying = clients.slice(-DYING);
    for (const c of clients) await c.settle(dying.includes(c));
    const api = () => h.gen!.api;
    const drained = async () => {
      const eps = await api().endpoints();
      return clients.every((c) => c.ep && eps.find((e) => e.endpoint_id === c.ep)?.buffered_count === 0 && eps.find((e) => e.endpoint_id === c.ep)?.state === "active");
    };
    await waitFor(drained, 20_000, "every client's queue to drain");

    const orphaned = dying.map((c) => c.runningStream()!);
    for (const c of dying) {
      c.close();
      await owners.kill(c.pid);
    }
    // The producer died while the broker runs: its endpoint closes and its running stream is aborted,
    // without waiting for a broker restart.
    await waitFor(
      async () => {
        const views = await Promise.all(orphaned.map((id) => api().replayStream(id)));
        return views.every((v) => v.stream.state !== "streaming");
      },
      5000,
      "streams of dead producers to be aborted",
    ).catch(async (err) => {
      const states = await Promise.all(orphaned.map(async (id) => (await api().replayStream(id)).stream.state));
      throw new Error(`streams whose producer died are still ${JSON.stringify(states)}: ${(err as Error).message}`);
    });
    for (const id of orphaned) {
      const v = (await api().replayStream(id)).stream;
      assert.equal(v.state, "aborted", `stream ${id} of a dead producer`);
      assert.equal(v.status, 499);
    }
    // Its endpoint closes too: at once when its stream's close is seen, else within the owner check (1 s).
    await waitFor(async () => !(await api().endpoints()).some((e) => dying.some((c) => e.endpoint_id === c.ep)), 5000, "the dead clients' endpoints to close");

    // One more crash with everything quiet, so the final state is what the journal kept.
    await sleep(50);
    h.down();
    await b.kill9();
    kills++;
    b = await b.restart();
    h.set(b);
    const living = clients.filter((c) => !dying.includes(c));
    for (const c of living) await c.settle(false);
    await waitFor(
      async () => {
        const eps = await api().endpoints();
        return living.every((c) => eps.find((e) => e.endpoint_id === c.ep)?.buffered_count === 0);
      },
      20_000,
      "queues to drain after the last restart",
    );
    await sleep(100); // pushes re-sent after the restart reach the ledger

    const fin: BrokerApi = b.api;
    // ---- messages ----
    const inbox = new Map((await fin.undispatched(process.pid)).map((it) => [it.id, it]));
    let delivered = 0;
    let inInbox = 0;
    for (const [id, m] of L.messages) {
      const d = L.deliveries.get(id);
      const queued = inbox.has(id);
      assert.ok(d || queued, `acknowledged message ${id} (for ${m.target ?? "the inbox"}) was lost`);
      if (m.target === null) {
        assert.ok(queued && !d, `message ${id} for the inbox is in the inbox and was pushed nowhere`);
        inInbox++;
      } else if (d) {
        assert.deepEqual([...d.endpoints], [m.target], `message ${id} reached only its target`);
        delivered++;
      } else {
        // Only a closed target sends a message to the inbox, and every target was still open then.
        assert.fail(`message ${id} for ${m.target} is in the inbox instead of delivered`);
      }
    }
    let repushes = 0;
    for (const [id, d] of L.deliveries) {
      assert.equal(d.pushIds.size, 1, `message ${id} arrived under ${d.pushIds.size} push ids: ${[...d.pushIds]}`);
      assert.equal(d.endpoints.size, 1, `message ${id} arrived at several endpoints`);
      assert.ok(!inbox.has(id), `message ${id} was delivered and is also in the inbox`);
      repushes += d.frames - 1;
    }

    // ---- approvals and decisions ----
    const audit = await get(b.api, "/v1/audit");
    const chain = verifyChain(audit.records);
    assert.equal(chain.ok, true, `audit chain: ${JSON.stringify(chain)}`);
    const outcomes = new Map<string, Set<string>>();
    for (const r of audit.records as { approval_id: string; outcome: string }[]) {
      if (!outcomes.has(r.approval_id)) outcomes.set(r.approval_id, new Set());
      outcomes.get(r.approval_id)!.add(r.outcome);
    }
    const deadEndpoints = new Set(dying.map((c) => c.ep));
    let decided = 0;
    for (const [id, known] of L.approvals) {
      const a = await fin.approval(id);
      const acked = L.ackedDecisions.get(id);
      if (acked) {
        assert.equal(acked.size, 1, `approval ${id}: two different decisions were both acknowledged`);
        const [d] = [...acked] as [Decision];
        assert.equal(a.state, toState(d), `approval ${id}: acknowledged ${d} became ${a.state}`);
        assert.equal(a.decision, d);
        assert.ok(outcomes.get(id)?.has(toState(d)), `approval ${id}: the acknowledged ${d} is in the audit log`);
        decided++;
      } else {
        // Last acknowledged state: pending. A decision whose answer was lost may have landed; a dead
        // requester's pending approvals are cancelled. Nothing expires (no timeouts were asked for).
        const allowed = new Set(["pending", ...[...known.attempted].map(toState), ...(deadEndpoints.has(known.requester) ? ["cancelled"] : [])]);
        assert.ok(allowed.has(a.state), `approval ${id}: acknowledged pending, now ${a.state} (allowed ${[...allowed]})`);
      }
    }

    // ---- streams ----
    const all = await fin.streams();
    assert.deepEqual(
      all.filter((s) => s.state === "streaming").map((s) => s.stream_id),
      [],
      "no stream is left streaming",
    );
    let completed = 0;
    let aborted = 0;
    for (const [id, known] of L.streams) {
      const replay = await fin.replayStream(id);
      const v = replay.stream;
      assert.ok(v.state === "completed" || v.state === "aborted", `stream ${id} is ${v.state}`);
      if (known.final) assert.equal(v.state, known.final.state, `stream ${id}: acknowledged ${known.final.state}, now ${v.state}`);
      const seqs = replay.chunks.map((c) => c.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
        `stream ${id} replays in order`,
      );
      assert.equal(new Set(seqs).size, seqs.length, `stream ${id} replays each chunk once`);
      for (const c of replay.chunks) assert.equal(c.data, known.sent.get(c.seq), `stream ${id} chunk ${c.seq} is what was sent`);
      if (v.state === "completed") {
        completed++;
        assert.ok(known.final, `stream ${id} completed though no complete was acknowledged (every lost one is retried)`);
        assert.equal(known.final.exit_code, v.exit_code);
        const have = new Set(seqs);
        for (const seq of known.acked) assert.ok(have.has(seq), `completed stream ${id} replays acknowledged chunk ${seq}`);
      } else aborted++;
    }
    assert.equal(L.tally.counts["violation:endpoint_lost"] ?? 0, 0, "acknowledged endpoints survived");
    assert.equal(L.tally.counts["refused:internal_error"] ?? 0, 0, "no request failed with 500");
    assert.ok(kills >= KILLS);
    assert.ok(L.messages.size > 50, `enough load: ${L.messages.size} messages acknowledged`);

    summary({
      suite: "faults/crash",
      seed,
      soak: SOAK,
      kills,
      clients: CLIENTS,
      messages_sent: L.tally.counts.messages_sent ?? 0,
      messages_acked: L.messages.size,
      messages_delivered: delivered,
      messages_in_inbox: inInbox,
      repushes_deduplicated: repushes,
      approvals_acked: L.approvals.size,
      decisions_acked: decided,
      decision_conflicts: L.tally.counts.decision_conflicts ?? 0,
      streams_acked: L.streams.size,
      streams_completed: completed,
      streams_aborted: aborted,
      chunks_acked: L.tally.counts.chunks_acked ?? 0,
      requests_unanswered: L.tally.counts.unreachable ?? 0,
      refusals: Object.fromEntries(Object.entries(L.tally.counts).filter(([k]) => k.startsWith("refused:"))),
      duration_ms: Math.round(performance.now() - t0),
    });
  });
});
