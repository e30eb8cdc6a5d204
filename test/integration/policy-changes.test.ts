// The broker announces every change of the rules in force on the observer feed (`policy_changed`), so a
// window's Policy section follows at once without polling: a rule added by `switchboard policy add`,
// the user rules file or a workspace's rules file edited by hand (a new file renamed over the old one,
// as editors save), a session's rules ending with it. Each time GET /v1/policy then lists the new rules.
// The client observes exactly as the VS Code window does (BrokerClient, kind vscode, feed after register).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BrokerClient, type FeedEvent } from "../../src/client/index.js";
import { ROUTES, type Approval, type PolicyChanged, type PolicyView } from "../../src/protocol/index.js";
import { startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { post } from "../support/calls.js";
import { runCli } from "../support/cli.js";
import { waitFor } from "../support/wait.js";

describe("policy_changed on the observer feed", () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  let ws: string;
  let b: TestBroker;
  let client: BrokerClient;
  let windowId: string;
  const changes: PolicyChanged[] = [];

  before(async () => {
    home = await tempHome();
    ws = await mkdtemp(join(tmpdir(), "sb-ws-"));
    b = await startBroker(home.home);
    client = new BrokerClient({ discover: { home: home.home, spawn: false }, clientKind: "vscode", observe: false });
    client.on("feed", (f: FeedEvent) => {
      if (f.type === "change" && f.change.kind === "policy_changed") changes.push(f.change as unknown as PolicyChanged);
    });
    await client.connect();
    windowId = (await client.registerEndpoint({ kind: "vscode", session_name: "window", workspace: { root: ws, cwd: ws } })).endpointId;
    client.startObserving();
    await waitFor(() => client.feed, 10_000, "the feed's snapshot");
  });
  after(async () => {
    await client?.close({ unregister: true });
    await b?.stop();
    await home?.cleanup();
    await rm(ws, { recursive: true, force: true });
  });

  const policy = () => b.api.route(ROUTES.policy, { query: { root: ws } });
  const ids = (v: PolicyView, scope: string) => v.rules.filter((r) => r.scope === scope).map((r) => r.rule.id);
  /** The next policy_changed after `from` that `pred` accepts. */
  const nextChange = (from: number, what: string, pred: (c: PolicyChanged) => boolean) => waitFor(() => changes.slice(from).find(pred), 10_000, what);
  const userFile = () => join(home.home, "policy", "rules.json");
  /** Saves a file the way editors do: a new file beside it, renamed over the old one. */
  const saveLikeAnEditor = async (file: string, text: string) => {
    const tmp = `${file}.swp~`;
    await writeFile(tmp, text);
    await rename(tmp, file);
  };

  it("switchboard policy add: announced at once, and GET /v1/policy lists the rule", async () => {
    const from = changes.length;
    const r = await runCli(home.home, ["policy", "add", "mk", "allow", "--command", "make *"], { cwd: ws });
    assert.equal(r.code, 0, r.stderr);
    const c = await nextChange(from, "policy_changed for the user rule", (x) => x.scope === "user" && x.why === "rule_added");
    const view = await policy();
    assert.deepEqual(ids(view, "user"), ["mk"]);
    assert.ok(view.revision !== undefined && view.revision >= c.revision, "the view is at least as new as the change");
    // The broker's own write of the file is not announced a second time by its watch: the next change
    // announced is the next one made.
    const removed = await runCli(home.home, ["policy", "remove", "mk"], { cwd: ws });
    assert.equal(removed.code, 0, removed.stderr);
    const gone = await nextChange(from + 1, "policy_changed for the removal", () => true);
    assert.equal(gone.why, "rule_removed", JSON.stringify(changes.slice(from)));
    assert.equal(gone.revision, c.revision + 1);
    assert.deepEqual(ids(await policy(), "user"), []);
  });

  it("a hand edit of the user rules file (renamed over the old one) is announced; a broken save keeps the deny rules of the last good one", async () => {
    let from = changes.length;
    await saveLikeAnEditor(
      userFile(),
      JSON.stringify({
        rules: [
          { id: "no-curl", decision: "deny", command: "curl *" },
          { id: "ls", decision: "allow", command: "ls" },
        ],
      }),
    );
    await nextChange(from, "policy_changed for the edited user file", (x) => x.scope === "user" && x.why === "file_changed");
    assert.deepEqual(ids(await policy(), "user"), ["no-curl", "ls"]);

    from = changes.length;
    await saveLikeAnEditor(userFile(), '{"rules": [ {"id": "half-written"');
    await nextChange(from, "policy_changed for the broken save", (x) => x.scope === "user" && x.why === "file_changed");
    const broken = await policy();
    assert.deepEqual(ids(broken, "user"), ["no-curl"], "fail closed: the last good deny rule stays, nothing is allowed");
    assert.match(broken.user_error ?? "", /rules\.json\) is not JSON/);
    const denied: Approval = await post(b.api, "/v1/approvals", { endpoint_id: windowId, action: "sh", summary: "curl x", command: "curl x", cwd: ws });
    assert.equal(denied.state, "rejected");

    from = changes.length;
    await saveLikeAnEditor(userFile(), JSON.stringify({ rules: [{ id: "ls", decision: "allow", command: "ls" }] }));
    await nextChange(from, "policy_changed for the fixed file", (x) => x.scope === "user");
    const fixed = await policy();
    assert.deepEqual(ids(fixed, "user"), ["ls"]);
    assert.equal(fixed.user_error, null);
  });

  it("a workspace rules file created and edited by hand in an open session's workspace is announced", async () => {
    let from = changes.length;
    await mkdir(join(ws, ".switchboard"));
    await writeFile(join(ws, ".switchboard", "policy.json"), JSON.stringify({ rules: [{ id: "ws-ask", decision: "ask", command: "git push *" }] }));
    let c = await nextChange(from, "policy_changed for the new workspace file", (x) => x.scope === "workspace");
    assert.equal(c.root, ws);
    assert.deepEqual(ids(await policy(), "workspace"), ["ws-ask"]);

    from = changes.length;
    await saveLikeAnEditor(join(ws, ".switchboard", "policy.json"), JSON.stringify({ rules: [{ id: "ws-deny", decision: "deny", command: "git push *" }] }));
    c = await nextChange(from, "policy_changed for the edited workspace file", (x) => x.scope === "workspace" && x.why === "file_changed");
    assert.deepEqual(ids(await policy(), "workspace"), ["ws-deny"]);
  });

  it("a session rule is announced when saved and when it ends with its session", async () => {
    const agent = (await client.registerEndpoint({ kind: "pi", session_name: "agent" })).endpointId;
    let from = changes.length;
    await b.api.route(ROUTES.addRule, { body: { scope: "session", endpoint_id: agent, rule: { id: "sess-make", decision: "allow", command: "make *" } } });
    await nextChange(from, "policy_changed for the session rule", (x) => x.scope === "session" && x.why === "rule_added" && x.endpoint_id === agent);
    assert.deepEqual(ids(await policy(), "session"), ["sess-make"]);

    from = changes.length;
    await client.unregisterEndpoint(agent);
    await nextChange(from, "policy_changed for the session's end", (x) => x.scope === "session" && x.why === "session_ended" && x.endpoint_id === agent);
    assert.deepEqual(ids(await policy(), "session"), []);

    // A session with no rules of its own ends without a policy change.
    const plain = (await client.registerEndpoint({ kind: "pi", session_name: "plain" })).endpointId;
    from = changes.length;
    await client.unregisterEndpoint(plain);
    // Something announced after it shows the feed has passed that point.
    const r = await runCli(home.home, ["policy", "add", "marker", "ask", "--command", "marker"], { cwd: ws });
    assert.equal(r.code, 0, r.stderr);
    await nextChange(from, "the marker rule", (x) => x.why === "rule_added");
    assert.deepEqual(
      changes.slice(from).map((x) => x.why),
      ["rule_added"],
    );
  });
});
