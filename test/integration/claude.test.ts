// Claude Code as an open session, end to end: the real broker, the real Claude Code (pinned
// devDependency) run headless with the hooks from `switchboard install claude --project`, and a
// scripted fake Anthropic model on 127.0.0.1. A "reviewer" decides through the broker API, as VS Code would.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import type { Approval } from "../../src/protocol/index.js";
import { requestText, startFakeAnthropic, type FakeAnthropic } from "../support/fake-model/anthropic.js";
import { CLI_ENTRY, startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { CLAUDE_HOOK, claudeSandbox, ensureClaude, runClaude, startClaude } from "../support/claude.js";
import { hookCommand, switchboardHooks } from "../../src/adapters/claude/install.js";
import { openSender } from "../support/sender.js";
import { waitFor } from "../support/wait.js";

const exec = promisify(execFile);

describe("Claude Code adapter (real claude, real broker, fake model)", () => {
  let home: Awaited<ReturnType<typeof tempHome>>;
  let broker: TestBroker;
  let fake: FakeAnthropic;
  let box: Awaited<ReturnType<typeof claudeSandbox>>;
  const api = () => broker.api;

  before(async () => {
    ensureClaude();
    home = await tempHome("sb-claude-it-");
    broker = await startBroker(home.home);
    fake = await startFakeAnthropic();
    box = await claudeSandbox();
    await exec(process.execPath, [CLI_ENTRY, "install", "claude", "--project", box.project], { env: { PATH: process.env.PATH ?? "" } });
  });

  after(async () => {
    await broker.stop();
    await fake.close();
    await box.cleanup();
    await home.cleanup();
  });

  const env = (extra: Record<string, string> = {}) => ({ SWITCHBOARD_HOME: home.home, ...extra });
  const pending = (match: (a: Approval) => boolean, what: string) => waitFor(async () => (await api().approvals("pending")).find(match), 30_000, `a pending approval for ${what}`);
  const sessions = async () => (await api().endpoints()).filter((e) => e.kind === "claude-code");

  it("1. the session appears with kind claude-code while claude runs, and disappears when it ends, also after kill -9", async () => {
    const run = startClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: "bash: echo one", env: env() });
    const a = await pending((x) => x.command === "echo one", "echo one");
    const [ep] = await sessions();
    assert.ok(ep, "a claude-code session is open");
    assert.equal(ep.endpoint_id, a.endpoint_id);
    assert.match(ep.session_name ?? "", /^claude: project · [0-9a-f]{8}$/);
    assert.deepEqual(ep.workspace, { root: box.project, cwd: box.project });
    await api().decide(a.approval_id, { decision: "approve", decided_by: "test" });
    await run.exited;
    await waitFor(async () => (await sessions()).length === 0, 10_000, "the session to close after claude exited");

    const killed = startClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: "bash: echo two", env: env() });
    const b = await pending((x) => x.command === "echo two", "echo two");
    assert.equal((await sessions()).length, 1);
    killed.kill("SIGKILL");
    await killed.exited;
    await waitFor(async () => (await sessions()).length === 0, 10_000, "the session to close after kill -9 of claude");
    assert.equal((await api().approval(b.approval_id)).state, "cancelled", "its pending approval is cancelled");
  });

  it("2. a Bash call raises an sh approval; approved, it runs, its output and exit status are streamed as Claude Code reports them, and Claude's result holds the same output", async () => {
    // Writes to stdout and to stderr, then waits for the test (so that its stream is surely running when the test tries to stop it).
    const command = "echo out-line; echo err-line >&2; until [ -e go-2 ]; do sleep 0.05; done; touch side-effect-2";
    const run = startClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: `bash: ${command}`, env: env() });
    const a = await pending((x) => x.command === command, command);
    assert.equal(a.action, "sh");
    assert.equal(a.session_kind, "claude-code");
    assert.equal(a.cwd, box.project);
    assert.equal(existsSync(join(box.project, "side-effect-2")), false, "nothing ran before the decision");
    await api().decide(a.approval_id, { decision: "approve", decided_by: "test" });
    const streamId = await waitFor(async () => (await api().approval(a.approval_id)).stream_id ?? undefined, 10_000, "the stream id");
    const running = (await api().replayStream(streamId)).stream;
    assert.equal(running.state, "streaming");
    assert.equal(running.cancellable, false, "nothing here can stop a command Claude Code runs");
    assert.equal(running.output_merged, true, "the stream says Claude Code gives stdout and stderr as one text");
    assert.match(
      running.note ?? "",
      /^Claude Code runs this command itself \(stop it there: Esc\)\. Its output appears as it is written when Switchboard can follow it/,
      "the terminal header says who runs it and how its output arrives",
    );
    // A Stop is refused with the truth instead of marking the stream cancelled while the command runs on.
    await assert.rejects(api().cancelStream(streamId, "test stop"), (err: Error & { code?: string }) => {
      assert.equal(err.code, "stream_not_cancellable");
      assert.match(err.message, /cannot be stopped here: "claude: project · [0-9a-f]{8}" runs it itself; stop it there\./);
      return true;
    });
    await writeFile(join(box.project, "go-2"), "");
    await run.exited;
    assert.ok(existsSync(join(box.project, "side-effect-2")), "the approved command ran");
    const [result] = run.toolResults();
    assert.ok(result && !result.isError);
    assert.equal(result.text, "out-line\nerr-line");
    const replay = await waitFor(
      async () => {
        const r = await api().replayStream(streamId);
        return r.stream.state === "streaming" ? undefined : r;
      },
      10_000,
      "the stream to end",
    );
    assert.equal(replay.stream.state, "completed");
    assert.equal(replay.stream.exit_code, 0);
    assert.equal(replay.stream.command, command);
    const ch = (n: number) =>
      replay.chunks
        .filter((c) => c.channel === n)
        .map((c) => c.data)
        .join("");
    // Claude Code 2.1.332 runs the command with fds 1 and 2 on one file, so its PostToolUse hook reports
    // both in tool_response.stdout and an empty stderr: channel 1 holds exactly what Claude got, channel 2
    // holds what Claude reports as stderr (nothing). tool-outcome.ts puts a separate stderr on channel 2.
    assert.equal(ch(1), `${result.text}\n`);
    assert.equal(ch(2), "");
  });

  it("2b. a failing command: the stream records its exit status and Claude gets the same output", async () => {
    const command = "echo partial; echo to-stderr >&2; exit 3";
    const run = startClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: `bash: ${command}`, env: env() });
    const a = await pending((x) => x.command === command, command);
    await api().decide(a.approval_id, { decision: "approve", decided_by: "test" });
    await run.exited;
    const [result] = run.toolResults();
    assert.ok(result?.isError);
    assert.equal(result.text, "Exit code 3\npartial\nto-stderr");
    const streamId = (await api().approval(a.approval_id)).stream_id!;
    const replay = await waitFor(
      async () => {
        const r = await api().replayStream(streamId);
        return r.stream.state === "streaming" ? undefined : r;
      },
      10_000,
      "the stream to end",
    );
    assert.equal(replay.stream.state, "completed");
    assert.equal(replay.stream.exit_code, 3);
    assert.equal(replay.chunks.map((c) => c.data).join(""), "partial\nto-stderr\n");
  });

  it("2c. a non-zero exit Claude Code reads as no error (grep finding nothing): the stream says the exit status was not reported", async () => {
    const command = "grep no-such-text-anywhere /dev/null";
    const run = startClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: `bash: ${command}`, env: env() });
    const a = await pending((x) => x.command === command, command);
    await api().decide(a.approval_id, { decision: "approve", decided_by: "test" });
    await run.exited;
    assert.equal(run.toolResults()[0]?.isError, false);
    const streamId = (await api().approval(a.approval_id)).stream_id!;
    const ended = await waitFor(
      async () => {
        const r = await api().replayStream(streamId);
        return r.stream.state === "streaming" ? undefined : r.stream;
      },
      10_000,
      "the stream to end",
    );
    assert.equal(ended.state, "completed");
    assert.equal(ended.exit_code, null);
    assert.equal(ended.reason, 'exit status not reported by Claude Code, which read it as "No matches found"');
  });

  it("2d. output too large for Claude's result: Claude keeps its own preview, the stream holds the whole output", async () => {
    const command = "seq 1 100000";
    const run = startClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: `bash: ${command}`, env: env() });
    const a = await pending((x) => x.command === command, command);
    await api().decide(a.approval_id, { decision: "approve", decided_by: "test" });
    await run.exited;
    assert.match(run.toolResults()[0]?.text ?? "", /^<persisted-output>\nOutput too large/);
    const streamId = (await api().approval(a.approval_id)).stream_id!;
    const ended = await waitFor(
      async () => {
        const r = await api().replayStream(streamId);
        return r.stream.state === "streaming" ? undefined : r.stream;
      },
      10_000,
      "the stream to end",
    );
    assert.equal(ended.exit_code, 0);
    const expected = Array.from({ length: 100_000 }, (_, i) => `${i + 1}\n`).join("");
    assert.deepEqual(ended.channels["1"], { bytes: Buffer.byteLength(expected), truncated: false });
    assert.equal((await api().replayStream(streamId)).chunks.map((c) => c.data).join(""), expected);
  });

  it("2e. output is copied to the stream as the command writes it (Linux), and Claude's result is unchanged", {
    skip: process.platform !== "linux" && "follows the output file through /proc",
  }, async () => {
    const command = "echo first-line; echo to-stderr >&2; until [ -e go-2e ]; do sleep 0.05; done; echo last-line";
    const run = startClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: `bash: ${command}`, env: env() });
    const a = await pending((x) => x.command === command, command);
    await api().decide(a.approval_id, { decision: "approve", decided_by: "test" });
    const streamId = await waitFor(async () => (await api().approval(a.approval_id)).stream_id ?? undefined, 10_000, "the stream id");
    // The command waits for the test: whatever the stream holds now was copied while it runs.
    const live = await waitFor(
      async () => {
        const r = await api().replayStream(streamId);
        const text = r.chunks.map((c) => c.data).join("");
        return text.includes("to-stderr") ? { text, state: r.stream.state } : undefined;
      },
      15_000,
      "the first output while the command runs",
    );
    assert.equal(live.state, "streaming");
    assert.equal(live.text, "first-line\nto-stderr\n", "stdout and stderr in the order written");
    await writeFile(join(box.project, "go-2e"), "");
    await run.exited;
    const [result] = run.toolResults();
    assert.equal(result?.text, "first-line\nto-stderr\nlast-line");
    const replay = await waitFor(
      async () => {
        const r = await api().replayStream(streamId);
        return r.stream.state === "streaming" ? undefined : r;
      },
      10_000,
      "the stream to end",
    );
    assert.equal(replay.stream.exit_code, 0);
    assert.equal(replay.chunks.map((c) => c.data).join(""), "first-line\nto-stderr\nlast-line\n", "the rest arrived once, nothing twice");
  });

  it("3. rejecting blocks the call (no side effect) and Claude's tool result carries the reason", async () => {
    const command = "touch side-effect-3";
    const run = startClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: `bash: ${command}`, env: env() });
    const a = await pending((x) => x.command === command, command);
    await api().decide(a.approval_id, { decision: "reject", reason: "not in this folder, please", decided_by: "test-reviewer" });
    await run.exited;
    assert.equal(existsSync(join(box.project, "side-effect-3")), false);
    const [result] = run.toolResults();
    assert.ok(result?.isError);
    assert.match(result.text, /Rejected in Switchboard by test-reviewer: not in this folder, please/);
  });

  it("3b. an approval nobody decides expires before Claude Code's hook timeout, and the call is denied", async () => {
    // A project whose hooks say 22 s: the approval expires 20 s before that, after 2 s.
    const project = join(box.root, "short-timeout");
    await mkdir(join(project, ".claude"), { recursive: true });
    const command = hookCommand({ hookEntry: CLAUDE_HOOK, shellEntry: CLAUDE_HOOK.replace(/\.js$/, ".sh"), timeoutS: 22 });
    await writeFile(join(project, ".claude", "settings.local.json"), JSON.stringify({ hooks: switchboardHooks(command, 22) }));
    const run = await runClaude({ cwd: project, home: box.home, baseUrl: fake.baseUrl, prompt: "bash: touch side-effect-3b", env: env() });
    assert.equal(existsSync(join(project, "side-effect-3b")), false);
    const [result] = run.toolResults();
    assert.ok(result?.isError);
    assert.match(result.text, /Not run: denied because nobody decided on this in Switchboard before the approval timed out\./);
    const expired = (await api().approvalHistory(20)).find((a) => a.command === "touch side-effect-3b");
    assert.equal(expired?.state, "expired");
  });

  it("4. a read-only command is raised as env; a Write as edit with the diff against the file on disk", async () => {
    const ls = startClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: "bash: ls -la", env: env() });
    const a = await pending((x) => x.command === "ls -la", "ls -la");
    assert.equal(a.action, "env");
    await api().decide(a.approval_id, { decision: "approve", decided_by: "test" });
    await ls.exited;

    await writeFile(join(box.project, "notes.txt"), "alpha\nbeta\n");
    const w = startClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: `write: ${join(box.project, "notes.txt")}\nalpha\ngamma\n`, env: env() });
    const b = await pending((x) => x.action === "edit", "the Write");
    assert.equal(b.summary, "overwrite notes.txt (2 lines)");
    assert.match(b.diff ?? "", /^--- a\/notes\.txt\n\+\+\+ b\/notes\.txt\n@@ -1,2 \+1,2 @@\n alpha\n-beta\n\+gamma\n/);
    await api().decide(b.approval_id, { decision: "approve", decided_by: "test" });
    await w.exited;
    assert.equal(await readFile(join(box.project, "notes.txt"), "utf8"), "alpha\ngamma\n");
  });

  it("5. with no broker reachable the call is denied with a sentence; with SWITCHBOARD_CLAUDE_OFFLINE=allow it runs", async () => {
    const nowhere = await tempHome("sb-claude-nobroker-");
    try {
      const noBroker = { SWITCHBOARD_HOME: nowhere.home, SWITCHBOARD_CLAUDE_SPAWN: "0" };
      const denied = await runClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: "bash: touch side-effect-5", env: noBroker });
      assert.equal(existsSync(join(box.project, "side-effect-5")), false);
      const [r] = denied.toolResults();
      assert.ok(r?.isError);
      assert.match(r.text, /Not run: Switchboard approval is required, but the broker cannot be reached \(.+\)\. Start it .*, or set SWITCHBOARD_CLAUDE_OFFLINE=allow\./);
      const allowed = await runClaude({
        cwd: box.project,
        home: box.home,
        baseUrl: fake.baseUrl,
        prompt: "bash: touch side-effect-5",
        env: { ...noBroker, SWITCHBOARD_CLAUDE_OFFLINE: "allow" },
      });
      assert.ok(existsSync(join(box.project, "side-effect-5")), "ran unreviewed");
      assert.equal(allowed.toolResults()[0]?.isError, false);
    } finally {
      await nowhere.cleanup();
    }
  });

  it("6. a routed message reaches Claude's next request to the model, and Claude's reply goes back to the sender", async () => {
    const sender = await openSender(home.home, "sender");
    try {
      let queued: () => void = () => {};
      const messageQueued = new Promise<void>((r) => (queued = r));
      // The first answer waits until the message is queued in the session; Stop then hands it to Claude.
      fake.enqueue({ text: "first answer", before: () => messageQueued }, { text: "the build is green" });
      const before0 = fake.requests.length;
      const run = startClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: "say something", env: env() });
      const [ep] = await waitFor(
        async () => {
          const s = await sessions();
          return s.length ? s : undefined;
        },
        20_000,
        "the claude session",
      );
      // Claude is in its turn (its first model request is waiting): the message must wait for the turn's end.
      const from = await waitFor(
        () => {
          const i = fake.requests.findIndex((r, k) => k >= before0 && r.main);
          return i >= 0 ? i + 1 : undefined;
        },
        20_000,
        "Claude's first model request",
      );
      const sent = await sender.send(ep!.endpoint_id, "please check the build status");
      assert.equal(sent.status, "delivered");
      await waitFor(async () => ((await sessions())[0]?.task_hint ?? "").includes("1 message queued"), 10_000, "the session to show the message as queued");
      queued();
      await run.exited;
      const later = fake.requests.slice(from).filter((r) => r.main);
      assert.ok(
        later.some((r) => requestText(r).includes("please check the build status")),
        `the model saw the routed message; requests: ${later.map((r) => requestText(r).slice(-300)).join(" | ")}`,
      );
      const reply = await waitFor(() => sender.replies[0], 10_000, "the reply to the sender");
      assert.equal(reply.from, ep!.session_name);
      assert.equal(reply.content, "the build is green");
      assert.equal(reply.metadata.in_reply_to, sent.correlation_id);
    } finally {
      await sender.close();
    }
  });

  it("6b. a queued message survives kill -9 of the session's companion: the next hook starts a new one that delivers it", async () => {
    const sender = await openSender(home.home, "sender-6b");
    try {
      let release: () => void = () => {};
      const released = new Promise<void>((r) => (release = r));
      const before0 = fake.requests.length;
      fake.enqueue({ text: "first answer", before: () => released }, { text: "answered after the restart" });
      const run = startClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: "say something", env: env() });
      await waitFor(() => fake.requests.slice(before0).some((r) => r.main), 20_000, "Claude's first model request");
      const [ep] = await sessions();
      const sent = await sender.send(ep!.endpoint_id, "survive the crash");
      await waitFor(async () => ((await sessions())[0]?.task_hint ?? "").includes("1 message queued"), 10_000, "the message to be queued");
      process.kill(ep!.plugin_pid, "SIGKILL");
      await waitFor(async () => !(await sessions()).some((s) => s.endpoint_id === ep!.endpoint_id), 10_000, "the old endpoint to close");
      release();
      await run.exited;
      assert.ok(
        fake.requests.slice(before0).some((r) => r.main && requestText(r).includes("survive the crash")),
        "the model saw the message that was queued when the companion died",
      );
      const reply = await waitFor(() => sender.replies[0], 10_000, "the reply to the sender");
      assert.equal(reply.content, "answered after the restart");
      assert.equal(reply.metadata.in_reply_to, sent.correlation_id);
    } finally {
      await sender.close();
    }
  });

  it("6c. a message still queued when claude is killed goes back to the inbox, not lost", async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((r) => (release = r));
    const before0 = fake.requests.length;
    fake.enqueue({ text: "never sent", before: () => released });
    const run = startClaude({ cwd: box.project, home: box.home, baseUrl: fake.baseUrl, prompt: "say something", env: env() });
    try {
      await waitFor(() => fake.requests.slice(before0).some((r) => r.main), 20_000, "Claude's first model request");
      const [ep] = await sessions();
      const sent = await api().ingress({ from: "ci-bot", to: ep!.endpoint_id, content: "do not lose me" });
      assert.equal(sent.status, "delivered");
      await waitFor(async () => ((await sessions())[0]?.task_hint ?? "").includes("1 message queued"), 10_000, "the message to be queued");
      run.kill("SIGKILL");
      await run.exited;
      const item = await waitFor(async () => (await api().undispatched(process.pid)).find((i) => i.content === "do not lose me"), 15_000, "the message back in the inbox");
      assert.equal(item.sender_address, "ci-bot");
      await waitFor(async () => (await sessions()).length === 0, 10_000, "the session to close");
    } finally {
      release();
    }
  });
});
