/// <reference types="mocha" />
// Runs inside a real VS Code extension host (code-server's VS Code 1.139), against the broker the
// extension itself spawns in SWITCHBOARD_HOME. The test plays the agent with the client library.
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import WebSocket from "ws";
import { BrokerApi } from "../../../src/client/api.js";
import { discover } from "../../../src/client/discover.js";
import type { SwitchboardApi } from "../../../src/extension/extension.js";
import type { Approval, DiscoveryRecord } from "../../../src/protocol/index.js";

const EXTENSION_ID = "agent-switchboard.agent-switchboard";

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** An agent: its own /v1/stream (as this extension host's pid would collide, it uses a child's pid). */
async function agent(record: DiscoveryRecord, pid: number, name: string) {
  const ws = new WebSocket(record.ipcUrl.replace("http", "ws") + "/v1/stream", {
    headers: { authorization: `Bearer ${record.bearerToken}`, "x-plugin-pid": String(pid), "x-masons-ipc-capabilities": "push_receipt_ack_v1" },
  });
  const frames: any[] = [];
  ws.on("message", (d) => {
    const f = JSON.parse(d.toString());
    frames.push(f);
    if (f.push_id) ws.send(JSON.stringify({ event: "push_ack", push_id: f.push_id }));
  });
  await new Promise((res, rej) => (ws.once("open", res), ws.once("error", rej)));
  const api = new BrokerApi(record);
  const folder = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
  const ep = await api.register({ plugin_pid: pid, kind: "pi", session_name: name, workspace: { root: folder, cwd: folder } });
  return { api, ws, frames, endpointId: ep.endpoint_id, close: () => ws.close() };
}

