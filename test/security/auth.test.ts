// The bearer token against the real broker: a missing or wrong token gets 401 on every route and every
// WebSocket, all refusals look alike, and how long a refusal takes says nothing about the token.
//
// Timing is measured twice:
//  - in process, on the very function the server uses (src/broker/auth.ts), against a byte-by-byte
//    compare as a positive control: the same method must see the control's signal (the later the first
//    wrong byte, the longer it takes) and must not see one in the real check;
//  - end to end over HTTP on loopback, interleaving the four kinds of refusal in a fresh random order
//    every round, so that the noise of this machine hits them all alike.
//
//   npm run build && node --import tsx --test --test-reporter=spec test/security/auth.test.ts
import { readFile } from "node:fs/promises";
import { Agent } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bearerChecker } from "../../src/broker/auth.js";
import { ROOT, startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { tryUpgrade } from "../support/ws.js";
import { SOAK, Summary, median, raw, round, routeCases, shuffled, signTest, trimmedMean, wsPaths } from "./helpers.js";

const S = new Summary("security/auth");

/** The token with one character changed at `i` (still base64url, same length). */
const flip = (token: string, i: number) => token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1);

describe("security/auth: bearer token", () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  let b: TestBroker;
  before(async () => {
    home = await tempHome("sb-sec-auth-");
    b = await startBroker(home.home);
  });
  after(async () => {
    await b?.stop();
    await home?.cleanup();
    S.print();
  });

  it("a missing or wrong token gets 401 unauthorized on every route, with one body for all of them", async () => {
    const token = b.record.bearerToken;
    S.equal(token.length, 43, "the token is 43 characters of base64url (32 bytes)");
    const wrong: Record<string, string | undefined> = {
      missing: undefined,
      empty: "",
      scheme_only: "Bearer",
      scheme_space: "Bearer ",
      short: `Bearer ${token.slice(0, 20)}`,
      long: `Bearer ${token}x`,
      first_byte: `Bearer ${flip(token, 0)}`,
      middle_byte: `Bearer ${flip(token, 21)}`,
      last_byte: `Bearer ${flip(token, 42)}`,
      other_scheme: `Basic ${Buffer.from(`user:${token}`).toString("base64")}`,
      token_twice: `Bearer ${token}${token}`,
      huge: `Bearer ${"A".repeat(8000)}`,
    };
    const bodies = new Set<string>();
    const cases = routeCases({ endpoint: "ep_x", approval: "apr_x", stream: "str_x", inbox: "msg_x" });
    for (const c of cases) {
      for (const [kind, authorization] of Object.entries(wrong)) {
        const r = await raw(b.record, c.method, c.path, { auth: false, body: c.body, headers: authorization === undefined ? {} : { authorization } });
        if (!c.auth) {
          S.equal(r.status, 200, `${c.method} ${c.path} needs no token`);
          continue;
        }
        S.error(r, 401, "unauthorized", `${c.method} ${c.path} with ${kind}`);
        bodies.add(r.text);
        if (authorization && authorization.length > 8) S.ok(!r.text.includes(authorization.slice(7)), `the 401 body does not echo what was presented (${kind})`);
      }
    }
    S.equal(bodies.size, 1, `every refusal has the same body: ${[...bodies].join(" | ")}`);
    // A token in the query string is not a token.
    S.error(await raw(b.record, "GET", `/v1/endpoints?token=${token}&access_token=${token}`, { auth: false }), 401, "unauthorized", "token in the query");
    // The right token works, as "Bearer <token>" and bare (as in MASONS).
    S.equal((await raw(b.record, "GET", "/v1/endpoints")).status, 200);
    S.equal((await raw(b.record, "GET", "/v1/endpoints", { auth: false, headers: { authorization: token } })).status, 200);
    S.set("routes", cases.length);
  });

  it("without the token, unknown routes, wrong methods and unknown WebSocket paths answer 401 like known routes (the token is checked before routing)", async () => {
    const bodies = new Set<string>();
    const probes: [string, string][] = [
      ["GET", "/v1/nope"],
      ["GET", "/nope"],
      ["POST", "/health"],
      ["DELETE", "/health"],
      ["GET", "/v1/send"],
      ["PUT", "/v1/approvals"],
      ["PATCH", "/v1/streams/str_x"],
      ["GET", "/v1/endpoint/ep_x/heartbeat"],
      ["GET", "/v1/approvals/apr_x/decision"],
      ["OPTIONS", "/v1/endpoints"],
    ];
    for (const [method, path] of probes) {
      const r = await raw(b.record, method, path, { auth: false });
      S.error(r, 401, "unauthorized", `${method} ${path} without a token`);
      bodies.add(r.text);
      // With the token the same requests are routed: 404 or 405, as the protocol says.
      const routed = await raw(b.record, method, path);
      S.ok(routed.status === 404 || routed.status === 405, `${method} ${path} with the token is routed (${routed.status})`);
    }
    const known = await raw(b.record, "GET", "/v1/endpoints", { auth: false });
    bodies.add(known.text);
    S.equal(bodies.size, 1, `an unknown route's 401 is the known route's 401: ${[...bodies].join(" | ")}`);
    const base = b.record.ipcUrl.replace("http", "ws");
    for (const path of ["/v1/nope", "/v1/streams/str_x/other", "/health"]) {
      S.equal(await tryUpgrade(base + path, {}), 401, `WebSocket ${path} without a token`);
      S.equal(await tryUpgrade(base + path, { authorization: `Bearer ${b.record.bearerToken}` }), 404, `WebSocket ${path} with the token`);
    }
    S.set("unrouted_401", probes.length);
  });

  it("every WebSocket upgrade needs the token", async () => {
    const base = b.record.ipcUrl.replace("http", "ws");
    const token = b.record.bearerToken;
    for (const path of wsPaths("str_x")) {
      const pid: Record<string, string> = path === "/v1/stream" ? { "x-plugin-pid": "4242" } : {};
      S.equal(await tryUpgrade(base + path, { ...pid }), 401, `${path} without a token`);
      S.equal(await tryUpgrade(base + path, { ...pid, authorization: `Bearer ${flip(token, 42)}` }), 401, `${path} with a wrong last byte`);
      S.equal(await tryUpgrade(base + path, { ...pid, authorization: `Bearer ${token.slice(1)}` }), 401, `${path} with a short token`);
      S.equal(await tryUpgrade(`${base}${path}?token=${token}`, { ...pid }), 401, `${path} with the token in the query`);
    }
    S.equal(await tryUpgrade(`${base}/v1/events`, { authorization: `Bearer ${token}` }), 101, "the right token upgrades");
  });

  it("the server checks the token with timingSafeEqual over a buffer of the token's length, the length apart (no early exit)", async () => {
    const server = await readFile(join(ROOT, "src/broker/server.ts"), "utf8");
    const auth = await readFile(join(ROOT, "src/broker/auth.ts"), "utf8");
    S.ok(/import \{ bearerChecker \} from "\.\/auth\.js";/.test(server), "server.ts uses bearerChecker from auth.ts");
    S.ok(/bearerChecker\(opts\.token\)/.test(server), "…built from the broker's token");
    S.ok(!/timingSafeEqual|\.token\.length|=== ?this\.token|token ?===/.test(server), "server.ts has no token comparison of its own");
    S.ok(/const sameBytes = timingSafeEqual\(given, expected\);/.test(auth), "auth.ts compares a fixed-length copy with timingSafeEqual");
    S.ok(/return Buffer\.byteLength\(presented, "utf8"\) === expected\.length && sameBytes;/.test(auth), "…and compares the length only after the bytes were compared");

    const token = b.record.bearerToken;
    const check = bearerChecker(token);
    S.equal(check(`Bearer ${token}`), true);
    S.equal(check(token), true, "the bare token");
    for (const presented of [
      undefined,
      "",
      "Bearer ",
      `Bearer ${token.slice(0, 42)}`,
      `Bearer ${token}=`,
      `Bearer ${flip(token, 0)}`,
      `Bearer ${"x".repeat(100_000)}`,
      `bearer ${token}`,
    ])
      S.equal(check(presented), false, `refused without throwing: ${String(presented).slice(0, 60)}`);
  });

  it("in process: no timing signal from the position of the first wrong byte or from the length (byte-by-byte control shows one)", () => {
    const token = b.record.bearerToken;
    const real = bearerChecker(token);
    // The positive control: what a naive compare does (length first, then stop at the first difference).
    const naive = (h: string | undefined) => {
      const x = h ?? "";
      const p = x.startsWith("Bearer ") ? x.slice(7) : x;
      if (p.length !== token.length) return false;
      for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) !== token.charCodeAt(i)) return false;
      return true;
    };
    const classes = { missing: undefined, wrong_length: `Bearer ${token}x`, first_byte: `Bearer ${flip(token, 0)}`, last_byte: `Bearer ${flip(token, 42)}` } as const;
    type Kind = keyof typeof classes;
    const kinds = Object.keys(classes) as Kind[];
    const rounds = SOAK ? 4000 : 500;
    const measure = (fn: (h: string | undefined) => boolean, batch: number) => {
      const t = Object.fromEntries(kinds.map((k) => [k, [] as number[]])) as Record<Kind, number[]>;
      for (let i = 0; i < 50; i++) for (const k of kinds) for (let j = 0; j < batch; j++) fn(classes[k]); // warm-up (JIT)
      for (let r = 0; r < rounds; r++) {
        for (const k of shuffled(kinds)) {
          const h = classes[k];
          const t0 = process.hrtime.bigint();
          for (let j = 0; j < batch; j++) if (fn(h)) throw new Error("a wrong token was accepted");
          t[k].push(Number(process.hrtime.bigint() - t0) / batch);
        }
      }
      const diffs = t.last_byte.map((x, i) => x - t.first_byte[i]!);
      const lenDiffs = t.first_byte.map((x, i) => x - t.wrong_length[i]!);
      return {
        medians: Object.fromEntries(kinds.map((k) => [k, round(median(t[k]), 2)])) as Record<Kind, number>,
        lastMinusFirst: median(diffs),
        valueMinusLength: median(lenDiffs),
        sign: signTest(t.last_byte, t.first_byte),
      };
    };
    const control = measure(naive, 2000);
    const checked = measure(real, 200);
    S.set("in_process", {
      rounds,
      checker_ns: checked.medians,
      checker_last_minus_first_ns: round(checked.lastMinusFirst, 2),
      checker_value_minus_length_ns: round(checked.valueMinusLength, 2),
      checker_last_slower_fraction: round(checked.sign.fraction, 3),
      control_ns: control.medians,
      control_last_minus_first_ns: round(control.lastMinusFirst, 2),
      control_last_slower_fraction: round(control.sign.fraction, 3),
    });
    // The method can see a byte-by-byte compare: the last-byte case is consistently slower.
    S.ok(control.sign.fraction > 0.9 && control.lastMinusFirst > 30, `control: byte-by-byte shows its signal (${JSON.stringify(control)})`);
    // The real check shows no consistent ordering, and any difference is far below the control's.
    S.ok(checked.sign.fraction > 0.3 && checked.sign.fraction < 0.7, `checker: no consistent ordering of last- vs first-byte (${JSON.stringify(checked.sign)})`);
    S.ok(
      Math.abs(checked.lastMinusFirst) < 0.25 * control.lastMinusFirst,
      `checker: |last - first| ${checked.lastMinusFirst} ns is far below the control's ${control.lastMinusFirst} ns`,
    );
    S.ok(Math.abs(checked.valueMinusLength) < 0.25 * control.lastMinusFirst, `checker: a wrong length costs what a wrong value costs (${checked.valueMinusLength} ns)`);
  });

  it("over HTTP: a right-length wrong token is refused as fast as a missing or short one, with no ordering by byte position", async () => {
    const token = b.record.bearerToken;
    const classes = { missing: undefined, wrong_length: `Bearer ${token.slice(0, 20)}`, first_byte: `Bearer ${flip(token, 0)}`, last_byte: `Bearer ${flip(token, 42)}` } as const;
    type Kind = keyof typeof classes;
    const kinds = Object.keys(classes) as Kind[];
    // One kept-alive connection for everything: no connect cost, the same socket for every sample.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const t = Object.fromEntries(kinds.map((k) => [k, [] as number[]])) as Record<Kind, number[]>;
    const once = async (k: Kind) => {
      const h = classes[k];
      const t0 = process.hrtime.bigint();
      const r = await raw(b.record, "GET", "/v1/endpoints", { auth: false, agent, headers: h === undefined ? {} : { authorization: h } });
      const ns = Number(process.hrtime.bigint() - t0);
      if (r.status !== 401) throw new Error(`${k}: expected 401, got ${r.status}`);
      return ns;
    };
    const rounds = SOAK ? 20_000 : 1500;
    try {
      for (let i = 0; i < 100; i++) for (const k of kinds) await once(k); // warm-up
      const started = Date.now();
      for (let r = 0; r < rounds; r++) for (const k of shuffled(kinds)) t[k].push(await once(k));
      const seconds = (Date.now() - started) / 1000;
      const wrongValue = [...t.first_byte, ...t.last_byte];
      const otherFailures = [...t.missing, ...t.wrong_length];
      const med = Object.fromEntries(kinds.map((k) => [k, median(t[k])])) as Record<Kind, number>;
      const pairedLastFirst = median(t.last_byte.map((x, i) => x - t.first_byte[i]!));
      const sign = signTest(t.last_byte, t.first_byte);
      const ratio = median(wrongValue) / median(t.wrong_length);
      S.set("timing", {
        rounds,
        seconds: round(seconds, 1),
        wrong_value_ns_median: Math.round(median(wrongValue)),
        wrong_length_ns_median: Math.round(med.wrong_length),
        missing_ns_median: Math.round(med.missing),
        other_failures_ns_median: Math.round(median(otherFailures)),
        first_byte_ns_median: Math.round(med.first_byte),
        last_byte_ns_median: Math.round(med.last_byte),
        first_byte_ns_trimmed_mean: Math.round(trimmedMean(t.first_byte)),
        last_byte_ns_trimmed_mean: Math.round(trimmedMean(t.last_byte)),
        wrong_value_ns_trimmed_mean: Math.round(trimmedMean(wrongValue)),
        other_failures_ns_trimmed_mean: Math.round(trimmedMean(otherFailures)),
        ratio: round(ratio, 4),
        last_minus_first_paired_median_ns: Math.round(pairedLastFirst),
        last_slower_fraction: round(sign.fraction, 3),
        last_slower_z: round(sign.z, 2),
      });
      const meds = Object.values(med);
      S.ok(Math.max(...meds) / Math.min(...meds) < 1.1, `all refusals take the same time within 10% (medians ${JSON.stringify(med)})`);
      S.ok(ratio > 0.9 && ratio < 1.1, `wrong value vs wrong length: ratio ${ratio}`);
      S.ok(sign.fraction > 0.3 && sign.fraction < 0.7, `no consistent ordering of last- vs first-byte refusals (${JSON.stringify(sign)})`);
      S.ok(Math.abs(pairedLastFirst) < 0.05 * median(wrongValue), `paired last - first ${pairedLastFirst} ns is under 5% of a refusal`);
    } finally {
      agent.destroy();
    }
  });

  it("a token from an earlier broker run is refused after a restart", async () => {
    const old = b.record;
    S.equal(await b.stop(), 0, "the broker stops cleanly");
    b = await b.restart();
    S.ok(b.record.bearerToken !== old.bearerToken, "each run has a new token");
    S.error(await raw({ ...b.record, bearerToken: old.bearerToken }, "GET", "/v1/endpoints"), 401, "unauthorized", "the old token");
    S.equal((await raw(b.record, "GET", "/v1/endpoints")).status, 200);
  });
});
