// The approval policy in the real broker: rules decide requests before anyone sees them, recorded like a
// person's decision (audit chain included) with the rule named; saving a rule decides the pending
// requests it matches and the next ones, from an endpoint and from `switchboard run`; workspace allow
// rules wait for the user's acceptance of that exact file; session rules survive a crash and end with
// the session; previews, proposals, refusals, and `switchboard policy` against the broker.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { verifyChain } from "../../src/platform/audit-chain.js";
import type { Approval } from "../../src/protocol/index.js";
import { CLI_ENTRY, startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { del, get, post } from "../support/calls.js";
import { waitFor } from "../support/wait.js";
import { openStream } from "../support/ws.js";
import { runCli } from "../support/cli.js";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

describe("approval policy", () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  let b: TestBroker;
  let stream: Awaited<ReturnType<typeof openStream>>;
  let ws: string;
  let ep: string;
  before(async () => {
    home = await tempHome();
    ws = await mkdtemp(join(tmpdir(), "sb-ws-"));
    b = await startBroker(home.home);
    stream = await openStream(b.record, process.pid);
    ep = (await b.api.register({ plugin_pid: process.pid, kind: "pi", session_name: "agent-p", workspace: { root: ws } })).endpoint_id;
  });
  after(async () => {
    await stream.close();
    await b.stop();
    await home.cleanup();
    await rm(ws, { recursive: true, force: true });
  });

  const ask = (command: string, extra: object = {}): Promise<Approval> =>
    post(b.api, "/v1/approvals", { endpoint_id: ep, action: "sh", summary: command, command, cwd: ws, ...extra });
  const cli = (args: string[], cwd = ws) => runCli(home.home, args, { cwd });

  it("with no rule a request asks a person, and says why", async () => {
    const a = await ask("make build");
    assert.equal(a.state, "pending");
    assert.equal(a.policy?.decision, "ask");
    assert.match(a.policy!.reason, /no rule matches/);
    await del(b.api, `/v1/approvals/${a.approval_id}`);
  });

  it("saving a user rule decides the matching pending request at once, and the next one before anyone sees it", async () => {
    const pending = await ask("npm run test:unit");
    const other = await ask("npm run test:unit > out.txt");
    assert.equal(pending.state, "pending");
    const saved = await post(b.api, "/v1/policy/rules", { scope: "user", rule: { id: "tests", decision: "allow", command: "npm run test:*" } });
    assert.deepEqual(saved.decided, [pending.approval_id], "the one with a write still asks");
    const decided = await get(b.api, `/v1/approvals/${pending.approval_id}`);
    assert.equal(decided.state, "approved");
    assert.match(decided.decided_by, /^rule tests \(user rules \(.*policy\/rules\.json\)\)$/);
    assert.equal((await get(b.api, `/v1/approvals/${other.approval_id}`)).state, "pending");
    await del(b.api, `/v1/approvals/${other.approval_id}`);

    const next = await ask("npm run test:integration");
    assert.equal(next.state, "approved", "decided before anyone saw it");
    assert.equal(next.policy?.rule, "tests");
    const resolved = await stream.next((f) => f.event === "approval_resolved" && f.approval.approval_id === next.approval_id);
    assert.equal(resolved.approval.state, "approved", "the requester is told like for a person's decision");

    // The rule is in the user's file, in the minimal format.
    const file = JSON.parse(await readFile(join(home.home, "policy", "rules.json"), "utf8"));
    assert.deepEqual(file.rules, [{ id: "tests", decision: "allow", command: "npm run test:*" }]);
  });

  it("a deny rule rejects; the audit chain verifies and names the rule; history says who", async () => {
    await post(b.api, "/v1/policy/rules", { scope: "user", rule: { id: "no-rm", decision: "deny", command: "rm *" } });
    const a = await ask("git status && rm -rf /");
    assert.equal(a.state, "rejected");
    assert.equal(a.decided_by, `rule no-rm (user rules (${join(home.home, "policy", "rules.json")}))`);
    assert.match(a.reason!, /Denied by rule no-rm/);
    const audit = await get(b.api, "/v1/audit");
    assert.ok(verifyChain(audit.records).ok);
    const rec = audit.records.find((r: { approval_id: string }) => r.approval_id === a.approval_id);
    assert.equal(rec.outcome, "rejected");
    assert.equal(rec.decided_by, a.decided_by);
    const history = await cli(["approvals", "history"]);
    assert.match(history.stdout, /rejected by rule no-rm \(user rules/);
    assert.match(history.stdout, /approved by rule tests \(user rules/);
    assert.equal((await cli(["audit", "verify"])).code, 0);
  });

  it("switchboard run: the next matching command is approved by the rule and runs at once", async () => {
    await post(b.api, "/v1/policy/rules", { scope: "user", rule: { id: "echo", decision: "allow", command: "echo *" } });
    const child = spawn(process.execPath, [CLI_ENTRY, "run", "--", "echo", "ruled"], {
      cwd: ws,
      env: { ...process.env, SWITCHBOARD_HOME: home.home },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let errText = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (errText += d));
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    assert.equal(code, 0, errText);
    assert.match(out, /ruled/);
    assert.match(errText, /approved by rule echo/);
    // Its output stream says who approved it, for the terminal's header.
    const { streams } = (await get(b.api, "/v1/streams")) as { streams: { command: string; approval_id: string | null; decided_by?: string | null }[] };
    const stream = streams.find((s) => s.command === "echo ruled");
    assert.ok(stream?.approval_id, "the stream follows its approval");
    assert.match(stream.decided_by ?? "", /^rule echo \(user rules \(/);
  });

  it("switchboard run: a pending command is decided when a session rule for it is saved", async () => {
    const child = spawn(process.execPath, [CLI_ENTRY, "run", "--session", "runner-s", "--", "printf", "%s", "later"], {
      cwd: ws,
      env: { ...process.env, SWITCHBOARD_HOME: home.home },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    const pending = await waitFor(async () => (await b.api.approvals("pending")).find((a) => a.command?.startsWith("printf")), 10_000, "run's request");
    const saved = await post(b.api, "/v1/policy/rules", { scope: "session", endpoint_id: pending.endpoint_id, rule: { id: "printf", decision: "allow", command: "printf *" } });
    assert.deepEqual(saved.decided, [pending.approval_id]);
    assert.match(saved.rule.where, /^session runner-s$/);
    assert.equal(await exited, 0);
    assert.equal(out, "later");
    // The session ended: its rules went with it.
    await waitFor(async () => !(await get(b.api, "/v1/policy")).rules.some((r: { rule: { id: string } }) => r.rule.id === "printf"), 10_000, "the session rule to go");
  });

  it("edits are judged by edit rules relative to the workspace; .git and outside always ask", async () => {
    await post(b.api, "/v1/policy/rules", { scope: "user", rule: { id: "src", decision: "allow", edit: "src/**" } });
    const edit = (path: string) => post(b.api, "/v1/approvals", { endpoint_id: ep, action: "edit", summary: `edit ${path}`, path, cwd: ws });
    const ok = await edit(join(ws, "src/a.ts"));
    assert.equal(ok.state, "approved");
    assert.equal(ok.path, join(ws, "src/a.ts"));
    for (const p of [join(ws, ".git/config"), "/etc/hosts", join(ws, "README.md")]) {
      const a = await edit(p);
      assert.equal(a.state, "pending", p);
      await del(b.api, `/v1/approvals/${a.approval_id}`);
    }
  });

  it("a workspace allow rule is ignored until the user accepts that exact file; an edited file needs accepting again", async () => {
    const file = join(ws, ".switchboard", "policy.json");
    await mkdir(join(ws, ".switchboard"), { recursive: true });
    const text = JSON.stringify({
      rules: [
        { id: "ws-curl", decision: "allow", command: "curl *" },
        { id: "ws-ask", decision: "ask", command: "git push *" },
      ],
    });
    await writeFile(file, text);
    const first = await ask("curl https://x");
    assert.equal(first.state, "pending", "a cloned repository cannot approve for you");
    const view = await get(b.api, "/v1/policy");
    const w = view.workspaces.find((x: { root: string }) => x.root === ws);
    assert.equal(w.accepted, false);
    assert.equal(w.sha256, sha(text));
    await assert.rejects(post(b.api, "/v1/policy/workspace/accept", { root: ws, sha256: "0".repeat(64) }), (e: { code: string }) => e.code === "workspace_rules_changed");
    const accepted = await post(b.api, "/v1/policy/workspace/accept", { root: ws, sha256: sha(text) });
    assert.deepEqual(accepted.decided, [first.approval_id], "accepting decides what it now allows");
    assert.equal((await ask("curl https://y")).state, "approved");
    // Edited (by an agent, say): its allow rules are ignored again.
    await writeFile(file, text.replace("curl *", "curl * "));
    const again = await ask("curl https://z");
    assert.equal(again.state, "pending");
    assert.match(again.policy!.reason + JSON.stringify(await get(b.api, "/v1/policy")), /"accepted":false/);
    await del(b.api, `/v1/approvals/${again.approval_id}`);
    await rm(join(ws, ".switchboard"), { recursive: true, force: true });
  });

  it("Allow similar…: a proposal and its preview over recent and pending requests; saving decides the pending ones", async () => {
    const p1 = await ask("cargo test foo");
    const p2 = await ask("cargo test bar --release");
    const p3 = await ask("cargo build");
    const proposal = await get(b.api, `/v1/policy/propose/${p1.approval_id}`);
    assert.deepEqual(proposal.rule, { id: "allow-cargo-test-any", decision: "allow", command: "cargo test *" });
    assert.deepEqual(proposal.preview.pending.map((x: { approval_id: string }) => x.approval_id).sort(), [p1.approval_id, p2.approval_id].sort());
    const preview = await post(b.api, "/v1/policy/preview", { rule: { id: "np", decision: "allow", command: "npm run test:*" } });
    assert.ok(preview.decided.length >= 2, "recent decided requests it would have matched");
    const saved = await post(b.api, "/v1/policy/rules", { scope: "session", endpoint_id: ep, rule: proposal.rule });
    assert.deepEqual(saved.decided.sort(), [p1.approval_id, p2.approval_id].sort());
    assert.equal((await get(b.api, `/v1/approvals/${p3.approval_id}`)).state, "pending");
    await del(b.api, `/v1/approvals/${p3.approval_id}`);
  });

  it("bad rules are refused with a sentence naming them", async () => {
    await assert.rejects(
      post(b.api, "/v1/policy/rules", { scope: "user", rule: { id: "bad", decision: "allow", command: "git log *", examples: { match: ["git log > x"] } } }),
      (e: { code: string; message: string }) => e.code === "rule_invalid" && /rule bad does not allow its example `git log > x`/.test(e.message),
    );
    await assert.rejects(post(b.api, "/v1/policy/rules", { scope: "user", rule: { id: "x", decision: "allow" } }), (e: { code: string }) => e.code === "bad_request");
    await assert.rejects(del(b.api, "/v1/policy/rules/nope"), (e: { code: string }) => e.code === "rule_unknown");
  });

  it("switchboard policy check/list/add/remove against the broker", async () => {
    const check = await cli(["policy", "check", "--json", "--command", "cargo test x | tee log.txt"]);
    assert.equal(check.code, 0, check.stderr);
    const r = JSON.parse(check.stdout);
    assert.equal(r.decision, "ask");
    const sessionCheck = await cli(["policy", "check", "--session", "agent-p", "--json", "--", "cargo", "test", "x"]);
    assert.equal(JSON.parse(sessionCheck.stdout).decision, "allow");
    assert.equal(JSON.parse(sessionCheck.stdout).rule, "allow-cargo-test-any");
    const added = await cli(["policy", "add", "mk", "allow", "--command", "make *"]);
    assert.equal(added.code, 0, added.stderr);
    const list = await cli(["policy", "list"]);
    assert.match(list.stdout, /allow {2}mk {2}command make \*/);
    const removed = await cli(["policy", "remove", "mk"]);
    assert.match(removed.stdout, /Removed mk/);
    const bad = await cli(["policy", "check"]);
    assert.equal(bad.code, 2);
  });

  it("session rules survive a broker crash and end with the session", async () => {
    await post(b.api, "/v1/policy/rules", { scope: "session", endpoint_id: ep, rule: { id: "sess-make", decision: "allow", command: "make *" } });
    await stream.close();
    await b.kill9();
    b = await b.restart();
    stream = await openStream(b.record, process.pid);
    await post(b.api, `/v1/endpoint/${ep}/reattach`, { plugin_pid: process.pid });
    const a = await ask("make all");
    assert.equal(a.state, "approved");
    assert.equal(a.decided_by, "rule sess-make (session agent-p)");
    await del(b.api, `/v1/endpoint/${ep}`);
    const ep2 = (await b.api.register({ plugin_pid: process.pid, kind: "pi", session_name: "agent-p", workspace: { root: ws } })).endpoint_id;
    const later = await post(b.api, "/v1/approvals", { endpoint_id: ep2, action: "sh", summary: "make all", command: "make all", cwd: ws });
    assert.equal(later.state, "pending", "a new session starts without the old one's rules");
    ep = ep2;
  });
});
