// `switchboard acp` with a scripted ACP agent (test/fixtures/acp-agent/script-agent.ts) for what the
// four npm agents never do: the client's terminal/* (src/exec, channels apart, exit code) and fs/*
// (a write nobody approved raises an `edit` approval), and Ctrl+C withdrawing a pending approval.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { openSender } from "../support/sender.js";
import type { Approval, EndpointView } from "../../src/protocol/index.js";
import { processesWith, sandbox, startAcp, waitFor, type AcpRun, type AgentSetup } from "../support/acp.js";
import { ROOT, startBroker, tempHome, type TestBroker } from "../support/broker.js";

const SCRIPT_AGENT = join(ROOT, "test/fixtures/acp-agent/script-agent.ts");
const TSX = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;

describe("switchboard acp: the client side of terminal/* and fs/*, and Ctrl+C", { concurrency: false }, () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  let broker: TestBroker;
  let box: Awaited<ReturnType<typeof sandbox>>;
  let agent: AgentSetup;
  let run: AcpRun;
  let ep: EndpointView;

  before(async () => {
    home = await tempHome("sb-acp-ops-home-");
    broker = await startBroker(home.home);
    box = await sandbox("sb-acp-ops-");
    agent = {
      name: "claude",
      kind: "script-agent",
      command: process.execPath,
      args: ["--import", TSX, SCRIPT_AGENT],
      env: { PATH: process.env.PATH, HOME: box.root, SB_MARK: box.root },
    };
    run = startAcp(home.home, agent, box.cwd);
    ep = await waitFor("the session", async () => (await broker.api.endpoints()).find((e) => e.kind === "script-agent"), 30_000);
  });
  after(async () => {
    run?.proc.kill("SIGKILL");
    await broker?.stop();
    await waitFor("no agent process left", () => processesWith(box.root).length === 0, 10_000).catch(() => {
      for (const pid of processesWith(box.root)) process.kill(pid, "SIGKILL");
    });
    await box?.cleanup();
    await home?.cleanup();
  });

  const pending = () => waitFor("a pending approval", async () => (await broker.api.approvals("pending")).find((a: Approval) => a.endpoint_id === ep.endpoint_id), 20_000);
  const idle = () => waitFor("the turn to end", async () => (await broker.api.endpoints()).find((e) => e.endpoint_id === ep.endpoint_id)?.task_hint === "idle", 20_000);

  it("terminal/create runs the approved command with src/exec: stdout and stderr on channels 1 and 2, exit code, output back to the agent", async () => {
    run.write("terminal: echo to-out; echo to-err >&2; exit 3");
    const a = await pending();
    assert.equal(a.action, "sh");
    await broker.api.decide(a.approval_id, { decision: "approve", decided_by: "test" });
    await run.waitForOutput(/exit=3 signal=null output=/, 20_000);
    assert.match(run.output(), /to-out/);
    assert.match(run.output(), /to-err/);
    const s = await waitFor("the terminal's stream", async () => (await broker.api.streams()).find((x) => x.command.includes("to-err") && x.state !== "streaming"), 20_000);
    assert.equal(s.exit_code, 3);
    assert.equal((await broker.api.streams()).filter((x) => x.approval_id === a.approval_id).length, 1, "one stream: the terminal's");
    assert.equal(s.output_merged, undefined);
    const replay = await broker.api.replayStream(s.stream_id);
    assert.deepEqual(replay.chunks.map((c) => [c.channel, c.data]).sort(), [
      [1, "to-out\n"],
      [2, "to-err\n"],
    ]);
    await idle();
  });

  it("fs/write_text_file nobody approved raises an `edit` approval with the diff; rejected, nothing is written and the agent hears why", async () => {
    const file = join(box.cwd, "notes.txt");
    await writeFile(file, "one\n");
    await broker.api.ingress({ from: "test", to: ep.endpoint_id, content: `write: ${file}\ntwo\n` });
    const a = await pending();
    assert.equal(a.action, "edit");
    assert.equal(a.diff, "--- a/notes.txt\n+++ b/notes.txt\n@@ -1 +1 @@\n-one\n+two\n");
    await broker.api.decide(a.approval_id, { decision: "reject", reason: "keep it", decided_by: "test" });
    await run.waitForOutput(/write failed: .*keep it/, 20_000);
    assert.equal(await readFile(file, "utf8"), "one\n");
    await idle();

    await broker.api.ingress({ from: "test", to: ep.endpoint_id, content: `write: ${file}\ntwo\n` });
    const b = await pending();
    await broker.api.decide(b.approval_id, { decision: "approve", decided_by: "test" });
    await run.waitForOutput(/\nwritten\n/, 20_000);
    assert.equal(await readFile(file, "utf8"), "two\n");
    await idle();
  });

  it("fs/read_text_file reads, and says when a file is missing", async () => {
    await writeFile(join(box.cwd, "r.txt"), "hello\n");
    run.write(`read: ${join(box.cwd, "r.txt")}`);
    await run.waitForOutput(/content: hello/, 20_000);
    run.write(`read: ${join(box.cwd, "missing.txt")}`);
    await run.waitForOutput(/read failed: Resource not found/, 20_000);
    assert.equal(existsSync(join(box.cwd, "missing.txt")), false);
    await idle();
  });

  it("Ctrl+C cancels the turn and withdraws its pending approval (the agent gets `cancelled`); a second Ctrl+C exits", async () => {
    run.write("perm: 1");
    const a = await pending();
    run.proc.kill("SIGINT");
    await waitFor("the approval withdrawn", async () => (await broker.api.approvals()).find((x) => x.approval_id === a.approval_id && x.state === "cancelled"), 10_000);
    await run.waitForOutput(/outcomes: cancelled/, 10_000);
    await idle();
    run.proc.kill("SIGINT");
    const exit = await run.exited;
    assert.equal(exit.code, 130);
    await waitFor("the session closed", async () => !(await broker.api.endpoints()).some((e) => e.endpoint_id === ep.endpoint_id), 10_000);
    await waitFor("no agent process left", () => processesWith(box.root).length === 0, 10_000);
  });
});

