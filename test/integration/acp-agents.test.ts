// `switchboard acp` end to end with the four real ACP agents from npm (claude-agent-acp, codex-acp,
// gemini --acp, opencode acp; pinned, installed once into a cache by scripts/agents/install.sh), the
// real broker, and only the model faked on 127.0.0.1. A "reviewer" decides through the broker API, as
// VS Code would. `switchboard acp` is started as VS Code's New Agent Session… starts it: dist/acp.js
// with the flags of node-flags.ts (--jitless among them); acp-client-ops.test.ts starts it as a shell
// does (dist/cli.js acp). SWITCHBOARD_ACP_AGENTS=claude,gemini limits the agents (default: all four).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BrokerClient, type ClientMessage } from "../../src/client/client.js";
import type { Approval, EndpointView } from "../../src/protocol/index.js";
import { startAgentModels, type AgentModels } from "../support/fake-model/agent-models.js";
import { startFakeModel, type FakeModel } from "../support/fake-model/openai.js";
import { ACP_NODE_FLAGS } from "../../src/adapters/acp/node-flags.js";
import { agentSetup, installAgents, processesWith, sandbox, startAcp, waitFor, type AcpRun, type AgentName, type AgentSetup } from "../support/acp.js";
import { ROOT, startBroker, tempHome, type TestBroker } from "../support/broker.js";

const ALL: AgentName[] = ["claude", "codex", "gemini", "opencode"];
const AGENTS = (process.env.SWITCHBOARD_ACP_AGENTS?.split(",").map((s) => s.trim()) as AgentName[] | undefined)?.filter((a) => ALL.includes(a)) ?? ALL;
const START_MS = 120_000;
const TURN_MS = 90_000;

/**
 * Agents that send a shell command's output back over ACP. gemini-cli sends none in its default set-up
 * (commands in a pseudo-terminal: its tool_call_update content is empty), nor an exit code; its own
 * test below shows the setting that makes it send the output.
 */
const SHARES_OUTPUT: Record<AgentName, boolean> = { claude: true, codex: true, gemini: false, opencode: true };

