// Load generators: WebSocket receivers that ack every push, an open-loop paced sender (latency), a
// closed-loop sender with N requests in flight (throughput), and an open-loop WebSocket echo.
// Every loop is bounded by a count and a deadline.
import type { Agent } from "node:http";
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import { postJson, type HttpResult, type HttpTarget } from "./http.js";
import { RawConnection } from "./rawhttp.js";
import { cpuSeconds, machineBusySeconds, selfCpuSeconds } from "./procs.js";
import { round, sleep, summarize, type Summary } from "./stats.js";

// ---- receivers ---------------------------------------------------------------------------------------

interface PushFrame {
  event?: unknown;
  push_id?: unknown;
  metadata?: { b_run?: unknown; b_seq?: unknown; b_t0?: unknown };
}

export type OnPush = (frame: PushFrame, recvNs: bigint) => void;

/** A set of WebSocket clients that receive message_received pushes and ack each one at once. */
export class Receivers {
  onPush: OnPush = () => {};
  pushes = 0;
  unexpectedCloses = 0;
  private closing = false;

  private constructor(readonly sockets: WebSocket[]) {
    for (const ws of sockets) {
      ws.on("message", (data: WebSocket.RawData) => {
        const t = process.hrtime.bigint();
        let frame: PushFrame;
        try {
          frame = JSON.parse(data.toString()) as PushFrame;
        } catch {
          return;
        }
        if (frame.event !== "message_received") return;
        if (typeof frame.push_id === "string") ws.send(`{"event":"push_ack","push_id":${JSON.stringify(frame.push_id)}}`);
        this.pushes++;
        this.onPush(frame, t);
      });
      ws.on("close", () => {
        if (!this.closing) this.unexpectedCloses++;
      });
      ws.on("error", () => {});
    }
  }

  static async connect(specs: Array<{ url: string; headers?: Record<string, string> }>, timeoutMs = 5000): Promise<Receivers> {
    const sockets = specs.map((s) => new WebSocket(s.url, { headers: s.headers ?? {}, perMessageDeflate: false }));
    try {
      await Promise.all(
        sockets.map(
          (ws) =>
            new Promise<void>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error(`WebSocket ${ws.url} did not open within ${timeoutMs} ms`)), timeoutMs);
              ws.once("open", () => {
                clearTimeout(timer);
                resolve();
              });
              ws.once("unexpected-response", (_req, res) => {
                clearTimeout(timer);
                reject(new Error(`WebSocket ${ws.url} refused: HTTP ${res.statusCode}`));
              });
              ws.once("error", (err) => {
                clearTimeout(timer);
                reject(err);
              });
            }),
        ),
      );
    } catch (err) {
      for (const ws of sockets) ws.terminate();
      throw err;
    }
    return new Receivers(sockets);
  }

  close(): void {
    this.closing = true;
    for (const ws of this.sockets) ws.terminate();
  }
}

// ---- open-loop pacing --------------------------------------------------------------------------------

export interface PaceResult {
  sent: number;
  /** Messages per second actually issued (first to last send). */
  achievedRate: number;
  /** Worst delay between a message's scheduled time and its actual send (client-side lag). */
  maxSendLagMs: number;
}

/**
 * Calls `fire(k)` for k = 0..total-1 at `rate` per second, open loop: the schedule does not wait for
 * answers. A 1 ms timer catches up with whatever is due, so a slow tick sends a small burst.
 * Message k is scheduled at `base` + k/rate; `schedNs` is that time in ns after `base`.
 */
export function pace(rate: number, total: number, maxMs: number, fire: (k: number, schedNs: number) => void, base: bigint = process.hrtime.bigint()): Promise<PaceResult> {
  return new Promise((resolve) => {
    const interval = 1e9 / rate;
    let sent = 0;
    let maxLag = 0;
    let lastSendNs = 0;
    const tick = () => {
      const elapsed = Number(process.hrtime.bigint() - base);
      const due = Math.min(total, Math.floor(elapsed / interval) + 1);
      for (let burst = 0; sent < due && burst < 1000; burst++) {
        const sched = sent * interval;
        maxLag = Math.max(maxLag, elapsed - sched);
        fire(sent, sched);
        sent++;
      }
      lastSendNs = elapsed;
      if (sent < total && elapsed < maxMs * 1e6) setTimeout(tick, 1);
      else
        resolve({
          sent,
          achievedRate: round(sent > 1 ? ((sent - 1) * 1e9) / Math.max(1, lastSendNs) : 0, 1),
          maxSendLagMs: round(maxLag / 1e6),
        });
    };
    tick();
  });
}