describe("switchboard acp: routed messages survive a broker killed with -9", { concurrency: false }, () => {
  it("a running and a queued message are both answered once, in order, after the broker restarts", async () => {
    const home = await tempHome("sb-acp-crash-home-");
    let broker = await startBroker(home.home);
    const box = await sandbox("sb-acp-crash-");
    const agent: AgentSetup = {
      name: "claude",
      kind: "script-agent",
      command: process.execPath,
      args: ["--import", TSX, SCRIPT_AGENT],
      env: { PATH: process.env.PATH, HOME: box.root },
    };
    // --no-start: the test restarts the broker itself.
    const run = startAcp(home.home, agent, box.cwd, { noStart: true });
    const sender = await openSender(home.home, "tester", "tester");
    try {
      const ep = await waitFor("the session", async () => (await broker.api.endpoints()).find((e) => e.kind === "script-agent"), 30_000);
      const { replies } = sender;
      const hint = async () => (await broker.api.endpoints()).find((e) => e.endpoint_id === ep.endpoint_id)?.task_hint ?? "";
      const m1 = await sender.send(ep.endpoint_id, "slow: 2500\nfirst answer");
      await waitFor("the first turn", async () => (await hint()).startsWith("working"), 10_000);
      const m2 = await sender.send(ep.endpoint_id, "second");
      await waitFor("the second queued", async () => (await hint()).includes("(1 queued)"), 10_000);
      await broker.kill9();
      broker = await broker.restart();
      await waitFor("both replies", () => replies.length >= 2, 30_000);
      assert.deepEqual(
        replies.map((r) => [r.content, r.metadata.in_reply_to]),
        [
          ["first answer", m1.correlation_id],
          ["echo: second", m2.correlation_id],
        ],
      );
      assert.equal(run.output().match(/echo: second/g)?.length, 1, "the re-pushed message did not start a second turn");
      // Both acknowledged once answered: nothing left queued at the broker, nothing in the inbox.
      await waitFor("the queue empty", async () => (await broker.api.endpoints()).find((e) => e.endpoint_id === ep.endpoint_id)?.buffered_count === 0, 10_000);
      assert.equal((await broker.api.undispatched(process.pid)).length, 0);
    } finally {
      run.proc.kill("SIGTERM");
      await run.exited;
      await sender.close().catch(() => {});
      await broker.stop();
      await waitFor("no agent process left", () => processesWith(box.root).length === 0, 10_000);
      await box.cleanup();
      await home.cleanup();
    }
  });
});
