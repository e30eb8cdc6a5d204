// The pi adapter end to end: the real broker, the real pi agent in RPC mode with dist/pi-extension.js,
// and a scripted fake model. A "reviewer" decides through the broker API, as VS Code would.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BrokerApi } from "../../src/client/api.js";
import { BrokerClient, type ClientMessage } from "../../src/client/client.js";
import { brokerPaths } from "../../src/platform/paths.js";
import { installPiExtension, uninstallPiExtension } from "../../src/adapters/pi/install.js";
import { startFakeModel, type FakeModel } from "../support/fake-model/openai.js";
import { startBroker, tempHome, waitForHealthy, type TestBroker, outputOf } from "../support/broker.js";
import { ensurePiExtension, piSandbox, resultText, startPi, type PiEvent, type RpcPi } from "../support/pi.js";
import { terminate } from "../support/process.js";
import { sleep, until } from "../support/wait.js";

const pendingFor = (api: () => BrokerApi, command: string) =>
  until(`a pending approval for ${command}`, async () => (await api().approvals("pending")).find((a) => a.command === command || a.summary.includes(command)));

describe("pi adapter (real pi, real broker, fake model)", () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  let broker: TestBroker;
  let fake: FakeModel;
  let sandbox: Awaited<ReturnType<typeof piSandbox>>;
  let extension: string;
  const pis: RpcPi[] = [];
  const api = () => broker.api;

  before(async () => {
    extension = await ensurePiExtension();
    home = await tempHome("sb-pi-it-");
    broker = await startBroker(home.home);
    fake = await startFakeModel();
    sandbox = await piSandbox(fake.baseUrl);
  });

  after(async () => {
    await Promise.all(pis.map((p) => p.stop(3000)));
    // The adapter may have spawned a broker of its own (after the kill test): stop it too.
    const rec = await readFile(brokerPaths(home.home).discoveryFile, "utf8").then(
      (t) => JSON.parse(t) as { pid: number },
      () => undefined,
    );
    if (rec && rec.pid !== broker.proc.pid) await terminate(rec.pid, 5000);
    await broker.stop();
    await fake.close();
    await sandbox.cleanup();
    await home.cleanup();
  });

  const launch = (env: NodeJS.ProcessEnv = {}) => {
    const pi = startPi({ agentDir: sandbox.agentDir, cwd: sandbox.cwd, extension, env: { SWITCHBOARD_HOME: home.home, SWITCHBOARD_IDLE_EXIT_MINUTES: "2", ...env } });
    pis.push(pi);
    return pi;
  };

  const session = (pid: number) => until(`pi ${pid} to register`, async () => (await api().endpoints()).find((e) => e.plugin_pid === pid));

  const toolEnd = (pi: RpcPi, from = 0) => pi.waitFor((e) => e.type === "tool_execution_end", 20_000, from);

  it("1. pi appears as an open session of kind pi, with workspace and task hint, and leaves on exit", async () => {
    const pi = launch();
    const ep = await session(pi.proc.pid!);
    assert.equal(ep.kind, "pi");
    assert.equal(ep.session_name, "pi: work");
    assert.deepEqual(ep.workspace, { root: sandbox.cwd, cwd: sandbox.cwd });
    assert.equal(ep.state, "active");
    const from = pi.events.length;
    await pi.command({ type: "prompt", message: "summarize the repository layout\nsecond line" });
    await pi.waitFor((e) => e.type === "agent_end", 15_000, from);
    await until("the task hint", async () =>
      (await api().endpoints()).find((e) => e.endpoint_id === ep.endpoint_id)?.task_hint === "summarize the repository layout" ? true : undefined,
    );
    await pi.stop();
    assert.equal(
      (await api().endpoints()).find((e) => e.endpoint_id === ep.endpoint_id),
      undefined,
      "unregistered on exit",
    );
  });

  describe("with one pi session", () => {
    let pi: RpcPi;
    before(async () => {
      pi = launch();
      await session(pi.proc.pid!);
    });

    it("2. a bash call raises an sh approval; approved, it streams stdout/stderr and pi gets the same output", async () => {
      const command = "echo out-line; echo err-line >&2";
      const from = pi.events.length;
      await pi.command({ type: "prompt", message: `bash: ${command}` });
      const a = await pendingFor(api, command);
      assert.equal(a.action, "sh");
      assert.equal(a.session_kind, "pi");
      assert.equal(a.cwd, sandbox.cwd);
      assert.match(a.detail ?? "", /Not read-only: the command contains `;`/);
      await api().decide(a.approval_id, { decision: "approve", decided_by: "test-reviewer" });
      const end = await toolEnd(pi, from);
      assert.equal(end.isError, false);
      const text = resultText(end.result);
      assert.deepEqual(text.split("\n").filter(Boolean).sort(), ["err-line", "out-line"]);
      const streamId = await until("the stream id", async () => (await api().approval(a.approval_id)).stream_id ?? undefined);
      const replay = await until("the stream to end", async () => {
        const r = await api().replayStream(streamId);
        return r.stream.state === "streaming" ? undefined : r;
      });
      assert.equal(replay.stream.state, "completed");
      assert.equal(replay.stream.exit_code, 0);
      assert.equal(replay.stream.action, "sh");
      assert.equal(replay.stream.command, command);
      assert.equal(outputOf(replay.chunks, 1), "out-line\n");
      assert.equal(outputOf(replay.chunks, 2), "err-line\n");
      await pi.waitFor((e) => e.type === "agent_end", 15_000, from);
    });

    it("2b. a failing command: pi reports the exit code as its bash tool does, the stream records it", async () => {
      const command = "echo partial; exit 3";
      const from = pi.events.length;
      await pi.command({ type: "prompt", message: `bash: ${command}` });
      const a = await pendingFor(api, command);
      await api().decide(a.approval_id, { decision: "approve", decided_by: "test-reviewer" });
      const end = await toolEnd(pi, from);
      assert.equal(end.isError, true);
      assert.equal(resultText(end.result), "partial\n\n\nCommand exited with code 3");
      const streamId = await until("the stream id", async () => (await api().approval(a.approval_id)).stream_id ?? undefined);
      const s = await until("the stream to end", async () => {
        const r = await api().replayStream(streamId);
        return r.stream.state === "streaming" ? undefined : r.stream;
      });
      assert.equal(s.exit_code, 3);
      assert.equal(s.status, 500);
      await pi.waitFor((e) => e.type === "agent_end", 15_000, from);
    });

    it("3. a rejection blocks the tool with the reviewer's reason, and pi goes on", async () => {
      const command = "rm -rf ./build";
      const from = pi.events.length;
      await pi.command({ type: "prompt", message: `bash: ${command}` });
      const a = await pendingFor(api, command);
      assert.equal(a.action, "sh");
      await api().decide(a.approval_id, { decision: "reject", decided_by: "test-reviewer", reason: "not on my machine" });
      const end = await toolEnd(pi, from);
      assert.equal(end.isError, true);
      assert.match(resultText(end.result), /Rejected in Switchboard by test-reviewer: not on my machine/);
      // pi continues: the model gets the rejection and answers.
      const final = await pi.waitFor((e) => e.type === "agent_end", 15_000, from);
      assert.ok(final);
      assert.equal((await api().approval(a.approval_id)).stream_id, null, "no stream for a rejected command");
    });

    it("4. a read-only command is raised as env", async () => {
      const command = "ls -la";
      const from = pi.events.length;
      await pi.command({ type: "prompt", message: `bash: ${command}` });
      const a = await pendingFor(api, command);
      assert.equal(a.action, "env");
      assert.match(a.detail ?? "", /^Read-only: `ls`/);
      await api().decide(a.approval_id, { decision: "approve", decided_by: "test-reviewer" });
      const end = await toolEnd(pi, from);
      assert.equal(end.isError, false);
      const streamId = await until("the stream id", async () => (await api().approval(a.approval_id)).stream_id ?? undefined);
      assert.equal((await api().replayStream(streamId)).stream.action, "env");
      await pi.waitFor((e) => e.type === "agent_end", 15_000, from);
    });

    it("write and edit ask as edit, with a unified diff", async () => {
      await import("node:fs/promises").then((fs) => fs.writeFile(join(sandbox.cwd, "notes.txt"), "alpha\nbeta\ngamma\n"));
      let from = pi.events.length;
      await pi.command({ type: "prompt", message: "edit: notes.txt\nbeta\n---\nBETA" });
      const e = await pendingFor(api, "edit notes.txt");
      assert.equal(e.action, "edit");
      assert.equal(e.diff, "--- a/notes.txt\n+++ b/notes.txt\n@@ -1,3 +1,3 @@\n alpha\n-beta\n+BETA\n gamma\n");
      await api().decide(e.approval_id, { decision: "approve", decided_by: "test-reviewer" });
      assert.equal((await toolEnd(pi, from)).isError, false);
      await pi.waitFor((ev) => ev.type === "agent_end", 15_000, from);
      assert.equal(await readFile(join(sandbox.cwd, "notes.txt"), "utf8"), "alpha\nBETA\ngamma\n");

      from = pi.events.length;
      await pi.command({ type: "prompt", message: "write: fresh.txt\nhello\n" });
      const w = await pendingFor(api, "create fresh.txt");
      assert.equal(w.action, "edit");
      await api().decide(w.approval_id, { decision: "reject", decided_by: "test-reviewer", reason: "no new files" });
      const end = await toolEnd(pi, from);
      assert.equal(w.diff, "--- /dev/null\n+++ b/fresh.txt\n@@ -0,0 +1 @@\n+hello\n\\ No newline at end of file\n");
      assert.equal(end.isError, true);
      assert.match(resultText(end.result), /no new files/);
      await pi.waitFor((ev) => ev.type === "agent_end", 15_000, from);
    });

    it("cancelling the stream from VS Code stops the command and tells pi", async () => {
      const command = "echo started; sleep 30; echo never";
      const from = pi.events.length;
      await pi.command({ type: "prompt", message: `bash: ${command}` });
      const a = await pendingFor(api, command);
      await api().decide(a.approval_id, { decision: "approve", decided_by: "test-reviewer" });
      const streamId = await until("the stream id", async () => (await api().approval(a.approval_id)).stream_id ?? undefined);
      await until("output", async () => ((await api().replayStream(streamId)).chunks.length ? true : undefined));
      const t0 = Date.now();
      await api().cancelStream(streamId, "stop that");
      const end = await toolEnd(pi, from);
      assert.ok(Date.now() - t0 < 8000, "stopped promptly");
      assert.equal(end.isError, true);
      assert.match(resultText(end.result), /^started\n\n\nCommand cancelled from Switchboard: stop that$/);
      const s = (await api().replayStream(streamId)).stream;
      assert.equal(s.state, "cancelled");
      await pi.waitFor((ev) => ev.type === "agent_end", 15_000, from);
    });

    it("pi gets exactly what its own bash tool gives, truncation included", async () => {
      const command = "seq 1 3000; echo tail-marker";
      const from = pi.events.length;
      await pi.command({ type: "prompt", message: `bash: ${command}` });
      const a = await pendingFor(api, command);
      await api().decide(a.approval_id, { decision: "approve", decided_by: "test-reviewer" });
      const withAdapter = resultText((await toolEnd(pi, from)).result);
      await pi.waitFor((ev) => ev.type === "agent_end", 15_000, from);

      const plain = startPi({ agentDir: sandbox.agentDir, cwd: sandbox.cwd });
      pis.push(plain);
      await plain.command({ type: "prompt", message: `bash: ${command}` });
      const without = resultText((await toolEnd(plain)).result);
      await plain.stop();
      const norm = (t: string) => t.replace(/Full output: \S+/g, "Full output: <file>");
      const tail = (t: string) => JSON.stringify(t.slice(-160));
      assert.ok(/\[Showing lines \d+-\d+ of \d+\. Full output: \S+\]$/.test(withAdapter), `truncated as pi does: ${tail(withAdapter)}`);
      assert.ok(norm(withAdapter) === norm(without), `same result as plain pi:\n${tail(withAdapter)}\n${tail(without)}`);
    });

    it("5. a message routed from the inbox starts a pi turn, and the answer goes back in reply", async () => {
      const harness = await BrokerClient.create({ discover: { home: home.home, spawn: false }, clientKind: "test-harness" });
      try {
        const ep = await harness.registerEndpoint({ kind: "test", session_name: "harness" });
        const received: ClientMessage[] = [];
        harness.on("message", (m) => received.push(m));
        const piEp = await session(pi.proc.pid!);
        const sent = await api().ingress({ from: "harness", content: "what is in the inbox?" });
        assert.equal(sent.status, "undispatched");
        const from = pi.events.length;
        const res = await api().dispatch(sent.undispatched_id!, piEp.endpoint_id);
        assert.equal(res.status, "delivered");
        await pi.waitFor((e) => e.type === "agent_start", 10_000, from);
        const userMsg = await pi.waitFor((e) => e.type === "message_end" && (e.message as { role: string }).role === "user", 10_000, from);
        assert.match(JSON.stringify(userMsg), /what is in the inbox\?/);
        await pi.waitFor((e) => e.type === "agent_end", 15_000, from);
        const reply = await until("the reply", async () => received.find((m) => m.content === "echo: what is in the inbox?"));
        assert.equal(reply.endpointId, ep.endpointId);
        assert.equal(reply.metadata.source_endpoint_id, piEp.endpoint_id);
        assert.equal(reply.metadata.in_reply_to, sent.messageId);
        assert.equal(reply.metadata.reply_to_message_id, sent.messageId);

        // A message sent by an endpoint comes back correlated, also when pi is busy (follow-up).
        const busyFrom = pi.events.length;
        await pi.command({ type: "prompt", message: "slow: 600\nstill thinking" });
        await pi.waitFor((e) => e.type === "agent_start", 10_000, busyFrom);
        const s = await harness.send({ endpoint_id: ep.endpointId, to: piEp.endpoint_id, content: "second question" });
        assert.equal(s.status, "delivered");
        const reply2 = await until("the follow-up reply", async () => received.find((m) => m.content === "echo: second question"));
        assert.equal(reply2.metadata.in_reply_to, s.correlation_id);
        assert.equal(reply2.metadata.correlation_id, s.correlation_id, "the broker keeps the conversation's correlation id");
        const starts = pi.events.slice(busyFrom).filter((e) => e.type === "agent_start").length;
        assert.equal(starts, 1, "queued as a follow-up in the same run, not a second run");
      } finally {
        await harness.close();
      }
    });
  });

  it("6. killing the broker mid-turn does not crash pi; the adapter gets a broker back and goes on", async () => {
    const pi = launch();
    await session(pi.proc.pid!);
    const command = "echo after-restart";
    const from = pi.events.length;
    await pi.command({ type: "prompt", message: `bash: ${command}` });
    const a = await pendingFor(api, command);
    await broker.kill9();
    // pi answers while the broker is gone.
    const state = await pi.command({ type: "get_state" });
    assert.equal(state.success, true);
    assert.ok(pi.alive());
    // The adapter spawns a new broker (dist/broker.js).
    const record = await waitForHealthy(home.home, undefined, 15_000);
    const api2 = new BrokerApi(record);
    // From here on, the suite's broker is the new one (and the `after` hook stops it).
    broker = { ...broker, api: api2, proc: { pid: record.pid } as TestBroker["proc"], stop: async () => (await terminate(record.pid, 5000), 0) };
    // The journal has the pending approval if it was durable when the broker died; if the kill came
    // first, the adapter asks again. Either way one is pending for the command.
    const again = await until("the approval after the restart", async () => (await api2.approvals("pending")).find((x) => x.command === command));
    if (again.approval_id !== a.approval_id) process.stderr.write("[test 6] the broker died before the approval was durable; the adapter asked again\n");
    await until("pi to reattach", async () => ((await api2.endpoints()).some((e) => e.plugin_pid === pi.proc.pid && e.state === "active") ? true : undefined));
    await api2.decide(again.approval_id, { decision: "approve", decided_by: "test-reviewer" });
    const end = await toolEnd(pi, from);
    assert.equal(end.isError, false);
    assert.equal(resultText(end.result), "after-restart\n");
    await pi.waitFor((e) => e.type === "agent_end", 15_000, from);
    assert.ok(pi.alive());
    await pi.stop();
  });

  it("switchboard install pi: the installed extension loads from pi's extensions folder (once, also with -e)", async () => {
    const extensionsDir = join(sandbox.agentDir, "extensions");
    const res = await installPiExtension({ bundle: extension, version: "test", extensionsDir, options: { home: home.home } });
    assert.equal(res.folder, join(extensionsDir, "agent-switchboard"));
    try {
      // Installed only: the stub loads the bundle, with the broker folder baked in by --home.
      const only = startPi({ agentDir: sandbox.agentDir, cwd: sandbox.cwd, discoverExtensions: true, env: { SWITCHBOARD_IDLE_EXIT_MINUTES: "2" } });
      pis.push(only);
      assert.equal((await session(only.proc.pid!)).kind, "pi");
      await only.stop();
      // Both copies (installed, and -e) must point at the test broker: whichever loads first is the active one.
      const pi = startPi({
        agentDir: sandbox.agentDir,
        cwd: sandbox.cwd,
        discoverExtensions: true,
        extension,
        env: { SWITCHBOARD_HOME: home.home, SWITCHBOARD_IDLE_EXIT_MINUTES: "2" },
      });
      pis.push(pi);
      const ep = await session(pi.proc.pid!);
      assert.equal(ep.kind, "pi");
      const from = pi.events.length;
      await pi.command({ type: "prompt", message: "bash: echo installed" });
      const a = await pendingFor(api, "echo installed");
      await sleep(200);
      assert.equal((await api().approvals("pending")).filter((x) => x.command === "echo installed").length, 1, "one approval: the second copy stays inactive");
      assert.equal((await api().endpoints()).filter((e) => e.plugin_pid === pi.proc.pid).length, 1);
      await api().decide(a.approval_id, { decision: "approve", decided_by: "test-reviewer" });
      assert.equal(resultText((await toolEnd(pi, from)).result), "installed\n");
      await pi.stop();
    } finally {
      assert.deepEqual(await uninstallPiExtension({ extensionsDir }), { folder: res.folder, removed: true });
    }
  });

  it("without a broker, pi still works: it says once that it is blocking, and blocks risky tools", async () => {
    const empty = await tempHome("sb-pi-nobroker-");
    try {
      const pi = launch({ SWITCHBOARD_HOME: empty.home, SWITCHBOARD_PI_SPAWN: "0" });
      const notice = await pi.waitFor((e) => e.type === "extension_ui_request" && e.method === "notify", 15_000);
      assert.match(String(notice.message), /no broker .*BLOCKED/);
      for (const cmd of ["echo one", "echo two"]) {
        const from = pi.events.length;
        await pi.command({ type: "prompt", message: `bash: ${cmd}` });
        const end = await toolEnd(pi, from);
        assert.equal(end.isError, true);
        assert.match(resultText(end.result), /Switchboard approval is required, but the broker cannot be reached/);
        await pi.waitFor((e) => e.type === "agent_end", 15_000, from);
      }
      const notices = pi.events.filter((e: PiEvent) => e.type === "extension_ui_request" && e.method === "notify");
      assert.equal(notices.length, 1, "said once");
      await pi.stop();
    } finally {
      await empty.cleanup();
    }
  });

  it("without a broker and SWITCHBOARD_PI_OFFLINE=allow, tools run unsupervised with pi's own result", async () => {
    const empty = await tempHome("sb-pi-nobroker-");
    try {
      const pi = launch({ SWITCHBOARD_HOME: empty.home, SWITCHBOARD_PI_SPAWN: "0", SWITCHBOARD_PI_OFFLINE: "allow" });
      const notice = await pi.waitFor((e) => e.type === "extension_ui_request" && e.method === "notify", 15_000);
      assert.match(String(notice.message), /Approvals are OFF/);
      const from = pi.events.length;
      await pi.command({ type: "prompt", message: "bash: echo unsupervised" });
      const end = await toolEnd(pi, from);
      assert.equal(end.isError, false);
      assert.equal(resultText(end.result), "unsupervised\n");
      await pi.stop();
    } finally {
      await empty.cleanup();
    }
  });
});
