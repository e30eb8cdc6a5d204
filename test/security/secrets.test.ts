// The token and the state folder: who can read them and where the token may (not) show up.
//
//  - Every folder under the state folder is 0700 and no file is group- or world-readable, even when the
//    broker (and a client that spawns it) runs with umask 000, and a state folder created loosely before
//    is tightened.
//  - After a run with refusals of every kind, the token is in no file but discovery.json (not in the broker
//    log, spawn.log, the journal, the audit log or stream files), in no error body, in no output or error
//    of the CLI, in no BrokerApi or BrokerClient error, and not in the sidebar state sent to the webview
//    (which has no token field at all, nor an endpoint owner token).
//
//   npm run build && node --import tsx --test --test-reporter=spec test/security/secrets.test.ts
import { chmod, mkdir, readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BrokerApi, BrokerClient, discover } from "../../src/client/index.js";
import { sidebarState } from "../../src/extension/state.js";
import { writeDiscovery } from "../../src/platform/discovery.js";
import { brokerPaths } from "../../src/platform/paths.js";
import { pidAlive } from "../../src/platform/process.js";
import { SidebarState, parseWith, type DiscoveryRecord } from "../../src/protocol/index.js";
import { BROKER_ENTRY, startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { waitFor, within } from "../support/wait.js";
import { openFeed, openStream } from "../support/ws.js";
import { Summary, raw } from "./helpers.js";
import { runCli } from "../support/cli.js";

const S = new Summary("security/secrets");
const json = (v: unknown) => JSON.stringify(v);
/** A token-shaped canary: if it ever shows up in output, something echoed what a client presented. */
const CANARY = "CANARYcanaryCANARYcanaryCANARYcanaryCANARY0";

interface Tree {
  dirs: { path: string; mode: number }[];
  files: { path: string; mode: number; size: number; text: string }[];
}

async function walk(root: string): Promise<Tree> {
  const tree: Tree = { dirs: [], files: [] };
  const visit = async (dir: string) => {
    tree.dirs.push({ path: dir, mode: (await stat(dir)).mode & 0o777 });
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await visit(p);
      else if (e.isFile()) {
        const st = await stat(p);
        // The broker's Unix socket has a mode but no content to read.
        tree.files.push({ path: p, mode: st.mode & 0o777, size: st.size, text: e.isSocket() ? "" : await readFile(p, "utf8") });
      }
    }
  };
  await visit(root);
  return tree;
}

const octal = (m: number) => m.toString(8).padStart(4, "0");

/** The broker under `umask 000`: any file it created without an explicit mode would be 0666. */
const LOOSE = { shell: "umask 000" };

/** Everything a session does: endpoint, messages, approvals decided (audit), a stream with output. */
async function exercise(record: DiscoveryRecord): Promise<void> {
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    raw(record, method, path, { body: body === undefined ? undefined : json(body), headers });
  const s = await openStream(record, process.pid);
  try {
    const ep = (await call("POST", "/v1/endpoint/register", { plugin_pid: process.pid, kind: "pi", session_name: "secrets" })).body.endpoint_id;
    await call("POST", "/v1/messages", { from: "ci", content: "to the inbox" });
    await call("POST", "/v1/messages", { from: "ci", content: "to the endpoint", metadata: { target_endpoint_id: ep } });
    const ap = (await call("POST", "/v1/approvals", { endpoint_id: ep, action: "sh", summary: "build", command: "make" })).body;
    await call("POST", `/v1/approvals/${ap.approval_id}/decision`, { decision: "approve", decided_by: "test" });
    const st = (await call("POST", "/v1/streams", { endpoint_id: ep, action: "sh", command: "make", approval_id: ap.approval_id })).body;
    await call("POST", `/v1/streams/${st.stream_id}/chunks`, {
      chunks: [
        { channel: 1, data: "output\n" },
        { channel: 2, data: "warning\n" },
      ],
    });
    await call("POST", `/v1/streams/${st.stream_id}/complete`, { exit_code: 0 });
  } finally {
    await s.close();
  }
}

