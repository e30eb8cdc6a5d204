// `switchboard run` end to end: a real CLI process asks the real broker, a "reviewer" decides through
// the API, and the command runs with its output streamed. Exit codes are the contract scripts rely on.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import type { BrokerApi } from "../../src/client/api.js";
import type { Approval } from "../../src/protocol/index.js";
import { CLI_ENTRY, childEnv, startTempBroker, type TempBroker, outputOf } from "../support/broker.js";
import { waitFor } from "../support/wait.js";

interface RunProc {
  exit: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
  kill: (sig: NodeJS.Signals) => void;
}

function runCli(home: string, args: string[]): RunProc {
  const child = spawn(process.execPath, [CLI_ENTRY, "run", ...args], { env: childEnv({ SWITCHBOARD_HOME: home }), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let errText = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (errText += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return {
    exit: new Promise((r) => child.once("exit", (code, signal) => (clearTimeout(timer), r(code ?? (signal ? -1 : null))))),
    stdout: () => out,
    stderr: () => errText,
    kill: (sig) => child.kill(sig),
  };
}

function nextPending(api: BrokerApi, command: string): Promise<Approval> {
  return waitFor(async () => (await api.approvals("pending")).find((a) => a.command === command), 10_000, `a pending approval for ${command}`, 30);
}

describe("switchboard run", () => {
  let b: TempBroker;
  before(async () => {
    b = await startTempBroker();
  });
  after(() => b.cleanup());

  const approveAndRun = async (args: string[], command: string, decision: "approve" | "reject" = "approve", reason?: string) => {
    const p = runCli(b.home, args);
    const a = await nextPending(b.api, command);
    await b.api.decide(a.approval_id, { decision, decided_by: "test-reviewer", ...(reason ? { reason } : {}) });
    return { p, a, code: await p.exit };
  };

  it("runs an approved command, mirrors and streams both channels, and exits with its code", async () => {
    const cmd = "sh -c 'echo out; echo err >&2; exit 3'";
    const { p, a, code } = await approveAndRun(["--session", "ci-job", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], cmd);
    assert.equal(code, 3);
    assert.equal(p.stdout(), "out\n");
    assert.match(p.stderr(), /waiting for approval of sh/);
    assert.match(p.stderr(), /^err$/m);
    assert.equal(a.session, "ci-job");
    assert.equal(a.action, "sh");
    const approval = await b.api.approval(a.approval_id);
    assert.ok(approval.stream_id, "the approval links to its stream");
    const replay = await b.api.replayStream(approval.stream_id!);
    assert.equal(replay.stream.state, "completed");
    assert.equal(replay.stream.status, 500);
    assert.equal(replay.stream.exit_code, 3);
    assert.equal(outputOf(replay.chunks, 1), "out\n");
    assert.equal(outputOf(replay.chunks, 2), "err\n");
  });

  it("without --session, a run is named after its command, and two open runs of one command differ", async () => {
    const first = runCli(b.home, ["--", "sh", "-c", "echo same"]);
    const a1 = await nextPending(b.api, "sh -c 'echo same'");
    const second = runCli(b.home, ["--", "sh", "-c", "echo same"]);
    const both = await waitFor(
      async () => {
        const same = (await b.api.approvals("pending")).filter((a) => a.command === "sh -c 'echo same'");
        return same.length >= 2 && same;
      },
      10_000,
      "two pending runs of sh -c 'echo same'",
      30,
    );
    const other = runCli(b.home, ["--", "ls"]);
    const a3 = await nextPending(b.api, "ls");
    assert.equal(a1.session, "sh -c 'echo same'");
    assert.deepEqual(both.map((a) => a.session).sort(), ["sh -c 'echo same'", "sh -c 'echo same' (2)"]);
    assert.equal(a3.session, "ls");
    for (const a of [...both, a3]) await b.api.decide(a.approval_id, { decision: "reject", decided_by: "test-reviewer" });
    assert.deepEqual(await Promise.all([first.exit, second.exit, other.exit]), [126, 126, 126]);
  });

  it("exits 0 on success and asks read-only commands as env", async () => {
    const { code, a, p } = await approveAndRun(["--env", "--", "echo", "hello world"], "echo 'hello world'");
    assert.equal(code, 0);
    assert.equal(a.action, "env");
    assert.equal(p.stdout(), "hello world\n");
  });

  it("reports a killed command as 128+signal", async () => {
    const { code } = await approveAndRun(["--", "sh", "-c", "kill -KILL $$"], "sh -c 'kill -KILL $$'");
    assert.equal(code, 137);
  });

  it("a rejection prints the reason and exits 126 without running anything", async () => {
    const { code, p } = await approveAndRun(["--", "sh", "-c", "echo should-not-run"], "sh -c 'echo should-not-run'", "reject", "not on main");
    assert.equal(code, 126);
    assert.equal(p.stdout(), "");
    assert.match(p.stderr(), /rejected by test-reviewer: not on main/);
  });

  it("Ctrl+C while waiting withdraws the request; Ctrl+C while running aborts the stream", async () => {
    const waiting = runCli(b.home, ["--", "sh", "-c", "echo never"]);
    const a = await nextPending(b.api, "sh -c 'echo never'");
    waiting.kill("SIGINT");
    assert.equal(await waiting.exit, 130);
    assert.equal((await b.api.approval(a.approval_id)).state, "cancelled");

    const running = runCli(b.home, ["--", "sh", "-c", "echo started; sleep 30"]);
    const r = await nextPending(b.api, "sh -c 'echo started; sleep 30'");
    await b.api.decide(r.approval_id, { decision: "approve", decided_by: "t" });
    while (!running.stdout().includes("started")) await new Promise((res) => setTimeout(res, 20));
    running.kill("SIGINT");
    assert.equal(await running.exit, 130);
    const s = await b.api.replayStream((await b.api.approval(r.approval_id)).stream_id!);
    assert.equal(s.stream.state, "aborted");
    assert.equal(s.stream.reason, "interrupted with Ctrl+C");
    // How the process ended is part of the one outcome every view shows.
    assert.ok(s.stream.signal === "SIGINT" || s.stream.exit_code === 130, `the signal or exit code is recorded: ${JSON.stringify(s.stream)}`);
    assert.ok(s.stream.duration_ms !== null && s.stream.duration_ms > 0, "and the duration");
  });

  it("a viewer's cancel stops the command; the stream ends cancelled with how the process ended", async () => {
    const running = runCli(b.home, ["--", "sh", "-c", "echo go; sleep 30"]);
    const a = await nextPending(b.api, "sh -c 'echo go; sleep 30'");
    await b.api.decide(a.approval_id, { decision: "approve", decided_by: "t" });
    while (!running.stdout().includes("go")) await new Promise((res) => setTimeout(res, 20));
    const streamId = (await b.api.approval(a.approval_id)).stream_id!;
    await b.api.cancelStream(streamId, "stopped from VS Code");
    assert.equal(await running.exit, 130, "sh dies of the SIGINT: 128+2");
    assert.match(running.stderr(), /stopped from VS Code/);
    const end = (await b.api.replayStream(streamId)).stream;
    assert.equal(end.state, "cancelled");
    assert.ok(end.signal === "SIGINT" || end.exit_code === 130, `how it ended is recorded: ${JSON.stringify(end)}`);
  });

  it("usage errors exit 2", async () => {
    const p = runCli(b.home, []);
    assert.equal(await p.exit, 2);
    const bad = runCli(b.home, ["--execute", "robot", "--", "true"]);
    assert.equal(await bad.exit, 2);
    assert.match(bad.stderr(), /--execute must be agent or editor/);
  });
});
