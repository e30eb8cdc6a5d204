// DNS rebinding and browsers against the real broker: every route family and every WebSocket refuses a
// foreign Host (403 host_forbidden) and any Origin (403 origin_forbidden), before the token is even
// looked at, and a refused request changes nothing.
//
// What counts as our Host: exactly one Host header naming 127.0.0.1:PORT or localhost:PORT, compared
// case-insensitively (host names are case-insensitive, so LOCALHOST:PORT is the same name), with an
// origin-form target. Everything else is refused: other names (attacker.example, 127.0.0.1.attacker.example),
// other ports, no port, IPv6 and numeric spellings of loopback (the broker listens on 127.0.0.1 only and
// the protocol names two spellings), a trailing dot, a list, two Host headers, an absolute-form target.
//
//   npm run build && node --import tsx --test --test-reporter=spec test/security/origin.test.ts
import { after, before, describe, it } from "node:test";
import { startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { tryUpgrade } from "../support/ws.js";
import { Summary, portOf, raw, rawBytes, routeCases, upgradeHead, wsPaths } from "./helpers.js";

const S = new Summary("security/origin");

describe("security/origin: Host and Origin", () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  let b: TestBroker;
  let port: number;
  before(async () => {
    home = await tempHome("sb-sec-origin-");
    b = await startBroker(home.home);
    port = portOf(b.record);
  });
  after(async () => {
    await b?.stop();
    await home?.cleanup();
    S.print();
  });

  const foreignHosts = () => [
    "attacker.example",
    `attacker.example:${port}`,
    `127.0.0.1.attacker.example:${port}`,
    `localhost.attacker.example:${port}`,
    `127.0.0.1:${port}.attacker.example`,
    `user@127.0.0.1:${port}`,
    `127.0.0.1:${port}@attacker.example`,
    "127.0.0.1",
    "localhost",
    `127.0.0.1:${port === 65535 ? 1 : port + 1}`,
    `127.0.0.1:0${port}`,
    `localhost.:${port}`,
    `[::1]:${port}`,
    `[::ffff:127.0.0.1]:${port}`,
    `[0:0:0:0:0:0:0:1]:${port}`,
    `0.0.0.0:${port}`,
    `127.0.0.2:${port}`,
    `127.1:${port}`,
    `2130706433:${port}`,
    `0x7f000001:${port}`,
    `127.0.0.1:${port}, attacker.example`,
  ];
  const origins = () => ["https://attacker.example", "null", `http://127.0.0.1:${port}`, `http://localhost:${port}`, "vscode-webview://0123456789abcdef", "file://"];

  it("every HTTP route refuses a foreign Host with 403 host_forbidden, with or without the token", async () => {
    const cases = routeCases({ endpoint: "ep_x", approval: "apr_x", stream: "str_x", inbox: "msg_x" });
    for (const c of cases) {
      for (const host of [`attacker.example:${port}`, `127.0.0.1.attacker.example:${port}`, `[::1]:${port}`]) {
        S.error(await raw(b.record, c.method, c.path, { body: c.body, headers: { host } }), 403, "host_forbidden", `${c.method} ${c.path} Host ${host}`);
        S.error(await raw(b.record, c.method, c.path, { body: c.body, auth: false, headers: { host } }), 403, "host_forbidden", `${c.method} ${c.path} Host ${host}, no token`);
      }
    }
    S.set("routes", cases.length);
  });

  it("every HTTP route refuses an Origin with 403 origin_forbidden, even a same-origin one, with or without the token", async () => {
    for (const c of routeCases({ endpoint: "ep_x", approval: "apr_x", stream: "str_x", inbox: "msg_x" })) {
      for (const origin of origins()) {
        S.error(await raw(b.record, c.method, c.path, { body: c.body, headers: { origin } }), 403, "origin_forbidden", `${c.method} ${c.path} Origin ${origin}`);
        if (origin === "null")
          S.error(
            await raw(b.record, c.method, c.path, { body: c.body, auth: false, headers: { origin } }),
            403,
            "origin_forbidden",
            `${c.method} ${c.path} Origin null, no token`,
          );
      }
      // A browser's form post (text/plain, the classic CSRF shape) carries an Origin too.
      if (c.method === "POST")
        S.error(
          await raw(b.record, c.method, c.path, { body: c.body, headers: { origin: "https://attacker.example", "content-type": "text/plain" } }),
          403,
          "origin_forbidden",
          `${c.method} ${c.path} form post`,
        );
    }
    // An empty Origin header is still an Origin header.
    S.error(
      await rawBytes(b.record, ["GET /v1/endpoints HTTP/1.1", `Host: 127.0.0.1:${port}`, `Authorization: Bearer ${b.record.bearerToken}`, "Origin: "]),
      403,
      "origin_forbidden",
      "empty Origin",
    );
  });

  it("Host variants: only 127.0.0.1:PORT and localhost:PORT (any case) are ours", async () => {
    for (const host of foreignHosts()) {
      S.error(await raw(b.record, "GET", "/v1/endpoints", { headers: { host } }), 403, "host_forbidden", `Host "${host}"`);
      S.error(await raw(b.record, "GET", "/health", { auth: false, headers: { host } }), 403, "host_forbidden", `/health with Host "${host}"`);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `LocalHost:${port}`]) {
      const r = await raw(b.record, "GET", "/v1/endpoints", { headers: { host } });
      S.equal(r.status, 200, `Host "${host}" is ours: ${r.text}`);
    }
    const auth = `Authorization: Bearer ${b.record.bearerToken}`;
    // No Host at all: HTTP/1.1 is refused by Node's parser (400) before any handler; HTTP/1.0 reaches ours.
    const noHost11 = await rawBytes(b.record, ["GET /v1/endpoints HTTP/1.1", auth]);
    S.ok(noHost11.status === 400 || noHost11.status === 403, `HTTP/1.1 without Host is refused: ${noHost11.status}`);
    S.error(await rawBytes(b.record, ["GET /v1/endpoints HTTP/1.0", auth]), 403, "host_forbidden", "HTTP/1.0 without Host");
    S.error(await rawBytes(b.record, ["GET /v1/endpoints HTTP/1.1", "Host: ", auth]), 403, "host_forbidden", "empty Host");
    // Two Host headers, in either order: a proxy and the broker could disagree on which one counts.
    S.error(await rawBytes(b.record, ["GET /v1/endpoints HTTP/1.1", "Host: attacker.example", `Host: 127.0.0.1:${port}`, auth]), 403, "host_forbidden", "bad Host first");
    S.error(await rawBytes(b.record, ["GET /v1/endpoints HTTP/1.1", `Host: 127.0.0.1:${port}`, "Host: attacker.example", auth]), 403, "host_forbidden", "bad Host second");
    // An absolute-form target names its own host, which would win over the header (RFC 9112 §3.2.2).
    S.error(
      await rawBytes(b.record, [`GET http://attacker.example:${port}/v1/endpoints HTTP/1.1`, `Host: 127.0.0.1:${port}`, auth]),
      403,
      "host_forbidden",
      "absolute-form, foreign",
    );
    S.error(await rawBytes(b.record, [`GET http://127.0.0.1:${port}/v1/endpoints HTTP/1.1`, `Host: 127.0.0.1:${port}`, auth]), 403, "host_forbidden", "absolute-form, ours");
    S.error(await rawBytes(b.record, ["OPTIONS * HTTP/1.1", `Host: 127.0.0.1:${port}`, auth]), 403, "host_forbidden", "asterisk-form");
    // A refused Host is never the broker's data, and the error names only what was sent.
    const r = await raw(b.record, "GET", "/v1/endpoints", { headers: { host: `attacker.example:${port}` } });
    S.ok(!r.text.includes(b.record.bearerToken) && !("endpoints" in (r.body ?? {})), "a refusal carries no data");
  });

  it("every WebSocket refuses a foreign Host or any Origin with 403, before the token or pid is checked", async () => {
    const base = b.record.ipcUrl.replace("http", "ws");
    const auth = { authorization: `Bearer ${b.record.bearerToken}`, "x-plugin-pid": "4242" };
    for (const path of wsPaths("str_x")) {
      for (const host of [`attacker.example:${port}`, `127.0.0.1.attacker.example:${port}`, `[::1]:${port}`, `127.0.0.1:${port + 1}`, "localhost"]) {
        S.equal(await tryUpgrade(base + path, { ...auth, host }), 403, `${path} Host ${host}`);
        S.equal(await tryUpgrade(base + path, { host }), 403, `${path} Host ${host}, no token`);
      }
      for (const origin of origins()) {
        S.equal(await tryUpgrade(base + path, { ...auth, origin }), 403, `${path} Origin ${origin}`);
        S.equal(await tryUpgrade(base + path, { origin }), 403, `${path} Origin ${origin}, no token`);
      }
      const tok = `Authorization: Bearer ${b.record.bearerToken}`;
      const noHost = await rawBytes(b.record, upgradeHead(path, [tok, "x-plugin-pid: 4242"]));
      S.ok(noHost.status === 400 || noHost.status === 403, `${path} without Host is refused: ${noHost.status}`);
      S.error(
        await rawBytes(b.record, upgradeHead(path, ["Host: attacker.example", `Host: 127.0.0.1:${port}`, tok, "x-plugin-pid: 4242"])),
        403,
        "host_forbidden",
        `${path} two Hosts`,
      );
      S.error(
        await rawBytes(b.record, [`GET http://attacker.example:${port}${path} HTTP/1.1`, ...upgradeHead(path, [`Host: 127.0.0.1:${port}`, tok, "x-plugin-pid: 4242"]).slice(1)]),
        403,
        "host_forbidden",
        `${path} absolute-form`,
      );
      S.error(
        await rawBytes(b.record, upgradeHead(path, [`Host: 127.0.0.1:${port}`, tok, "x-plugin-pid: 4242", "Origin: http://127.0.0.1"])),
        403,
        "origin_forbidden",
        `${path} raw Origin`,
      );
    }
    // The same upgrades with our Host, the token and no Origin do open.
    S.equal(await tryUpgrade(`${base}/v1/events`, { authorization: auth.authorization }), 101);
    S.equal(await tryUpgrade(`${base}/v1/events`, { authorization: auth.authorization, host: `LOCALHOST:${port}` }), 101);
  });

  it("refused requests changed nothing: no endpoint, message, approval, stream or audit record", async () => {
    const get = async (path: string, headers: Record<string, string> = {}) => (await raw(b.record, "GET", path, { headers })).body;
    S.deepEqual((await get("/v1/endpoints")).endpoints, []);
    S.deepEqual((await get("/v1/undispatched", { "x-plugin-pid": "4242" })).items, []);
    S.deepEqual((await get("/v1/approvals")).approvals, []);
    S.deepEqual((await get("/v1/streams")).streams, []);
    S.deepEqual((await get("/v1/audit")).records, []);
    S.equal(b.proc.exitCode, null, "the broker is alive");
  });
});
