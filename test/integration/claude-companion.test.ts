// The Claude Code session companion driven directly, the way its hooks drive it (HTTP with the token
// from companion.json), with a sleeping process standing in for `claude`: what Claude's headless runs
// cannot make happen on cue. A message routed while Claude is idle is handed over at the next
// UserPromptSubmit as added context, confirmed only once the hook printed it, and the turn's answer goes
// back to the sender at Stop; a Notification marks the session as waiting for its user.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readCompanion, type CompanionRecord } from "../../src/adapters/claude/session-files.js";
import { ROOT, startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { sendRaw } from "../support/http.js";
import { openSender } from "../support/sender.js";
import { waitFor } from "../support/wait.js";

const SID = "0f0e0d0c-companion-test";

/** A POST to the companion as its hooks send one (HTTP with the token from companion.json). */
async function post(rec: CompanionRecord, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await sendRaw(rec.port, { method: "POST", path, headers: { authorization: `Bearer ${rec.token}`, ...headers }, body: JSON.stringify(body) });
  if ("failure" in r) throw new Error(`POST ${path}: ${r.failure}`);
  let json: Record<string, unknown> = {};
  try {
    json = r.text ? (JSON.parse(r.text) as Record<string, unknown>) : {};
  } catch {
    /* not JSON: a refusal */
  }
  return { status: r.status, json };
}

describe("Claude Code session companion (driven like its hooks)", () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  let broker: TestBroker;
  let fakeClaude: ChildProcess;
  let companion: ChildProcess;
  let rec: CompanionRecord;
  const hook = (event: Record<string, unknown>) => post(rec, "/hook", { event: { session_id: SID, cwd: home.home, ...event }, offline: "block", approvalTimeoutMs: 60_000 });

  before(async () => {
    home = await tempHome("sb-claude-companion-");
    broker = await startBroker(home.home);
    fakeClaude = spawn("sleep", ["600"], { stdio: "ignore" });
    companion = spawn(
      process.execPath,
      [join(ROOT, "dist/claude-companion.js"), "--session", SID, "--claude-pid", String(fakeClaude.pid), "--home", home.home, "--cwd", home.home],
      {
        stdio: "ignore",
        env: { PATH: process.env.PATH ?? "", SWITCHBOARD_HOME: home.home },
      },
    );
    rec = await waitFor(() => readCompanion(home.home, SID), 10_000, "companion.json");
  });

  after(async () => {
    fakeClaude.kill("SIGKILL");
    await waitFor(() => companion.exitCode !== null || companion.signalCode !== null, 10_000, "the companion to exit with its claude").catch(() => companion.kill("SIGKILL"));
    await broker.stop();
    await home.cleanup();
  });

  it("refuses callers without the token, and requests with an Origin", async () => {
    assert.equal((await post({ ...rec, token: "wrong" }, "/hook", {})).status, 401);
    assert.equal((await post(rec, "/hook", {}, { origin: "http://evil.example" })).status, 403);
  });

  it("UserPromptSubmit hands over a message routed while idle; confirmed once printed; the answer goes back at Stop", async () => {
    assert.deepEqual((await hook({ hook_event_name: "SessionStart", source: "startup" })).json, {});
    const ep = await waitFor(async () => (await broker.api.endpoints()).find((e) => e.kind === "claude-code"), 10_000, "the session");
    assert.equal(ep.plugin_pid, rec.pid);
    await hook({ hook_event_name: "Stop", last_assistant_message: "nothing yet" });
    await waitFor(async () => (await broker.api.endpoints()).find((e) => e.endpoint_id === ep.endpoint_id)?.task_hint === "[idle]", 10_000, "the idle hint");

    const sender = await openSender(home.home, "sender");
    try {
      const sent = await sender.send(ep.endpoint_id, "look at issue 7 too");
      await waitFor(async () => ((await broker.api.endpoints()).find((e) => e.endpoint_id === ep.endpoint_id)?.task_hint ?? "").includes("(1 message queued)"), 10_000, "queued");

      // A hook that never confirms (killed after printing): the message is handed over again next time.
      const first = await hook({ hook_event_name: "UserPromptSubmit", prompt: "fix the tests" });
      const ctx = (first.json.stdout as { hookSpecificOutput: { additionalContext: string } }).hookSpecificOutput.additionalContext;
      assert.equal(ctx, "[Switchboard] A message for you from sender:\n\nlook at issue 7 too");
      const again = await hook({ hook_event_name: "UserPromptSubmit", prompt: "fix the tests" });
      assert.deepEqual(again.json.confirm, first.json.confirm);
      await post(rec, "/confirm", { ids: again.json.confirm });
      assert.deepEqual((await hook({ hook_event_name: "UserPromptSubmit", prompt: "fix the tests" })).json, {}, "delivered once confirmed");
      const hint = async () => (await broker.api.endpoints()).find((e) => e.endpoint_id === ep.endpoint_id)?.task_hint;
      await waitFor(async () => (await hint()) === "[working] fix the tests", 10_000, "the task hint without the queued message");

      await hook({ hook_event_name: "Notification", message: "Claude needs your permission to use Bash", notification_type: "permission_prompt" });
      await waitFor(async () => (await hint()) === "[waiting for you: Claude needs your permission to use Bash] fix the tests", 10_000, "the waiting-for-you hint");

      assert.deepEqual((await hook({ hook_event_name: "Stop", last_assistant_message: "Tests fixed; issue 7 is a duplicate." })).json, {});
      const reply = await waitFor(() => sender.replies[0], 10_000, "the reply");
      assert.equal(reply.content, "Tests fixed; issue 7 is a duplicate.");
      assert.equal(reply.metadata.in_reply_to, sent.correlation_id);
    } finally {
      await sender.close();
    }
  });

  it("leaves when its claude process dies, without any hook", async () => {
    fakeClaude.kill("SIGKILL");
    await waitFor(async () => !(await broker.api.endpoints()).some((e) => e.kind === "claude-code"), 10_000, "the session to close");
    await waitFor(() => companion.exitCode !== null, 10_000, "the companion to exit");
    assert.equal(readCompanion(home.home, SID), undefined, "companion.json removed");
  });
});
