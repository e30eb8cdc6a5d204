// The bearer token against the real broker: a missing or wrong token gets 401 on every route and every
// WebSocket, all refusals look alike, and how long a refusal takes says nothing about the token.
//
// That a refusal's time says nothing about the token is checked here by construction (the server's
// only comparison is timingSafeEqual over a fixed-length copy, the length compared after it); the
// timing itself, with a byte-by-byte compare as the positive control, is measured in
// bench/auth-timing.ts: timing belongs in a benchmark, not in a pass/fail test on a noisy machine.
//
//   npm run build && node --import tsx --test --test-reporter=spec test/security/auth.test.ts
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bearerChecker } from "../../src/broker/auth.js";
import { ROOT, startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { tryUpgrade } from "../support/ws.js";
import { Summary, raw, routeCases, wsPaths } from "./helpers.js";

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

  it("a token from an earlier broker run is refused after a restart", async () => {
    const old = b.record;
    S.equal(await b.stop(), 0, "the broker stops cleanly");
    b = await b.restart();
    S.ok(b.record.bearerToken !== old.bearerToken, "each run has a new token");
    S.error(await raw({ ...b.record, bearerToken: old.bearerToken }, "GET", "/v1/endpoints"), 401, "unauthorized", "the old token");
    S.equal((await raw(b.record, "GET", "/v1/endpoints")).status, 200);
  });
});
