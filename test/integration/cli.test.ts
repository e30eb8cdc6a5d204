// The switchboard command against a real broker it finds or starts itself.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { brokerPaths } from "../../src/platform/paths.js";
import { readDiscovery } from "../../src/platform/discovery.js";
import { BrokerApi } from "../../src/client/api.js";
import { tempHome } from "../support/broker.js";
import { openStream } from "../support/ws.js";
import { runCli } from "../support/cli.js";

const cli = (home: string, ...args: string[]) => runCli(home, args, { timeoutMs: 15_000 });

/** The broker the CLI started in `dir`: a typed API on it, and this process's stream (needed to register). */
async function brokerStream(dir: string) {
  const d = await readDiscovery(brokerPaths(dir).discoveryFile);
  if (d.kind !== "ok") throw new Error(`no broker recorded in ${dir}: ${d.kind}`);
  return { api: new BrokerApi(d.record), s: await openStream(d.record, process.pid) };
}

describe("switchboard CLI", () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  before(async () => (home = await tempHome()));
  after(async () => {
    const d = await readDiscovery(brokerPaths(home.home).discoveryFile);
    if (d.kind === "ok") {
      process.kill(d.record.pid, "SIGTERM");
      await new Promise((r) => setTimeout(r, 300));
    }
    await home.cleanup();
  });

  it("says clearly that no broker runs when told not to start one", async () => {
    const r = await cli(home.home, "status", "--no-start");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /No broker is running for .*Start one with `switchboard broker`/);
  });

  it("concurrent commands against no broker start exactly one", async () => {
    const runs = await Promise.all(Array.from({ length: 4 }, () => cli(home.home, "status", "--json")));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const pids = new Set(runs.map((r) => JSON.parse(r.stdout).pid));
    assert.equal(pids.size, 1);
    assert.equal(runs.filter((r) => JSON.parse(r.stdout).spawned).length, 1, "one of them started it");
  });

  it("broker shows the status of the running broker", async () => {
    const r = await cli(home.home, "broker");
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Broker running at http:\/\/127\.0\.0\.1:\d+ \(pid \d+/);
    assert.match(r.stdout, /protocol 1\.1/);
  });

  it("send, inbox list, route to a session and dismiss", async () => {
    const { api, s } = await brokerStream(home.home);
    try {
      const ep = await api.register({ plugin_pid: process.pid, kind: "pi", session_name: "worker" });
      const sessions = await cli(home.home, "sessions");
      assert.match(sessions.stdout, /worker\s+pi\s+active/);

      const sent = JSON.parse((await cli(home.home, "send", "--json", "please", "review")).stdout);
      assert.equal(sent.status, "undispatched");
      const list = JSON.parse((await cli(home.home, "inbox", "list", "--json")).stdout);
      assert.equal(list.find((i: any) => i.id === sent.undispatched_id)?.content, "please review");

      const routed = await cli(home.home, "inbox", "route", sent.undispatched_id, "worker");
      assert.equal(routed.code, 0, routed.stderr);
      assert.match(routed.stdout, /Routed .* to worker/);
      assert.equal((await s.next((f) => f.event === "message_received")).content, "please review");

      const direct = await cli(home.home, "send", "--to", "worker", "hello worker");
      assert.match(direct.stdout, /was delivered to/);
      await s.next((f) => f.content === "hello worker");

      const second = JSON.parse((await cli(home.home, "send", "--json", "noise")).stdout);
      assert.equal((await cli(home.home, "inbox", "dismiss", second.undispatched_id, "--reason", "noise")).code, 0);
      assert.equal((await cli(home.home, "inbox")).stdout.trim(), "The inbox is empty.");
      await api.unregister(ep.endpoint_id);
    } finally {
      await s.close();
    }
  });

  it("approvals approve/reject and history say approved and rejected", async () => {
    const { api, s } = await brokerStream(home.home);
    try {
      const ep = (await api.register({ plugin_pid: process.pid, kind: "pi", session_name: "asker" })).endpoint_id;
      const ask = (command: string) => api.requestApproval({ endpoint_id: ep, action: "sh", summary: `run ${command}`, command });
      const a = await ask("make a");
      const r = await ask("make r");
      const approved = await cli(home.home, "approvals", "approve", a.approval_id);
      assert.equal(approved.code, 0, approved.stderr);
      assert.match(approved.stdout, new RegExp(`^Approved ${a.approval_id} \\(run make a\\)\\.`));
      const rejected = await cli(home.home, "approvals", "reject", r.approval_id, "--reason", "not now");
      assert.equal(rejected.code, 0, rejected.stderr);

      const history = await cli(home.home, "approvals", "history");
      assert.match(history.stdout, /^ {2}approved by cli:/m);
      assert.match(history.stdout, /^ {2}rejected by cli:.*: not now$/m);
      assert.doesNotMatch(history.stdout, /rejectd/);
      await api.unregister(ep);
    } finally {
      await s.close();
    }
  });

  it("approvals approve/reject on an approval resolved before: says by whom and how, the first decision stands, exit 1", async () => {
    const { api, s } = await brokerStream(home.home);
    try {
      const ep = (await api.register({ plugin_pid: process.pid, kind: "pi", session_name: "asker" })).endpoint_id;
      const ask = (command: string) => api.requestApproval({ endpoint_id: ep, action: "sh", summary: `run ${command}`, command });
      const a = await ask("make a");
      const r = await ask("make r");
      assert.equal((await cli(home.home, "approvals", "approve", a.approval_id)).code, 0);
      assert.equal((await cli(home.home, "approvals", "reject", r.approval_id, "--reason", "not now")).code, 0);
      // Again, the same way: not "Approved" a second time.
      const again = await cli(home.home, "approvals", "approve", a.approval_id);
      assert.equal(again.code, 1);
      assert.equal(again.stdout, "");
      assert.match(again.stderr, new RegExp(`Approval ${a.approval_id} was already approved by cli:\\S+ \\d+s ago; the first decision stands\\.`));
      // The other way: the first decider, the outcome and the reason.
      const flip = await cli(home.home, "approvals", "approve", r.approval_id);
      assert.equal(flip.code, 1);
      assert.match(flip.stderr, new RegExp(`Approval ${r.approval_id} was already rejected by cli:\\S+ \\d+s ago \\(reason: not now\\); the first decision stands\\.`));
      // Decided elsewhere (VS Code) just before: named as such.
      const v = await ask("make v");
      await api.decide(v.approval_id, { decision: "approve", decided_by: "vscode:other-window" });
      const late = await cli(home.home, "approvals", "approve", v.approval_id);
      assert.equal(late.code, 1);
      assert.match(late.stderr, /was already approved by vscode:other-window/);
      // Withdrawn by its requester.
      const w = await ask("make w");
      await api.withdrawApproval(w.approval_id, process.pid);
      const gone = await cli(home.home, "approvals", "reject", w.approval_id);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, new RegExp(`Approval ${w.approval_id} was withdrawn by its requester \\d+s ago; nothing was changed\\.`));
      await api.unregister(ep);
    } finally {
      await s.close();
    }
  });

  it("send to the inbox names the item once and says how to route it", async () => {
    const sent = await cli(home.home, "send", "look", "at", "this");
    assert.equal(sent.code, 0, sent.stderr);
    const id = /^Message (msg_\S+) /.exec(sent.stdout)?.[1];
    assert.ok(id, sent.stdout);
    assert.equal(sent.stdout.trim(), `Message ${id} waits in the inbox; route it from the Switchboard sidebar or with: switchboard inbox route ${id} SESSION.`);
    assert.equal((await cli(home.home, "inbox", "dismiss", id)).code, 0);
  });

  it("sessions shows a connected session as seen now, not minutes ago", async () => {
    const { api, s } = await brokerStream(home.home);
    try {
      const ep = (await api.register({ plugin_pid: process.pid, kind: "pi", session_name: "seen-test" })).endpoint_id;
      const sessions = await cli(home.home, "sessions");
      assert.match(sessions.stdout, /^SESSION\s+KIND\s+STATE\s+WORKSPACE\s+TASK\s+SEEN\s+ID$/m);
      assert.match(sessions.stdout, new RegExp(`^seen-test\\s+pi\\s+active\\s+\\S+\\s+\\S+\\s+now\\s+${ep}$`, "m"));
      await api.unregister(ep);
    } finally {
      await s.close();
    }
  });

  it("errors are sentences with non-zero exits", async () => {
    const unknownSession = await cli(home.home, "inbox", "route", "msg_x", "nobody");
    assert.equal(unknownSession.code, 1);
    assert.match(unknownSession.stderr, /No open session is named "nobody"/);
    const unknownItem = await cli(home.home, "inbox", "dismiss", "msg_nope");
    assert.equal(unknownItem.code, 1);
    assert.match(unknownItem.stderr, /No inbox item has id msg_nope/);
    const usage = await cli(home.home, "frobnicate");
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Unknown command "frobnicate"/);
    const badFlag = await cli(home.home, "status", "--bogus");
    assert.equal(badFlag.code, 2);
    // An option another command takes is refused too, not silently ignored.
    const wrongCommand = await cli(home.home, "status", "--to", "someone");
    assert.equal(wrongCommand.code, 2);
    assert.match(wrongCommand.stderr, /--to does not apply to status/);
    const sendFlag = await cli(home.home, "send", "--reason", "x", "hello");
    assert.equal(sendFlag.code, 2);
    assert.match(sendFlag.stderr, /--reason does not apply to send, which takes --to, --from/);
    const noText = await cli(home.home, "send");
    assert.equal(noText.code, 2);
    const toNobody = await cli(home.home, "send", "--to", "nobody", "x");
    assert.equal(toNobody.code, 1);
    assert.match(toNobody.stderr, /recipient_unknown/);
  });
});
