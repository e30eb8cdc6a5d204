// The pure parts of `switchboard acp`: permission requests → approval requests (shapes seen from the
// four real agents, shared/reference/agents-observed/acp-*.jsonl), decisions → the option by kind,
// the per-session turn queue, the reply text, and tool output → stream output.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PermissionOption, ToolCallUpdate } from "@agentclientprotocol/sdk";
import { approvalRequestFor, commandOf, mergeToolCall, permissionOutcome } from "../../src/adapters/acp/permission.js";
import { finalOutcome, liveExit, liveOutput, ToolStreams, unfence } from "../../src/adapters/acp/tool-streams.js";
import type { StreamWriter } from "../../src/client/stream-writer.js";
import { AnswerText, MAX_QUEUED, TurnQueue, replyText, type Turn } from "../../src/adapters/acp/turns.js";
import { ChatView } from "../../src/adapters/acp/chat-view.js";

const opt = (optionId: string, kind: PermissionOption["kind"]): PermissionOption => ({ optionId, name: optionId, kind });
const CLAUDE = [opt("allow_always", "allow_always"), opt("allow", "allow_once"), opt("reject", "reject_once")];
const CODEX = [opt("approved", "allow_once"), opt("approved-execpolicy-amendment", "allow_always"), opt("abort", "reject_once")];
const GEMINI = [opt("proceed_always", "allow_always"), opt("proceed_once", "allow_once"), opt("cancel", "reject_once")];
const OPENCODE = [opt("once", "allow_once"), opt("always", "allow_always"), opt("reject", "reject_once")];

describe("acp permission options", () => {
  it("approve selects allow_once by kind, whatever the ids", () => {
    for (const [options, id] of [
      [CLAUDE, "allow"],
      [CODEX, "approved"],
      [GEMINI, "proceed_once"],
      [OPENCODE, "once"],
    ] as const)
      assert.deepEqual(permissionOutcome(options, { decision: "approve" }).outcome, { outcome: "selected", optionId: id });
  });

  it("reject selects reject_once and carries the reason in _meta", () => {
    const r = permissionOutcome(GEMINI, { decision: "reject", reason: "no" });
    assert.deepEqual(r.outcome, { outcome: "selected", optionId: "cancel", _meta: { switchboard: { reason: "no" } } });
    assert.equal(r.note, "no");
    assert.deepEqual(permissionOutcome([opt("never", "reject_always")], { decision: "reject" }).outcome, { outcome: "selected", optionId: "never" });
  });

  it("never grants more than approved: no allow_once means a rejection, no option at all means cancelled", () => {
    const onlyAlways = [opt("always", "allow_always"), opt("no", "reject_once")];
    const r = permissionOutcome(onlyAlways, { decision: "approve" });
    assert.deepEqual(r.outcome.outcome === "selected" && r.outcome.optionId, "no");
    assert.deepEqual(permissionOutcome([opt("always", "allow_always")], { decision: "approve" }).outcome, { outcome: "cancelled" });
    assert.deepEqual(permissionOutcome([], { decision: "approve" }).outcome, { outcome: "cancelled" });
    assert.deepEqual(permissionOutcome(CLAUDE, { decision: "cancelled" }).outcome, { outcome: "cancelled" });
  });
});

describe("acp approval requests", () => {
  const cwd = "/home/dev/proj";
  it("execute: the command from rawInput (string or argv) or the title, classified env/sh", () => {
    const claude: ToolCallUpdate = { toolCallId: "t", kind: "execute", title: "echo hi > f", rawInput: { command: "echo hi > f", description: "Run" } };
    const r = approvalRequestFor(claude, cwd, "Claude Agent");
    assert.equal(r.action, "sh");
    assert.equal(r.command, "echo hi > f");
    assert.equal(r.cwd, cwd);
    const codex: ToolCallUpdate = { toolCallId: "t", kind: "execute", title: "ls", rawInput: { command: ["/bin/bash", "-lc", "ls -la"] } };
    assert.equal(commandOf(codex), "ls -la");
    assert.equal(approvalRequestFor(codex, cwd, "Codex").action, "env");
    assert.equal(commandOf({ toolCallId: "t", kind: "execute", rawInput: { command: ["git", "commit", "-m", "a b"] } }), "git commit -m 'a b'");
    const gemini: ToolCallUpdate = { toolCallId: "t", kind: "execute", title: "cat README.md" };
    assert.equal(approvalRequestFor(gemini, cwd, "Gemini").command, "cat README.md");
  });

  it("edit: a unified diff from the tool call's diff content (new file against /dev/null)", () => {
    const call: ToolCallUpdate = {
      toolCallId: "t",
      kind: "edit",
      title: "Write edited.txt",
      content: [{ type: "diff", path: `${cwd}/edited.txt`, oldText: null, newText: "one\ntwo\n" }],
    };
    const r = approvalRequestFor(call, cwd, "Claude Agent");
    assert.equal(r.action, "edit");
    assert.equal(r.summary, "create edited.txt");
    assert.equal(r.diff, "--- /dev/null\n+++ b/edited.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n");
    const change = approvalRequestFor({ ...call, content: [{ type: "diff", path: `${cwd}/a.txt`, oldText: "x\n", newText: "y\n" }] }, cwd, "A");
    assert.match(change.diff!, /^--- a\/a\.txt\n\+\+\+ b\/a\.txt\n@@ -1 \+1 @@\n-x\n\+y\n/);
  });

  it("anything else: `tool` with the title and the raw input", () => {
    const r = approvalRequestFor({ toolCallId: "t", kind: "fetch", title: "Fetch https://x", rawInput: { url: "https://x" } }, cwd, "A");
    assert.equal(r.action, "tool");
    assert.equal(r.summary, "Fetch https://x");
    assert.match(r.detail!, /"url": "https:\/\/x"/);
  });

  it("a permission request's tool call is completed from earlier updates (an empty rawInput says nothing)", () => {
    const known: ToolCallUpdate = { toolCallId: "t", kind: "execute", title: "bash", rawInput: { command: "ls" } };
    const merged = mergeToolCall(known, { toolCallId: "t", title: "ls", rawInput: {} });
    assert.deepEqual(merged, { toolCallId: "t", kind: "execute", title: "ls", rawInput: { command: "ls" } });
  });
});

