// Does how long the broker takes to refuse a token say anything about the token? (the bearer check of
// src/broker/auth.ts; docs/security.md). Timing is a figure, so it is measured here and not asserted
// in a test: test/security/auth.test.ts checks the construction (timingSafeEqual over a fixed-length
// copy, the length compared after it).
//
//   npm run build && node --import tsx bench/auth-timing.ts [--quick]
//
// 1. In process, on the very function the server uses, beside a byte-by-byte compare as the positive
//    control: the method must see the control's signal (the later the first wrong byte, the longer it
//    takes) and should see none in the real check.
// 2. End to end over HTTP on loopback (one kept-alive socket), the four kinds of refusal (no token, a
//    wrong length, a wrong first byte, a wrong last byte) interleaved in a fresh random order every
//    round, so that the machine's noise hits them all alike.
import { Agent } from "node:http";
import { bearerChecker } from "../src/broker/auth.js";
import type { DiscoveryRecord } from "../src/protocol/index.js";
import { startTempBroker } from "../test/support/broker.js";
import { raw } from "../test/support/http.js";
import { benchLife } from "./lib/life.js";
import { metric, targetSummary } from "./lib/report.js";
import { median, round, shuffled, signTest, trimmedMean } from "./lib/stats.js";

const QUICK = process.argv.includes("--quick");
const life = benchLife("auth-timing");

/** The token with one character changed at `i` (still base64url, same length). */
const flip = (token: string, i: number) => token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1);

const KINDS = ["missing", "wrong_length", "first_byte", "last_byte"] as const;
type Kind = (typeof KINDS)[number];
type Samples = Record<Kind, number[]>;
const empty = (): Samples => ({ missing: [], wrong_length: [], first_byte: [], last_byte: [] });

function inProcess(token: string) {
  const rounds = QUICK ? 300 : 2000;
  // The positive control: what a naive compare does (length first, then stop at the first difference).
  const naive = (h: string | undefined) => {
    const x = h ?? "";
    const p = x.startsWith("Bearer ") ? x.slice(7) : x;
    if (p.length !== token.length) return false;
    for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) !== token.charCodeAt(i)) return false;
    return true;
  };
  const classes: Record<Kind, string | undefined> = {
    missing: undefined,
    wrong_length: `Bearer ${token}x`,
    first_byte: `Bearer ${flip(token, 0)}`,
    last_byte: `Bearer ${flip(token, 42)}`,
  };
  const measure = (fn: (h: string | undefined) => boolean, batch: number) => {
    const t = empty();
    for (let i = 0; i < 50; i++) for (const k of KINDS) for (let j = 0; j < batch; j++) fn(classes[k]); // warm-up (JIT)
    for (let r = 0; r < rounds; r++) {
      for (const k of shuffled(KINDS)) {
        const h = classes[k];
        const t0 = process.hrtime.bigint();
        for (let j = 0; j < batch; j++) if (fn(h)) throw new Error("a wrong token was accepted");
        t[k].push(Number(process.hrtime.bigint() - t0) / batch);
      }
    }
    return {
      medians_ns: Object.fromEntries(KINDS.map((k) => [k, round(median(t[k]), 2)])),
      last_minus_first_ns: round(median(t.last_byte.map((x, i) => x - t.first_byte[i]!)), 2),
      value_minus_length_ns: round(median(t.first_byte.map((x, i) => x - t.wrong_length[i]!)), 2),
      last_slower_fraction: round(signTest(t.last_byte, t.first_byte).fraction, 3),
    };
  };
  return { rounds, control: measure(naive, 2000), checker: measure(bearerChecker(token), 200) };
}

async function overHttp(record: DiscoveryRecord) {
  const token = record.bearerToken;
  const classes: Record<Kind, string | undefined> = {
    missing: undefined,
    wrong_length: `Bearer ${token.slice(0, 20)}`,
    first_byte: `Bearer ${flip(token, 0)}`,
    last_byte: `Bearer ${flip(token, 42)}`,
  };
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const t = empty();
  const once = async (k: Kind) => {
    const h = classes[k];
    const t0 = process.hrtime.bigint();
    const r = await raw(record, "GET", "/v1/endpoints", { auth: false, agent, headers: h === undefined ? {} : { authorization: h } });
    const ns = Number(process.hrtime.bigint() - t0);
    if (r.status !== 401) throw new Error(`${k}: expected 401, got ${r.status}`);
    return ns;
  };
  const rounds = QUICK ? 300 : 3000;
  try {
    for (let i = 0; i < 100; i++) for (const k of KINDS) await once(k); // warm-up
    for (let r = 0; r < rounds; r++) for (const k of shuffled(KINDS)) t[k].push(await once(k));
  } finally {
    agent.destroy();
  }
  const wrongValue = [...t.first_byte, ...t.last_byte];
  const med = Object.fromEntries(KINDS.map((k) => [k, median(t[k])])) as Record<Kind, number>;
  const meds = Object.values(med);
  return {
    rounds,
    medians_ns: Object.fromEntries(KINDS.map((k) => [k, Math.round(med[k])])),
    trimmed_means_ns: Object.fromEntries(KINDS.map((k) => [k, Math.round(trimmedMean(t[k]))])),
    spread_of_medians: round(Math.max(...meds) / Math.min(...meds), 4),
    wrong_value_over_wrong_length: round(median(wrongValue) / med.wrong_length, 4),
    last_slower_fraction: round(signTest(t.last_byte, t.first_byte).fraction, 3),
    last_minus_first_ns: Math.round(median(t.last_byte.map((x, i) => x - t.first_byte[i]!))),
    refusal_ns: Math.round(median(wrongValue)),
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const broker = await startTempBroker({ prefix: "sb-bench-auth-" });
  try {
    const inproc = inProcess(broker.record.bearerToken);
    const http = await overHttp(broker.record);
    const c = inproc.control;
    const k = inproc.checker;
    const metrics = {
      control_sees_the_signal: metric(c.last_slower_fraction, "fraction", 0.9, ">=", {
        note: `byte-by-byte: last-byte − first-byte ${c.last_minus_first_ns} ns; without it the method proves nothing`,
      }),
      checker_last_vs_first_fraction: metric(k.last_slower_fraction, "fraction", null, null, { note: "0.5 is no ordering; the control's is near 1" }),
      checker_last_minus_first_ns: metric(Math.abs(k.last_minus_first_ns), "ns", round(0.25 * c.last_minus_first_ns, 2), "<", {
        floor: c.last_minus_first_ns,
        floor_name: "the control's last − first",
      }),
      checker_value_minus_length_ns: metric(Math.abs(k.value_minus_length_ns), "ns", round(0.25 * c.last_minus_first_ns, 2), "<"),
      http_spread_of_refusal_medians: metric(http.spread_of_medians, "ratio", 1.1, "<"),
      http_wrong_value_over_wrong_length: metric(http.wrong_value_over_wrong_length, "ratio", 1.1, "<"),
      http_last_minus_first_ns: metric(Math.abs(http.last_minus_first_ns), "ns", Math.round(0.05 * http.refusal_ns), "<", { note: "under 5% of a refusal" }),
    };
    const report = {
      load_average: (await import("node:os")).loadavg()[0],
      duration_s: Math.round((performance.now() - started) / 100) / 10,
      in_process: inproc,
      over_http: http,
      metrics,
      summary: targetSummary(metrics),
    };
    await life.publish("auth-timing", report);
  } finally {
    await broker.cleanup();
  }
}

life.run(main);
