// The approval policy with the real pi agent (fake model): a rule saved while pi waits decides its
// pending bash call, and pi's next matching call runs without anyone being asked; an edit rule lets pi
// write inside src/ but a write to .git still asks.
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startFakeModel, type FakeModel } from "../support/fake-model/openai.js";
import { startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { post } from "../support/calls.js";
import { ensurePiExtension, piSandbox, resultText, startPi, type RpcPi } from "../support/pi.js";
import { waitFor } from "../support/wait.js";

describe("approval policy with pi (real pi, real broker, fake model)", () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  let broker: TestBroker;
  let fake: FakeModel;
  let sandbox: Awaited<ReturnType<typeof piSandbox>>;
  let pi: RpcPi;
  let ep: string;

  before(async () => {
    const extension = await ensurePiExtension();
    home = await tempHome("sb-policy-pi-");
    broker = await startBroker(home.home);
    fake = await startFakeModel();
    sandbox = await piSandbox(fake.baseUrl);
    pi = startPi({ agentDir: sandbox.agentDir, cwd: sandbox.cwd, extension, env: { SWITCHBOARD_HOME: home.home } });
    ep = (await waitFor(async () => (await broker.api.endpoints()).find((e) => e.plugin_pid === pi.proc.pid), 20_000, "pi to register")).endpoint_id;
  });

  after(async () => {
    await pi?.stop(3000);
    await broker.stop();
    await fake.close();
    await sandbox.cleanup();
    await home.cleanup();
  });

  const toolEnd = (from: number) => pi.waitFor((e) => e.type === "tool_execution_end", 20_000, from);

  it("a session rule decides pi's pending bash call at once, and its next matching call before anyone sees it", async () => {
    let from = pi.events.length;
    await pi.command({ type: "prompt", message: "bash: echo ruled-one" });
    const pending = await waitFor(async () => (await broker.api.approvals("pending")).find((a) => a.command === "echo ruled-one"), 20_000, "pi's request");
    const saved = await post(broker.api, "/v1/policy/rules", { scope: "session", endpoint_id: ep, rule: { id: "pi-echo", decision: "allow", command: "echo *" } });
    assert.deepEqual(saved.decided, [pending.approval_id]);
    let end = await toolEnd(from);
    assert.equal(end.isError, false);
    assert.equal(resultText(end.result).trim(), "ruled-one");
    await pi.waitFor((e) => e.type === "agent_end", 15_000, from);

    from = pi.events.length;
    await pi.command({ type: "prompt", message: "bash: echo ruled-two" });
    end = await toolEnd(from);
    assert.equal(end.isError, false);
    assert.equal(resultText(end.result).trim(), "ruled-two");
    const history = await broker.api.approvalHistory(10);
    const two = history.find((a) => a.command === "echo ruled-two")!;
    assert.equal(two.state, "approved");
    assert.match(two.decided_by!, /^rule pi-echo \(session pi: work\)$/);
    await pi.waitFor((e) => e.type === "agent_end", 15_000, from);
  });

  it("an edit rule lets pi write inside src/; a write into .git still asks", async () => {
    await post(broker.api, "/v1/policy/rules", { scope: "session", endpoint_id: ep, rule: { id: "pi-src", decision: "allow", edit: "src/**" } });
    await mkdir(join(sandbox.cwd, "src"), { recursive: true });
    let from = pi.events.length;
    await pi.command({ type: "prompt", message: "write: src/ok.txt\nfine\n" });
    const end = await toolEnd(from);
    assert.equal(end.isError, false);
    assert.equal(await readFile(join(sandbox.cwd, "src/ok.txt"), "utf8"), "fine");
    await pi.waitFor((e) => e.type === "agent_end", 15_000, from);

    from = pi.events.length;
    await pi.command({ type: "prompt", message: "write: .git/hooks/pre-commit\nrm -rf ~\n" });
    const asked = await waitFor(async () => (await broker.api.approvals("pending")).find((a) => a.action === "edit"), 20_000, "the .git write to ask");
    assert.match(asked.policy!.reason, /paths in `\.git` always ask/);
    await broker.api.decide(asked.approval_id, { decision: "reject", decided_by: "test-reviewer" });
    await toolEnd(from);
    await pi.waitFor((e) => e.type === "agent_end", 15_000, from);
  });
});