suite("Agent Switchboard in a real VS Code", () => {
  let ext: SwitchboardApi;
  let record: DiscoveryRecord;
  const { spawn } = require("node:child_process") as typeof import("node:child_process");
  const sleeper = spawn("sleep", ["600"], { stdio: "ignore" });

  suiteSetup(async () => {
    const extension = vscode.extensions.getExtension<SwitchboardApi>(EXTENSION_ID);
    assert.ok(extension, "the extension is installed");
    ext = await extension.activate();
    await ext.registered;
    record = ext.switchboard.brokerRecord!;
  });

  suiteTeardown(() => {
    sleeper.kill();
  });

  test("activates, spawns the bundled broker and registers this window as a vscode endpoint", async () => {
    assert.ok(record, "a discovery record");
    // The sidebar says "connected" once the observer feed's snapshot is in (it opens after registering).
    await until("the sidebar state to be connected", () => ext.switchboard.state().connection.phase === "connected");
    const sessions = await new BrokerApi(record).endpoints();
    const self = sessions.find((s) => s.endpoint_id === ext.switchboard.selfEndpointId);
    assert.ok(self, "this window is an open session");
    assert.equal(self.kind, "vscode");
    assert.equal(self.plugin_pid, process.pid);
    assert.deepEqual(self.workspace, { root: vscode.workspace.workspaceFolders![0]!.uri.fsPath, cwd: vscode.workspace.workspaceFolders![0]!.uri.fsPath });
    const ms = await ext.registered;
    console.log(`activation to endpoint registered: ${ms.toFixed(1)} ms (including spawning the broker)`);
  });

  test("another client finds and reuses the same broker", async () => {
    const found = await discover({ home: process.env.SWITCHBOARD_HOME, spawn: true, timeoutMs: 5000 });
    assert.equal(found.record.pid, record.pid);
    assert.equal(found.spawned, false);
  });

  test("an approval arrives in the state and is approved with the command; the agent is told", async () => {
    const a = await agent(record, sleeper.pid!, "agent-approve");
    try {
      const req = await a.api.requestApproval({ endpoint_id: a.endpointId, action: "sh", summary: "run the tests", command: "npm test" });
      await until("the approval in the sidebar state", () => ext.switchboard.state().approvals.find((x) => x.approval_id === req.approval_id));
      assert.equal(ext.switchboard.pendingCount(), 1);
      // The key binding's command shows a Quick Pick first; Enter (accept) approves the highlighted, oldest one.
      const shown = vscode.commands.executeCommand("switchboard.approveOldest");
      await until("the Quick Pick to accept the approval", async () => {
        await vscode.commands.executeCommand("workbench.action.acceptSelectedQuickOpenItem");
        return (await a.api.approval(req.approval_id)).state === "approved" || undefined;
      });
      await shown;
      const pushed = await until("approval_resolved at the agent", () => a.frames.find((f) => f.event === "approval_resolved" && f.approval.approval_id === req.approval_id));
      assert.equal(pushed.approval.state, "approved");
      assert.match(pushed.approval.decided_by, /VS Code/);
      await until("the card to leave", () => !ext.switchboard.state().approvals.some((x) => x.approval_id === req.approval_id) || undefined);
    } finally {
      a.close();
    }
  });

  test("a rejection with a reason reaches the agent", async () => {
    const a = await agent(record, sleeper.pid!, "agent-reject");
    try {
      const req = await a.api.requestApproval({ endpoint_id: a.endpointId, action: "edit", summary: "edit package.json" });
      await until("pending", () => ext.switchboard.state().approvals.find((x) => x.approval_id === req.approval_id));
      const msg = await ext.actions.reject(req.approval_id, "use a branch");
      assert.match(msg, /Rejected/);
      const decided: Approval = await a.api.approval(req.approval_id);
      assert.equal(decided.state, "rejected");
      assert.equal(decided.reason, "use a branch");
    } finally {
      a.close();
    }
  });

  test("a late decision says what already happened: approved by someone else, or rejected with their reason", async () => {
    const a = await agent(record, sleeper.pid!, "agent-late");
    try {
      const r1 = await a.api.requestApproval({ endpoint_id: a.endpointId, action: "sh", summary: "deploy", command: "make deploy" });
      await until("pending", () => ext.switchboard.state().approvals.find((x) => x.approval_id === r1.approval_id));
      await a.api.decide(r1.approval_id, { decision: "approve", decided_by: "another window" });
      await assert.rejects(ext.actions.approve(r1.approval_id), (e: Error) => e.message === "Already approved by another window.");
      await assert.rejects(ext.actions.reject(r1.approval_id, "too late"), (e: Error) => e.message === "Already approved by another window.");

      const r2 = await a.api.requestApproval({ endpoint_id: a.endpointId, action: "edit", summary: "edit package.json" });
      await until("pending", () => ext.switchboard.state().approvals.find((x) => x.approval_id === r2.approval_id));
      await a.api.decide(r2.approval_id, { decision: "reject", decided_by: "the CLI", reason: "not on a Friday" });
      await assert.rejects(ext.actions.approve(r2.approval_id), (e: Error) => e.message === "Already rejected by the CLI: not on a Friday.");
      // Once this window has heard, too.
      await until("the decision in this window", () => !ext.switchboard.state().approvals.some((x) => x.approval_id === r2.approval_id) || undefined);
      await assert.rejects(ext.actions.approve(r2.approval_id), (e: Error) => e.message === "Already rejected by the CLI: not on a Friday.");
      assert.equal((await a.api.approval(r2.approval_id)).state, "rejected");
    } finally {
      a.close();
    }
  });

  test("a stream opens a terminal that replays it from the start, stdout as is, stderr in red, with its exit", async () => {
    const a = await agent(record, sleeper.pid!, "agent-stream");
    try {
      const req = await a.api.requestApproval({ endpoint_id: a.endpointId, action: "sh", summary: "build", command: "make" });
      await until("pending", () => ext.switchboard.state().approvals.find((x) => x.approval_id === req.approval_id));
      await ext.actions.approve(req.approval_id);
      const s = await a.api.startStream({ endpoint_id: a.endpointId, action: "sh", command: "make", cwd: "/tmp", approval_id: req.approval_id });
      await a.api.appendChunks(s.stream_id, [
        { channel: 1, data: "compiling\n" },
        { channel: 2, data: "warning: x\n" },
        { channel: 1, data: "done\n" },
      ]);
      await a.api.completeStream(s.stream_id, { exit_code: 3, duration_ms: 1500 });
      const t = await until("the terminal to show the end", () => {
        const tr = ext.terminals.transcript(s.stream_id);
        return tr?.ended ? tr : undefined;
      });
      assert.ok(ext.terminals.terminal(s.stream_id), "a terminal was opened for the stream this window approved");
      assert.match(t.text, /\$ make/);
      assert.match(t.text, /compiling\r\n/);
      assert.match(t.text, /\x1b\[31mwarning: x\r\n\x1b\[39m/);
      assert.match(t.text, /done\r\n/);
      assert.match(t.text, /exit 3 after 1\.5 s/);
    } finally {
      a.close();
    }
  });

  test("pending approvals survive the window reconnecting to the broker", async () => {
    const a = await agent(record, sleeper.pid!, "agent-persist");
    try {
      const req = await a.api.requestApproval({ endpoint_id: a.endpointId, action: "sh", summary: "deploy", command: "make deploy" });
      await until("pending", () => ext.switchboard.state().approvals.find((x) => x.approval_id === req.approval_id));
      await vscode.commands.executeCommand("switchboard.reconnect");
      await until("connected again", () => ext.switchboard.state().connection.phase === "connected" && ext.switchboard.selfEndpointId);
      await until("the approval again", () => ext.switchboard.state().approvals.find((x) => x.approval_id === req.approval_id));
      await a.api.withdrawApproval(req.approval_id);
    } finally {
      a.close();
    }
  });

  test("New pi Session opens pi in a terminal with the adapter, and it becomes an open session", async function () {
    this.timeout(60_000);
    const pi = process.env.SWITCHBOARD_TEST_PI;
    assert.ok(pi, "the runner passes the pi executable from node_modules");
    await vscode.workspace.getConfiguration("switchboard").update("pi.args", ["--offline", "--no-session"], vscode.ConfigurationTarget.Global);
    await vscode.workspace.getConfiguration("switchboard").update("pi.command", pi, vscode.ConfigurationTarget.Global);
    await until("settings applied", () => ext.switchboard.state().connection.phase === "connected");
    await vscode.commands.executeCommand("switchboard.newPiSession");
    const session = await until(
      "a pi session",
      () => ext.switchboard.state().sessions.find((s) => s.kind === "pi" && s.plugin_pid !== sleeper.pid && s.state === "active"),
      45_000,
    );
    assert.match(session.label, /^pi/);
    assert.ok(
      vscode.window.terminals.some((t) => t.name === "pi · Switchboard"),
      "a terminal runs pi",
    );
    for (const t of vscode.window.terminals.filter((t) => t.name === "pi · Switchboard")) t.dispose();
    // Closing the terminal ends pi: its session closes (or, while the process is still exiting, stops being active).
    await until(
      "the pi session to end when its terminal closes",
      () => ext.switchboard.state().sessions.find((s) => s.endpoint_id === session.endpoint_id)?.state !== "active" || undefined,
      30_000,
    );
  });

  test("Restart Broker brings up a new broker and this window is back as a session", async () => {
    const before = record.pid;
    await vscode.commands.executeCommand("switchboard.restartBroker");
    const after = await until(
      "a new broker",
      () => {
        const r = ext.switchboard.brokerRecord;
        return r && r.pid !== before && ext.switchboard.state().connection.phase === "connected" ? r : undefined;
      },
      20_000,
    );
    record = after;
    const sessions = await new BrokerApi(record).endpoints();
    assert.ok(sessions.some((s) => s.endpoint_id === ext.switchboard.selfEndpointId && s.kind === "vscode"));
  });

  test("deactivating unregisters this window's endpoint", async () => {
    const id = ext.switchboard.selfEndpointId!;
    // The running extension's own deactivate(), as VS Code calls it: the module VS Code loaded.
    const loaded = vscode.extensions.getExtension(EXTENSION_ID)!;
    const entry = loaded.extensionPath + "/dist/extension.cjs";
    const mod = require(entry) as { deactivate(): Promise<void> };
    await mod.deactivate();
    const sessions = await new BrokerApi(record).endpoints();
    assert.ok(!sessions.some((s) => s.endpoint_id === id), "the endpoint is gone");
    // Leave no broker behind.
    process.kill(record.pid, "SIGTERM");
  });
});