describe("acp turn queue", () => {
  const msg = (id: string): Turn => ({
    origin: "message",
    text: id,
    message: { messageId: id, pushId: `p-${id}`, text: id, from: "s", replyTo: "s", replyToEndpoint: false, inReplyTo: id },
  });
  it("starts when idle, queues FIFO while busy, refuses past the bound, drops a repeat", () => {
    const q = new TurnQueue(2);
    assert.equal(q.offer(msg("a")).kind, "start");
    assert.deepEqual(q.offer(msg("b")), { kind: "queued", position: 1 });
    assert.deepEqual(q.offer({ origin: "user", text: "typed" }), { kind: "queued", position: 2 });
    assert.equal(q.offer(msg("c")).kind, "full");
    assert.equal(q.offer(msg("b")).kind, "duplicate");
    assert.equal(q.offer(msg("a")).kind, "duplicate");
    assert.equal(q.finish()?.text, "b");
    assert.equal(q.finish()?.text, "typed");
    assert.equal(q.finish(), undefined);
    assert.equal(q.busy, false);
    assert.ok(MAX_QUEUED >= 8);
  });

  it("the reply is the last thing the agent said after its tool calls", () => {
    const a = new AnswerText();
    a.chunk("I will run ");
    a.chunk("a command.");
    a.toolCall();
    a.chunk("FAKE-DONE: ok");
    assert.equal(a.reply(), "FAKE-DONE: ok");
    const b = new AnswerText();
    b.chunk("only this");
    b.toolCall();
    assert.equal(b.reply(), "only this");
    assert.match(replyText("", "end_turn", undefined, "Gemini"), /without a text answer/);
    assert.match(replyText("part", "cancelled", undefined, "Gemini"), /cancelled[\s\S]*part/);
    assert.match(replyText("", undefined, "boom", "Gemini"), /could not answer: boom/);
  });
});

describe("acp tool output", () => {
  it("codex rawOutput keeps stdout and stderr apart with the exit code", () => {
    const o = finalOutcome({ toolCallId: "t", status: "completed", rawOutput: { stdout: "out\n", stderr: "err\n", exit_code: 3 } });
    assert.deepEqual(o, {
      output: [
        [1, "out\n"],
        [2, "err\n"],
      ],
      merged: false,
      exitCode: 3,
      signal: null,
    });
  });
  it("content text (fences removed) or rawOutput.output is merged output", () => {
    const claude = finalOutcome({ toolCallId: "t", status: "completed", content: [{ type: "content", content: { type: "text", text: "```console\nhello\n```" } }] });
    assert.deepEqual(claude, { output: [[1, "hello\n"]], merged: true, exitCode: null, signal: null });
    const opencode = finalOutcome({ toolCallId: "t", status: "completed", rawOutput: { output: "hi\n", metadata: { exit: 0 } } });
    assert.deepEqual(opencode, { output: [[1, "hi\n"]], merged: true, exitCode: 0, signal: null });
    assert.equal(unfence("plain"), "plain");
  });
  it("live _meta.terminal_output / terminal_exit", () => {
    assert.equal(liveOutput({ toolCallId: "t", _meta: { terminal_output: { terminal_id: "t", data: "x" } } }), "x");
    assert.deepEqual(liveExit({ toolCallId: "t", _meta: { terminal_exit: { terminal_id: "t", exit_code: 1, signal: null } } }), { exitCode: 1, signal: null });
    assert.equal(liveOutput({ toolCallId: "t" }), undefined);
  });
});