/** Refusals of every kind, some presenting token-like values, one crashing nothing. */
async function refusals(record: DiscoveryRecord): Promise<string[]> {
  const bodies: string[] = [];
  const port = new URL(record.ipcUrl).port;
  const token = record.bearerToken;
  const flipped = token.slice(0, 42) + (token[42] === "A" ? "B" : "A");
  for (const [headers, auth] of [
    [{}, false],
    [{ authorization: `Bearer ${CANARY}` }, false],
    [{ authorization: `Bearer ${flipped}` }, false],
    [{ authorization: token.slice(0, 40) }, false],
    [{ host: `attacker.example:${port}` }, true],
    [{ origin: "https://attacker.example" }, true],
  ] as const) {
    for (const path of ["/v1/endpoints", "/v1/approvals/apr_nope", "/v1/streams/str_nope"]) bodies.push((await raw(record, "GET", path, { auth, headers })).text);
  }
  bodies.push((await raw(record, "POST", "/v1/messages", { body: "{not json" })).text);
  bodies.push((await raw(record, "POST", "/v1/messages", { body: json({ from: 5 }) })).text);
  bodies.push((await raw(record, "POST", "/v1/approvals/apr_nope/decision", { body: json({ decision: "approve", decided_by: "x" }) })).text);
  bodies.push((await raw(record, "GET", "/v1/nope")).text);
  bodies.push((await raw(record, "PUT", "/v1/endpoints")).text);
  return bodies;
}