describe("switchboard acp with the real ACP agents", { concurrency: false }, () => {
  let models: AgentModels;
  let chat: FakeModel;

  before(async () => {
    installAgents(AGENTS);
    models = await startAgentModels();
    chat = await startFakeModel();
  });
  after(async () => {
    await models?.close();
    await chat?.close();
  });

  for (const name of AGENTS) {
    describe(name, { concurrency: false, timeout: 10 * 60_000 }, () => {
      let home: Awaited<ReturnType<typeof tempHome>>;
      let broker: TestBroker;
      let box: Awaited<ReturnType<typeof sandbox>>;
      let agent: AgentSetup;
      let run: AcpRun | undefined;
      let sender: BrokerClient | undefined;

      before(async () => {
        home = await tempHome("sb-acp-home-");
        broker = await startBroker(home.home);
        box = await sandbox(`sb-acp-${name}-`);
        agent = await agentSetup(name, box.root, box.cwd, models.url, chat.baseUrl);
      });
      after(async () => {
        run?.proc.kill("SIGKILL");
        await sender?.close().catch(() => {});
        await broker?.stop();
        // Whatever happened above, no process of this agent may be left.
        await waitFor("no agent process left", () => processesWith(box.root).length === 0, 10_000).catch(() => {
          for (const pid of processesWith(box.root)) process.kill(pid, "SIGKILL");
        });
        await box?.cleanup();
        await home?.cleanup();
      });

      /** A new `switchboard acp`; one a failed test left running is killed first, so each test starts clean. */
      const fresh = () => {
        run?.proc.kill("SIGKILL");
        return startAcp(home.home, agent, box.cwd, { entry: join(ROOT, "dist/acp.js"), nodeArgs: ACP_NODE_FLAGS });
      };
      const endpointOf = async (kind: string): Promise<EndpointView | undefined> => (await broker.api.endpoints()).find((e) => e.kind === kind);
      const pending = (endpointId: string) =>
        waitFor("a pending approval", async () => (await broker.api.approvals("pending")).find((a: Approval) => a.endpoint_id === endpointId), TURN_MS);

      it("registers a session with the agent's kind, gates a shell command (approve runs it and streams its output; reject does not run it and the agent is told), turns routed messages into queued turns answered to the sender, and leaves nothing behind", async () => {
        run = fresh();
        const ep = await waitFor("the ACP session", () => endpointOf(agent.kind), START_MS);
        assert.equal(ep.kind, agent.kind);
        assert.match(ep.label, /: work$/);
        assert.equal(ep.client_kind, "switchboard-acp");

        // 1. approve → it runs, and its output reaches a stream linked to the approval
        run.write(`bash: echo approved-${name} > approved.txt && cat approved.txt`);
        const a1 = await pending(ep.endpoint_id);
        assert.equal(a1.action, "sh");
        assert.equal(a1.command, `echo approved-${name} > approved.txt && cat approved.txt`);
        // Every agent here offers "allow always": the card offers Allow for this session (a Switchboard session rule).
        assert.equal(a1.always_offered, true);
        await broker.api.decide(a1.approval_id, { decision: "approve", decided_by: "test" });
        // The file exists as soon as the shell opens it for `>`, before echo has written to it: wait for its content.
        const approvedFile = join(box.cwd, "approved.txt");
        await waitFor("the approved command's side effect", async () => existsSync(approvedFile) && (await readFile(approvedFile, "utf8")).trim() !== "", TURN_MS);
        assert.equal((await readFile(approvedFile, "utf8")).trim(), `approved-${name}`);
        const s1 = await waitFor(
          "the command's stream to end",
          async () => (await broker.api.streams()).find((s) => s.approval_id === a1.approval_id && s.state !== "streaming"),
          TURN_MS,
        );
        assert.equal(s1.state, "completed");
        const replay = await broker.api.replayStream(s1.stream_id);
        if (SHARES_OUTPUT[name]) {
          assert.equal(s1.exit_code, 0);
          assert.match(replay.chunks.map((c) => c.data).join(""), new RegExp(`approved-${name}`));
        } else {
          // Said in the terminal's header, not pretended: no output, and no exit code made up.
          assert.equal(s1.exit_code, null);
          assert.deepEqual(replay.chunks, []);
          assert.match(s1.note ?? "", /sent no output for this command/);
        }
        await waitFor("the turn to end", async () => (await endpointOf(agent.kind))?.task_hint === "idle", TURN_MS);

        // 2. reject → it does not run, and the agent is told (its model gets a follow-up about the refusal)
        const before = models.requests.length + chat.requests.length;
        run.write(`bash: echo rejected-${name} > rejected.txt`);
        const a2 = await pending(ep.endpoint_id);
        await broker.api.decide(a2.approval_id, { decision: "reject", reason: `not now, ${name}`, decided_by: "test" });
        await waitFor("the turn to end after the rejection", async () => (await endpointOf(agent.kind))?.task_hint === "idle", TURN_MS);
        assert.equal(existsSync(join(box.cwd, "rejected.txt")), false, "a rejected command must not run");
        assert.equal(
          (await broker.api.streams()).some((s) => s.approval_id === a2.approval_id),
          false,
          "no stream for a rejected command",
        );
        const after = [...models.requests.map((r) => r.body), ...chat.requests.map((r) => JSON.stringify(r.messages))];
        assert.ok(after.length > before, "the agent went back to its model after the rejection");
        assert.match(run.output(), /rejected: Rejected in Switchboard by test: not now/);

        // 3. routed messages: the first starts a turn at once, the second waits for it, each reply goes back
        sender = await BrokerClient.create({ discover: { home: home.home, spawn: false }, clientKind: "test" });
        const me = await sender.registerEndpoint({ kind: "tester", session_name: `tester-${name}` });
        const replies: ClientMessage[] = [];
        sender.on("message", (m) => void replies.push(m));
        const m1 = await sender.send({ endpoint_id: me.endpointId, to: ep.endpoint_id, content: `slow: 2500\nfirst-${name}` });
        await waitFor("the first message's turn", async () => (await endpointOf(agent.kind))?.task_hint?.startsWith("working"), TURN_MS);
        const m2 = await sender.send({ endpoint_id: me.endpointId, to: ep.endpoint_id, content: `second-${name}` });
        const queued = await waitFor("the second message shown as queued", async () => (await endpointOf(agent.kind))?.task_hint?.includes("(1 queued)") && true, TURN_MS);
        assert.ok(queued);
        await waitFor("both replies", () => replies.length >= 2, TURN_MS);
        assert.equal(replies[0]!.metadata.in_reply_to, m1.correlation_id);
        assert.match(replies[0]!.content, new RegExp(`first-${name}`));
        assert.equal(replies[1]!.metadata.in_reply_to, m2.correlation_id);
        assert.match(replies[1]!.content, new RegExp(`second-${name}`));

        // 4. exit: the session goes, no process of the agent is left
        run.proc.stdin!.end();
        const exit = await run.exited;
        assert.equal(exit.code, 0, run.stderr());
        await waitFor("the session to close", async () => !(await endpointOf(agent.kind)), 10_000);
        await waitFor("no agent process left", () => processesWith(box.root).length === 0, 10_000);
        run = undefined;
      });

      it("kill -9 of switchboard acp: the agent's whole process group goes, and a queued message is not lost (it moves to the inbox)", async () => {
        run = fresh();
        const ep = await waitFor("the ACP session", () => endpointOf(agent.kind), START_MS);
        sender ??= await BrokerClient.create({ discover: { home: home.home, spawn: false }, clientKind: "test" });
        const me = sender.endpoints[0] ?? (await sender.registerEndpoint({ kind: "tester", session_name: `tester-${name}` }));
        await sender.send({ endpoint_id: me.endpointId, to: ep.endpoint_id, content: "slow: 60000\nnever finished" });
        await waitFor("the slow turn", async () => (await endpointOf(agent.kind))?.task_hint?.startsWith("working"), TURN_MS);
        const queued = await sender.send({ endpoint_id: me.endpointId, to: ep.endpoint_id, content: `kept-${name}` });
        await waitFor("the message queued", async () => (await endpointOf(agent.kind))?.task_hint?.includes("(1 queued)") && true, TURN_MS);
        assert.ok(processesWith(box.root).length >= 2, "switchboard acp and its agent run");
        run.proc.kill("SIGKILL");
        await run.exited;
        await waitFor("no agent process left after kill -9", () => processesWith(box.root).length === 0, 15_000);
        const inbox = await waitFor(
          "the queued message in the inbox",
          async () => (await broker.api.undispatched(process.pid)).find((i) => i.source_message_id === queued.messageId),
          15_000,
        );
        assert.equal(inbox.content, `kept-${name}`);
        run = undefined;
      });

      if (name === "gemini")
        it("gemini with tools.shell.enableInteractiveShell false in its settings.json sends a command's output, and its stream has it", async () => {
          const settings = join(box.root, "home/.gemini/settings.json");
          const before = await readFile(settings, "utf8");
          await writeFile(settings, JSON.stringify({ ...JSON.parse(before), tools: { shell: { enableInteractiveShell: false } } }));
          try {
            run = fresh();
            const ep = await waitFor("the ACP session", () => endpointOf(agent.kind), START_MS);
            run.write("bash: echo shown-by-gemini > shown.txt && cat shown.txt");
            const a = await pending(ep.endpoint_id);
            await broker.api.decide(a.approval_id, { decision: "approve", decided_by: "test" });
            const s = await waitFor(
              "the command's stream to end",
              async () => (await broker.api.streams()).find((x) => x.approval_id === a.approval_id && x.state !== "streaming"),
              TURN_MS,
            );
            const replay = await broker.api.replayStream(s.stream_id);
            assert.match(replay.chunks.map((c) => c.data).join(""), /shown-by-gemini/);
            assert.equal(s.output_merged, true);
            assert.equal(s.note, undefined);
            run.proc.kill("SIGTERM");
            await run.exited;
            await waitFor("no agent process left", () => processesWith(box.root).length === 0, 10_000);
            run = undefined;
          } finally {
            await writeFile(settings, before);
          }
        });

      // claude-agent-acp writes itself (a new file here: Claude refuses to overwrite a file it has not
      // read); gemini writes through the client's fs/write_text_file (an existing file here: for a
      // missing one it takes fs/read_text_file's "not found" error for a failure).
      if (name === "claude" || name === "gemini")
        it("an edit raises an `edit` approval with the diff of the write, and the approved write lands", async () => {
          const file = join(box.cwd, "edited.txt");
          const existing = name === "gemini" ? "old line\n" : undefined;
          if (existing !== undefined) await writeFile(file, existing);
          run = fresh();
          const ep = await waitFor("the ACP session", () => endpointOf(agent.kind), START_MS);
          // Multi-line, so routed rather than typed (a typed line is one prompt).
          await broker.api.ingress({ from: "test", to: ep.endpoint_id, content: `write: ${file}\nwritten by ${name}\n` });
          const a = await pending(ep.endpoint_id);
          assert.equal(a.action, "edit");
          assert.match(a.summary, /edited\.txt/);
          if (existing === undefined) assert.match(a.diff ?? "", /^--- \/dev\/null\n\+\+\+ b\/edited\.txt\n@@ -0,0 \+1(,1)? @@\n\+written by claude/);
          else assert.match(a.diff ?? "", /^--- a\/edited\.txt\n\+\+\+ b\/edited\.txt\n@@ -1 \+1 @@\n-old line\n\+written by gemini/);
          await broker.api.decide(a.approval_id, { decision: "approve", decided_by: "test" });
          await waitFor("the file written", async () => existsSync(file) && (await readFile(file, "utf8")).includes("written by"), TURN_MS);
          assert.equal((await readFile(file, "utf8")).trim(), `written by ${name}`);
          await waitFor("the turn to end", async () => (await endpointOf(agent.kind))?.task_hint === "idle", TURN_MS);
          // No second approval: the write the reviewer approved is not asked again (gemini writes through fs/write_text_file).
          assert.equal((await broker.api.approvals("pending")).length, 0);
          run.proc.kill("SIGTERM");
          await run.exited;
          await waitFor("no agent process left", () => processesWith(box.root).length === 0, 10_000);
          run = undefined;
        });
    });
  }
});