describe("acp tool streams", () => {
  /** ToolStreams for `agent`, recording each stream it starts: the start request, what is written, how it ends. */
  const record = (agent: { name: string; title: string }) => {
    const streams: { req: Record<string, unknown>; out: [number, string][]; end?: { exit_code: number | null } }[] = [];
    const pending: Promise<unknown>[] = [];
    const ts = new ToolStreams(
      {
        agent: () => agent,
        log: () => {},
        track: (p) => void pending.push(p),
        start: async (req) => {
          const s: (typeof streams)[number] = { req, out: [] };
          streams.push(s);
          return {
            write: (ch: number, d: string) => (s.out.push([ch, d]), true),
            complete: async (e: { exit_code: number | null }) => void (s.end = e),
          } as unknown as StreamWriter;
        },
      },
      "/w",
    );
    const run = async (content: ToolCallUpdate["content"]) => {
      const call: ToolCallUpdate = { toolCallId: `t${streams.length}`, kind: "execute", status: "pending", title: "true" };
      ts.decided(call, "apr_1", "sh", "true", true);
      const done: ToolCallUpdate = { ...call, status: "completed", content };
      ts.update(done, done, "true", "sh");
      await Promise.all(pending);
      return streams[streams.length - 1]!;
    };
    return run;
  };
  const text = (t: string): ToolCallUpdate["content"] => [{ type: "content", content: { type: "text", text: t } }];

  it("a call the agent sent no output for says so in its header, never an empty terminal as if the command printed nothing", async () => {
    const claude = record({ name: "@zed-industries/claude-agent-acp", title: "Claude Code" });
    const silent = await claude([]);
    assert.equal(silent.req.note, "Claude Code sent no output for this command.");
    assert.deepEqual(silent.out, []);
    assert.equal(silent.end?.exit_code, 0, "completed with no exit code is exit 0 for the others (they report a failed command as failed)");
    const spoke = await claude(text("hi\n"));
    assert.equal(spoke.req.note, undefined);
    assert.deepEqual(spoke.out, [[1, "hi\n"]]);
  });
  it("gemini-cli: the header says why there is no output and how to get it; no exit code is made up", async () => {
    const gemini = record({ name: "gemini-cli", title: "Gemini CLI" });
    const silent = await gemini([]);
    assert.match(String(silent.req.note), /^Gemini CLI sent no output for this command: .*pseudo-terminal.*"enableInteractiveShell": false/);
    assert.equal(silent.end?.exit_code, null);
    const spoke = await gemini(text("out\n"));
    assert.equal(spoke.req.note, undefined);
    assert.equal(spoke.end?.exit_code, null);
  });
});

describe("agent text in the terminal", () => {
  it("the chat shows control and bidi characters as escapes, keeps line breaks, and titles stay on one line", () => {
    let out = "";
    const view = new ChatView({ write: (t) => void (out += t), color: false });
    view.update({ sessionUpdate: "agent_message_chunk", content: { type: "text", text: "a\x1b[31mb\nc\u202ed\r" } });
    view.update({ sessionUpdate: "tool_call", toolCallId: "t", title: "x\ny\x07", kind: "execute", status: "pending" });
    assert.equal(out, "a\\x1b[31mb\nc\\u202ed\\r\n… execute: x\\ny\\x07 (pending)\n");
  });
});

describe("New Agent Session… choices", () => {
  it("offers the setting's agents, then the known ACP agents found on PATH", async () => {
    const { mkdtemp, writeFile, chmod, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { agentChoices, parseAgentsSetting } = await import("../../src/extension/agent-choices.js");
    const dir = await mkdtemp(join(tmpdir(), "sb-agents-"));
    try {
      for (const f of ["gemini", "opencode"]) {
        await writeFile(join(dir, f), "#!/bin/sh\n");
        await chmod(join(dir, f), 0o755);
      }
      const warnings: string[] = [];
      const configured = parseAgentsSetting(
        [{ name: "My Gemini", command: "gemini", args: ["--acp"], env: { GEMINI_API_KEY: "k" } }, { command: "" }, { command: "x", args: "no" }, "junk"],
        (w) => warnings.push(w),
      );
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /left out entry 2 needs a command, entry 3 has args that are not a list of strings, entry 4 is not an object\.$/);
      const choices = agentChoices(configured, dir);
      assert.deepEqual(
        choices.map((c) => [c.name, c.command, c.args.join(" "), c.source]),
        [
          ["My Gemini", "gemini", "--acp", "setting"],
          ["OpenCode", "opencode", "acp", "PATH"],
        ],
      );
      assert.deepEqual(choices[0]!.env, { GEMINI_API_KEY: "k" });
      assert.deepEqual(
        parseAgentsSetting({ not: "a list" }, () => {}),
        [],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