/** Waits (polling every 5 ms) until `done()` or `maxMs` passed; returns the time waited. */
export async function waitUntil(done: () => boolean, maxMs: number): Promise<number> {
  const t0 = Date.now();
  for (let i = 0; i < 100_000 && !done() && Date.now() - t0 < maxMs; i++) await sleep(5);
  return Date.now() - t0;
}

// ---- latency: HTTP ingress -> WebSocket push -----------------------------------------------------------

export interface IngressLoad {
  agent: Agent;
  http: HttpTarget;
  path: string;
  /** Round-robin over these target endpoint ids (metadata.target_endpoint_id). */
  targets: string[];
  receivers: Receivers;
  content: string;
}

export interface LatencyResult {
  rate_target: number;
  duration_s: number;
  sent: number;
  achieved_send_rate: number;
  delivered: number;
  delivered_rate: number;
  answered_ok: number;
  errors: Record<string, number>;
  lost: number;
  max_send_lag_ms: number;
  /** ms from the b_t0 stamp (taken right before the request is built) to the push at the receiver. */
  push_latency_ms: Summary;
  /** Same, but from the scheduled send time (includes client-side lag; coordinated-omission safe). */
  push_latency_from_schedule_ms: Summary;
  /** ms from the stamp to the HTTP answer (the broker answers after its journal fsync). */
  http_answer_ms: Summary;
  client_cpu_pct: number;
  server_cpu_pct: number | null;
  /** Everything else the machine ran meanwhile (other users' processes), % of one core. */
  other_cpu_pct: number | null;
}

/** Machine CPU not used by the bench client or the measured server, as % of one core. */
function otherPct(m0: number | null, m1: number | null, client: number, server: number | null, seconds: number): number | null {
  if (m0 === null || m1 === null || server === null) return null;
  return round(Math.max(0, (m1 - m0 - client - server) / seconds) * 100, 1);
}

function body(content: string, target: string, run: string, seq: number, t0: bigint): string {
  return JSON.stringify({ from: "bench", content, metadata: { target_endpoint_id: target, b_run: run, b_seq: seq, b_t0: String(t0) } });
}

function countError(errors: Record<string, number>, key: string): void {
  errors[key] = (errors[key] ?? 0) + 1;
}

function errorKey(status: number, text: string): string {
  try {
    const code = (JSON.parse(text) as { error?: unknown }).error;
    return `${status}:${typeof code === "string" ? code : "?"}`;
  } catch {
    return `${status}`;
  }
}

export async function runLatency(load: IngressLoad, rate: number, durationMs: number, serverPid: number | undefined, drainMs = 5000): Promise<LatencyResult> {
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const run = randomBytes(6).toString("hex");
  const pushLat = new Float64Array(total).fill(NaN);
  const pushAbs = new Float64Array(total).fill(NaN);
  const sched = new Float64Array(total).fill(NaN);
  const answer = new Float64Array(total).fill(NaN);
  const errors: Record<string, number> = {};
  let delivered = 0;
  let answered = 0;
  let ok = 0;
  let firstPush = Infinity;
  let lastPush = -Infinity;
  const base = process.hrtime.bigint();

  load.receivers.onPush = (frame, t) => {
    const m = frame.metadata;
    if (!m || m.b_run !== run || typeof m.b_seq !== "number" || typeof m.b_t0 !== "string") return;
    const k = m.b_seq;
    if (!(k >= 0 && k < total) || !Number.isNaN(pushLat[k]!)) return;
    pushLat[k] = Number(t - BigInt(m.b_t0)) / 1e6;
    const rel = Number(t - base);
    pushAbs[k] = rel;
    firstPush = Math.min(firstPush, rel);
    lastPush = Math.max(lastPush, rel);
    delivered++;
  };

  const cpu0 = selfCpuSeconds();
  const srv0 = serverPid ? cpuSeconds(serverPid) : null;
  const m0 = machineBusySeconds();
  const w0 = Date.now();
  const paced = await pace(
    rate,
    total,
    durationMs * 2 + 1000,
    (k, schedNs) => {
      const t0 = process.hrtime.bigint();
      sched[k] = schedNs;
      const text = body(load.content, load.targets[k % load.targets.length]!, run, k, t0);
      postJson(load.agent, load.http, load.path, text).then(
        (r) => {
          answered++;
          answer[k] = Number(process.hrtime.bigint() - t0) / 1e6;
          if (r.status === 200) ok++;
          else countError(errors, errorKey(r.status, r.body));
        },
        (err: Error) => {
          answered++;
          countError(errors, `net:${(err as NodeJS.ErrnoException).code ?? err.message}`);
        },
      );
    },
    base,
  );
  const wallS = (Date.now() - w0) / 1000;
  const cpu1 = selfCpuSeconds();
  const srv1 = serverPid ? cpuSeconds(serverPid) : null;
  const m1 = machineBusySeconds();
  await waitUntil(() => answered >= paced.sent && delivered >= ok, drainMs);

  const fromSched: number[] = [];
  for (let k = 0; k < paced.sent; k++) if (!Number.isNaN(pushAbs[k]!)) fromSched.push((pushAbs[k]! - sched[k]!) / 1e6);
  load.receivers.onPush = () => {};
  return {
    rate_target: rate,
    duration_s: round(durationMs / 1000, 1),
    sent: paced.sent,
    achieved_send_rate: paced.achievedRate,
    delivered,
    delivered_rate: round(delivered > 1 ? ((delivered - 1) * 1e9) / Math.max(1, lastPush - firstPush) : 0, 1),
    answered_ok: ok,
    errors,
    lost: paced.sent - delivered,
    max_send_lag_ms: paced.maxSendLagMs,
    push_latency_ms: summarize(pushLat.filter((x) => !Number.isNaN(x))),
    push_latency_from_schedule_ms: summarize(fromSched),
    http_answer_ms: summarize(answer.filter((x) => !Number.isNaN(x))),
    client_cpu_pct: round(((cpu1 - cpu0) / wallS) * 100, 1),
    server_cpu_pct: srv0 !== null && srv1 !== null ? round(((srv1 - srv0) / wallS) * 100, 1) : null,
    other_cpu_pct: otherPct(m0, m1, cpu1 - cpu0, srv0 !== null && srv1 !== null ? srv1 - srv0 : null, wallS),
  };
}