describe("security/secrets: permissions and where the token (never) appears", () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  let b: TestBroker;
  before(async () => {
    home = await tempHome("sb-sec-secrets-");
  });
  after(async () => {
    await b?.stop().catch(() => {});
    await home?.cleanup();
    S.print();
  });

  it("with umask 000, every folder under the state folder is 0700 and no file is readable by group or others", async () => {
    const loose = await tempHome("sb-sec-umask-");
    try {
      // 1) A broker started directly, with activity of every kind, then a graceful stop (snapshot written).
      let broker = await startBroker(loose.home, {}, LOOSE);
      let record = broker.record;
      const tokens = [record.bearerToken];
      const umask = /^Umask:\s*(\d+)$/m.exec(await readFile(`/proc/${broker.proc.pid}/status`, "utf8"))?.[1];
      S.equal(umask, "0000", "the broker really runs with umask 000");
      await exercise(record);
      await refusals(record);
      await broker.stop();
      // 2) Started again (journal replay, a second log run), and checked while it runs (discovery file present).
      broker = await broker.restart();
      record = broker.record;
      tokens.push(record.bearerToken);
      await exercise(record);
      const tree = await walk(loose.home);
      await broker.stop();
      // 3) A client that spawns the broker itself (discover, as the extension and CLI do), also under umask 000.
      const spawnHome = await tempHome("sb-sec-spawn-");
      const old = process.umask(0);
      let spawned: DiscoveryRecord;
      try {
        spawned = (await discover({ home: spawnHome.home, spawn: true, brokerEntry: BROKER_ENTRY, timeoutMs: 10_000 })).record;
      } finally {
        process.umask(old);
      }
      tokens.push(spawned.bearerToken);
      try {
        await exercise(spawned);
        const spawnTree = await walk(spawnHome.home);
        tree.dirs.push(...spawnTree.dirs);
        tree.files.push(...spawnTree.files);
        S.ok(
          spawnTree.files.some((f) => f.path.endsWith("spawn.log")),
          "the spawning client created spawn.log",
        );
      } finally {
        process.kill(spawned.pid, "SIGTERM");
        await waitFor(() => !pidAlive(spawned.pid), 10_000, "the spawned broker to exit");
        await spawnHome.cleanup();
      }

      const names = tree.files.map((f) => f.path.slice(f.path.indexOf("/broker/")));
      for (const want of ["/broker/discovery.json", "/broker/log/broker.log", "/broker/audit/audit.ndjson", "/broker/journal/snapshot.json"])
        S.ok(names.includes(want), `${want} was created (files: ${names.join(", ")})`);
      S.ok(
        names.some((n) => n.startsWith("/broker/journal/log-")),
        "a journal segment was created",
      );
      S.ok(
        names.some((n) => n.startsWith("/broker/streams/")),
        "a stream file was created",
      );
      for (const d of tree.dirs) S.equal(octal(d.mode), "0700", `folder ${d.path}`);
      for (const f of tree.files) S.equal(f.mode & 0o077, 0, `file ${f.path} is ${octal(f.mode)}`);
      const discovery = tree.files.find((f) => f.path.endsWith("/broker/discovery.json"))!;
      S.equal(octal(discovery.mode), "0600", "discovery.json is 0600");
      // spawn.log holds the spawned broker's stderr, the broker log its messages: neither a token.
      for (const f of tree.files.filter((x) => !x.path.endsWith("/discovery.json"))) S.ok(!tokens.some((t) => f.text.includes(t)), `${f.path} holds no token`);
      S.set("permissions", { folders: tree.dirs.length, files: tree.files.length, umask: "000" });
    } finally {
      await loose.cleanup();
    }
  });

  it("a state folder created loosely beforehand is tightened to 0700 on start", async () => {
    const pre = await tempHome("sb-sec-pre-");
    try {
      const p = brokerPaths(pre.home);
      await mkdir(p.logDir, { recursive: true });
      for (const dir of [pre.home, p.brokerDir, p.logDir]) await chmod(dir, 0o755);
      const broker = await startBroker(pre.home);
      try {
        for (const dir of [pre.home, p.brokerDir, p.logDir]) S.equal(octal((await stat(dir)).mode & 0o777), "0700", `${dir} was tightened`);
        S.equal(octal((await stat(p.discoveryFile)).mode & 0o777), "0600");
      } finally {
        await broker.stop();
      }
    } finally {
      await pre.cleanup();
    }
  });

  it("after a run with refusals of every kind, the token is in no file but discovery.json and in no error body", async () => {
    b = await startBroker(home.home);
    await exercise(b.record);
    const bodies = await refusals(b.record);
    const token = b.record.bearerToken;
    for (const body of bodies) {
      S.ok(!body.includes(token), `no token in ${body.slice(0, 100)}`);
      S.ok(!body.includes(CANARY), `no echo of a presented token in ${body.slice(0, 100)}`);
    }
    await b.stop();
    const log = await readFile(brokerPaths(home.home).logFile, "utf8");
    S.ok(log.includes("endpoint registered") && log.includes("approval resolved"), "the log covers the run");
    const files = (await walk(home.home)).files;
    let scanned = 0;
    for (const f of files) {
      const text = await readFile(f.path, "utf8");
      scanned += text.length;
      S.ok(!text.includes(CANARY), `${f.path} holds no presented token`);
      if (!f.path.endsWith("/discovery.json")) S.ok(!text.includes(token), `${f.path} does not hold the token`);
    }
    S.set("scanned", { files: files.map((f) => f.path.slice(home.home.length + 1)), bytes: scanned, refusals: bodies.length });
    b = await b.restart();
  });

  it("the CLI never prints the token: normal output, errors, and a wrong token", async () => {
    const token = b.record.bearerToken;
    const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(home.home, args, { env, timeoutMs: 20_000 }).then((r) => ({ code: r.code, out: r.stdout + r.stderr }));
    const runs = [
      ["status"],
      ["status", "--json"],
      ["sessions", "--json"],
      ["approvals", "history", "--json"],
      ["approvals", "approve", "apr_nope"],
      ["inbox", "dismiss", "msg_nope"],
      ["send", "--to", "nobody-here", "hello"],
      ["streams", "show", "str_nope"],
      ["nonsense-command"],
    ];
    let failures = 0;
    for (const args of runs) {
      const r = await cli([...args, "--no-start"]);
      if (r.code !== 0) failures++;
      S.ok(!r.out.includes(token), `switchboard ${args.join(" ")} does not print the token`);
    }
    S.ok(failures >= 5, `the error cases failed (${failures})`);
    // A discovery record with a wrong (canary) token, pointing at the real broker: refused, not echoed.
    const wrongHome = await tempHome("sb-sec-wrong-");
    try {
      await mkdir(brokerPaths(wrongHome.home).brokerDir, { recursive: true, mode: 0o700 });
      await writeDiscovery(brokerPaths(wrongHome.home).discoveryFile, { ...b.record, bearerToken: CANARY });
      for (const args of [["status"], ["sessions"], ["approvals"], ["send", "hello"]]) {
        const r = await cli([...args, "--no-start"], { SWITCHBOARD_HOME: wrongHome.home });
        S.ok(r.code !== 0, `switchboard ${args[0]} fails with a wrong token: ${r.out}`);
        S.ok(/token/i.test(r.out), `…and says the token is wrong: ${r.out}`);
        S.ok(!r.out.includes(CANARY) && !r.out.includes(token), `…without printing either token: ${r.out}`);
      }
    } finally {
      await wrongHome.cleanup();
    }
  });

  it("BrokerApi and BrokerClient errors never carry the token", async () => {
    const texts: string[] = [];
    const collect = (e: unknown) => texts.push(String(e), (e as Error)?.stack ?? "", json(e), json((e as { extra?: unknown }).extra ?? null));
    const wrong = new BrokerApi({ ipcUrl: b.record.ipcUrl, bearerToken: CANARY }, { timeoutMs: 3000 });
    for (const call of [() => wrong.endpoints(), () => wrong.approvals(), () => wrong.decide("apr_x", { decision: "approve", decided_by: "x" }), () => wrong.replayStream("str_x")])
      await call().then(
        () => S.ok(false, "a wrong token was accepted"),
        (e) => (S.equal((e as { status?: number }).status, 401), collect(e)),
      );
    const right = new BrokerApi(b.record, { timeoutMs: 3000 });
    for (const call of [() => right.decide("apr_nope", { decision: "approve", decided_by: "x" }), () => right.unregister("ep_x"), () => right.taskHint("ep_nope", 1, "x")])
      await call().then(() => undefined, collect);
    const unreachable = new BrokerApi({ ipcUrl: "http://127.0.0.1:9", bearerToken: CANARY }, { timeoutMs: 1000 });
    await unreachable.endpoints().then(() => S.ok(false, "port 9 answered"), collect);

    // A BrokerClient whose discovery record has a wrong token: it fails to connect; nothing it reports holds it.
    const dir = await tempHome("sb-sec-client-");
    try {
      const file = join(dir.home, "discovery.json");
      await writeDiscovery(file, { ...b.record, bearerToken: CANARY });
      const client = new BrokerClient({ discover: { discoveryFile: file, spawn: false }, clientKind: "security-test", reconnect: { maxAttempts: 2 } });
      client.on("connection", (c: { reason?: string; error?: unknown }) => (texts.push(c.reason ?? ""), c.error && collect(c.error)));
      client.on("error", collect);
      await within(
        client.connect().then(() => S.ok(false, "connected with a wrong token"), collect),
        15_000,
        "the client to give up",
      );
      texts.push(client.lastFailure ?? "");
      await client.close();
    } finally {
      await dir.cleanup();
    }
    S.ok(
      texts.some((t) => /401|unauthorized|token/i.test(t)),
      `the errors say what went wrong: ${texts.filter(Boolean).slice(0, 3).join(" | ")}`,
    );
    for (const t of texts) S.ok(!t.includes(CANARY) && !t.includes(b.record.bearerToken), `no token in: ${t.slice(0, 200)}`);
  });

  it("the sidebar state sent to the webview has no token field and no token value; views and the feed carry no owner token", async () => {
    const s = await openStream(b.record, process.pid);
    const reg = await new BrokerApi(b.record).register({ plugin_pid: process.pid, kind: "pi", session_name: "webview-check", workspace: "/w" });
    const ownerToken = reg.endpoint_owner_token;
    await exercise(b.record);
    const api = new BrokerApi(b.record);
    const ap = await api.requestApproval({ endpoint_id: reg.endpoint_id, action: "sh", summary: "pending one", command: "make" });
    const client = new BrokerClient({ discover: { home: home.home, spawn: false }, clientKind: "vscode", observe: true });
    try {
      await client.connect();
      const model = await waitFor(() => (client.feed?.approvals.has(ap.approval_id) ? client.feed : undefined), 5000, "the feed to show the approval");
      const info = client.serverInfo;
      const state = sidebarState(model, {
        phase: "connected",
        reason: undefined,
        brokerUrl: info.brokerUrl,
        brokerVersion: info.serverVersion,
        self: { endpoint_id: reg.endpoint_id, session_name: "webview-check" },
        messages: [],
        recentStreams: 20,
      });
      S.ok(state.sessions.length > 0 && state.approvals.length > 0 && state.streams.length > 0 && state.inbox.length > 0, "the state has something in every list");
      S.ok(parseWith(SidebarState, state).ok, "it is a valid SidebarState");
      const text = json(state);
      const keys = new Set<string>();
      const visit = (v: unknown) => {
        if (Array.isArray(v)) v.forEach(visit);
        else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) keys.add(k), visit(x);
      };
      visit(state);
      S.deepEqual(
        [...keys].filter((k) => /token|secret|auth/i.test(k)),
        [],
        "no key names a token",
      );
      S.ok(!text.includes(b.record.bearerToken), "the bearer token is not in the sidebar state");
      S.ok(!text.includes(ownerToken), "no endpoint owner token in the sidebar state");
    } finally {
      await client.close();
    }
    // The owner token is the registering process's alone: not in GET /v1/endpoints, not in the observer feed.
    const listed = await raw(b.record, "GET", "/v1/endpoints");
    S.ok(!listed.text.includes(ownerToken) && !/owner_token/.test(listed.text), "GET /v1/endpoints has no owner token");
    const feed = await openFeed(b.record);
    const snap = await feed.next((f) => f.type === "snapshot");
    S.ok(!json(snap).includes(ownerToken) && !/owner_token/.test(json(snap)), "the feed snapshot has no owner token");
    await feed.close();
    await api.withdrawApproval(ap.approval_id);
    await s.close();
  });
});