// ---- throughput: N requests in flight ------------------------------------------------------------------

/** "raw": lean keep-alive client (one connection per in-flight request); "node-http": node:http Agent. */
export type ClientKind = "raw" | "node-http";

export interface ThroughputResult {
  client: ClientKind;
  concurrency: number;
  window_s: number;
  accepted: number;
  accepted_per_s: number;
  delivered_in_window: number;
  delivered_per_s: number;
  delivered_total: number;
  not_delivered_after_drain: number;
  drain_ms: number;
  errors: Record<string, number>;
  http_answer_ms: Summary;
  client_cpu_pct: number;
  server_cpu_pct: number | null;
  /** Server CPU time per accepted message (user + system, all threads). */
  server_cpu_us_per_msg: number | null;
  client_cpu_us_per_msg: number | null;
  /** Everything else the machine ran meanwhile (other users' processes), % of one core. */
  other_cpu_pct: number | null;
}

export async function runThroughput(
  load: IngressLoad,
  concurrency: number,
  durationMs: number,
  serverPid: number | undefined,
  client: ClientKind = "raw",
  rampMs = 0,
  drainMs = 5000,
): Promise<ThroughputResult> {
  const run = randomBytes(6).toString("hex");
  const maxCount = Math.ceil((durationMs / 1000) * 200_000); // hard bound, far above anything reachable
  const answerMs: number[] = [];
  const errors: Record<string, number> = {};
  let next = 0;
  let accepted = 0;
  let acceptedInWindow = 0;
  let deliveredInWindow = 0;
  let deliveredTotal = 0;
  let failures = 0;
  let inWindow = false;

  load.receivers.onPush = (frame) => {
    if (frame.metadata?.b_run !== run) return;
    deliveredTotal++;
    if (inWindow) deliveredInWindow++;
  };

  // Connections are opened before the clock starts; a raw connection that drops is reopened (counted as a failure).
  const conns: Array<RawConnection | undefined> = client === "raw" ? await Promise.all(Array.from({ length: concurrency }, () => RawConnection.open(load.http, load.path))) : [];
  const post = async (w: number, text: string): Promise<HttpResult> => {
    if (client === "node-http") return postJson(load.agent, load.http, load.path, text);
    let c = conns[w];
    if (!c?.usable) c = conns[w] = await RawConnection.open(load.http, load.path);
    return c.post(text);
  };

  // Requests start at once; the measured window opens after `rampMs` (connections warm, JIT settled)
  // and closes `durationMs` later, exactly on timers, independent of when the workers notice.
  const t0 = process.hrtime.bigint();
  const endNs = t0 + BigInt(Math.round((rampMs + durationMs) * 1e6));
  let w0 = t0;
  let cpu0 = selfCpuSeconds();
  let srv0 = serverPid ? cpuSeconds(serverPid) : null;
  let m0 = machineBusySeconds();
  let cpu1 = cpu0;
  let srv1 = srv0;
  let m1 = m0;
  let windowNs = 0;
  const openWindow = setTimeout(() => {
    inWindow = true;
    w0 = process.hrtime.bigint();
    cpu0 = selfCpuSeconds();
    srv0 = serverPid ? cpuSeconds(serverPid) : null;
    m0 = machineBusySeconds();
  }, rampMs);
  const closeWindow = setTimeout(() => {
    inWindow = false;
    windowNs = Number(process.hrtime.bigint() - w0);
    cpu1 = selfCpuSeconds();
    srv1 = serverPid ? cpuSeconds(serverPid) : null;
    m1 = machineBusySeconds();
  }, rampMs + durationMs);

  const worker = async (w: number) => {
    while (next < maxCount && failures < 1000 && process.hrtime.bigint() < endNs) {
      const k = next++;
      const s = process.hrtime.bigint();
      const text = body(load.content, load.targets[k % load.targets.length]!, run, k, s);
      try {
        const r = await post(w, text);
        if (inWindow) answerMs.push(Number(process.hrtime.bigint() - s) / 1e6);
        if (r.status === 200) {
          accepted++;
          if (inWindow) acceptedInWindow++;
        } else {
          countError(errors, errorKey(r.status, r.body));
          if (r.status >= 500) await sleep(1); // e.g. endpoint_buffer_full: back off a little
        }
      } catch (err) {
        failures++;
        countError(errors, `net:${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        await sleep(5);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  for (const c of conns) c?.close();
  if (windowNs === 0) {
    // Workers only finish early on failures; the timers close the window otherwise.
    clearTimeout(openWindow);
    clearTimeout(closeWindow);
    inWindow = false;
    windowNs = Math.max(1, Number(process.hrtime.bigint() - w0));
    cpu1 = selfCpuSeconds();
    srv1 = serverPid ? cpuSeconds(serverPid) : null;
    m1 = machineBusySeconds();
  }
  const drain = await waitUntil(() => deliveredTotal >= accepted, drainMs);
  load.receivers.onPush = () => {};
  const windowS = windowNs / 1e9;
  return {
    client,
    concurrency,
    window_s: round(windowS, 2),
    accepted,
    accepted_per_s: round(acceptedInWindow / windowS, 0),
    delivered_in_window: deliveredInWindow,
    delivered_per_s: round(deliveredInWindow / windowS, 0),
    delivered_total: deliveredTotal,
    not_delivered_after_drain: Math.max(0, accepted - deliveredTotal),
    drain_ms: drain,
    errors,
    http_answer_ms: summarize(answerMs),
    client_cpu_pct: round(((cpu1 - cpu0) / windowS) * 100, 1),
    server_cpu_pct: srv0 !== null && srv1 !== null ? round(((srv1 - srv0) / windowS) * 100, 1) : null,
    server_cpu_us_per_msg: srv0 !== null && srv1 !== null && acceptedInWindow > 0 ? round(((srv1 - srv0) * 1e6) / acceptedInWindow, 1) : null,
    client_cpu_us_per_msg: acceptedInWindow > 0 ? round(((cpu1 - cpu0) * 1e6) / acceptedInWindow, 1) : null,
    other_cpu_pct: otherPct(m0, m1, cpu1 - cpu0, srv0 !== null && srv1 !== null ? srv1 - srv0 : null, windowS),
  };
}

// ---- floor: WebSocket echo ----------------------------------------------------------------------------

export interface EchoResult {
  rate_target: number;
  sent: number;
  achieved_send_rate: number;
  received: number;
  lost: number;
  max_send_lag_ms: number;
  /** Round trip client -> server -> client. */
  rtt_ms: Summary;
}

export async function runEcho(url: string, rate: number, durationMs: number, drainMs = 3000): Promise<EchoResult> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`echo socket did not open`)), 5000);
    ws.once("open", () => (clearTimeout(timer), resolve()));
    ws.once("error", (e) => (clearTimeout(timer), reject(e)));
  });
  try {
    const total = Math.max(1, Math.round((rate * durationMs) / 1000));
    const rtt = new Float64Array(total).fill(NaN);
    let received = 0;
    ws.on("message", (data: WebSocket.RawData) => {
      const t = process.hrtime.bigint();
      const f = JSON.parse(data.toString()) as { b_seq: number; b_t0: string };
      if (f.b_seq >= 0 && f.b_seq < total && Number.isNaN(rtt[f.b_seq]!)) {
        rtt[f.b_seq] = Number(t - BigInt(f.b_t0)) / 1e6;
        received++;
      }
    });
    const paced = await pace(rate, total, durationMs * 2 + 1000, (k) => {
      ws.send(JSON.stringify({ event: "echo", b_seq: k, b_t0: String(process.hrtime.bigint()), content: "x".repeat(64) }));
    });
    await waitUntil(() => received >= paced.sent, drainMs);
    return {
      rate_target: rate,
      sent: paced.sent,
      achieved_send_rate: paced.achievedRate,
      received,
      lost: paced.sent - received,
      max_send_lag_ms: paced.maxSendLagMs,
      rtt_ms: summarize(rtt.filter((x) => !Number.isNaN(x))),
    };
  } finally {
    ws.terminate();
  }
}
