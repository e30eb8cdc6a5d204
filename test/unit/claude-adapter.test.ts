// The Claude Code adapter without Claude: `switchboard install claude` merging Switchboard's hooks into Claude Code's settings keeps the rest
// of the file byte for byte, is idempotent, and --uninstall removes only what it added. Plus the pure
// pieces of the adapter: edit diffs with Claude Code's semantics, the task hint, failure parsing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { hookCommand, installClaudeHooks, mergeSettingsText, shellQuote, switchboardHooks } from "../../src/adapters/claude/install.js";
import { runHook } from "../../src/adapters/claude/hook.js";
import { approvalTimeoutMs, hintText } from "../../src/adapters/claude/protocol.js";
import { bashOutcome, parseFailure } from "../../src/adapters/claude/tool-outcome.js";
import { applyClaudeEdits, editsRequest } from "../../src/adapters/claude/requests.js";
import type { FeedModel } from "../../src/client/index.js";
import { newlyWaiting } from "../../src/extension/state.js";
import type { EndpointView } from "../../src/protocol/index.js";

const CMD = hookCommand({ hookEntry: "/opt/sb/dist/claude-hook.js", node: "/usr/bin/node" });

describe("install claude: settings merge", () => {
  const userFile = `{
    // my own settings, with a comment
    "model": "opus",
    "permissions": { "allow": ["Bash(npm test)"] },
    "hooks": {
        "PreToolUse": [
            { "matcher": "Bash", "hooks": [ { "type": "command", "command": "my-linter --check" } ] }
        ]
    }
}
`;

  it("adds every hook event, keeps the user's text byte for byte, and is idempotent", () => {
    const once = mergeSettingsText(userFile, switchboardHooks(CMD));
    assert.ok(once.startsWith('{\n    // my own settings, with a comment\n    "model": "opus",\n    "permissions": { "allow": ["Bash(npm test)"] },'), once);
    assert.match(once, /"command": "my-linter --check"/);
    for (const event of ["SessionStart", "UserPromptSubmit", "Notification", "Stop", "SessionEnd", "PreToolUse", "PostToolUse", "PostToolUseFailure"])
      assert.match(once, new RegExp(`"${event}"`));
    assert.equal(mergeSettingsText(once, switchboardHooks(CMD)), once, "a second install changes nothing");
    const moved = mergeSettingsText(once, switchboardHooks(hookCommand({ hookEntry: "/new/place/dist/claude-hook.js", node: "/usr/bin/node" })));
    assert.equal(moved.match(/claude-hook\.js/g)?.length, 8, "a reinstall from elsewhere replaces the entries instead of adding more");
    assert.doesNotMatch(moved, /\/opt\/sb/);
  });

  it("an install from the version without PostToolUse upgrades in place, and uninstall still restores the user's file", () => {
    const old = switchboardHooks(CMD);
    delete old.PostToolUse;
    delete old.PostToolUseFailure;
    const before = mergeSettingsText(userFile, old);
    assert.doesNotMatch(before, /PostToolUse/);
    const upgraded = mergeSettingsText(before, switchboardHooks(CMD));
    const hooks = (JSON.parse(upgraded.replace(/^\s*\/\/.*$/m, "")) as { hooks: Record<string, { matcher?: string; hooks: { command: string; timeout: number }[] }[]> }).hooks;
    assert.deepEqual(hooks.PostToolUse, [{ matcher: "Bash", hooks: [{ type: "command", command: CMD, timeout: 30 }] }]);
    assert.deepEqual(hooks.PostToolUseFailure, hooks.PostToolUse);
    assert.equal(hooks.PreToolUse!.length, 2, "the user's PreToolUse entry and Switchboard's, not a second Switchboard one");
    assert.equal(mergeSettingsText(upgraded, switchboardHooks(CMD)), upgraded, "idempotent after the upgrade");
    assert.equal(mergeSettingsText(upgraded, undefined), userFile, "uninstall gives back the user's file byte for byte");
  });

  it("uninstall removes only what install added", () => {
    const installed = mergeSettingsText(userFile, switchboardHooks(CMD));
    assert.equal(mergeSettingsText(installed, undefined), userFile);
    const fresh = mergeSettingsText("", switchboardHooks(CMD));
    assert.equal(mergeSettingsText(fresh, undefined).replace(/\s/g, ""), "{}");
  });

  it("refuses a file that is not a JSON object, with a sentence", () => {
    assert.throws(() => mergeSettingsText("[1,2]", switchboardHooks(CMD), "x.json"), /x\.json does not hold a JSON object/);
    assert.throws(() => mergeSettingsText("{ nope", switchboardHooks(CMD), "x.json"), /x\.json is not valid JSON/);
    assert.throws(() => mergeSettingsText('{"hooks": 3}', switchboardHooks(CMD), "x.json"), /"hooks" is not an object/);
  });

  it("writes only when something changes; uninstall of a missing file does nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sb-claude-install-"));
    try {
      const file = join(dir, ".claude", "settings.local.json");
      assert.deepEqual(await installClaudeHooks(file, CMD, { uninstall: true }), { file, changed: false, created: false });
      assert.equal((await installClaudeHooks(file, CMD)).created, true);
      const text = await readFile(file, "utf8");
      assert.equal(JSON.parse(text).hooks.PreToolUse[0].matcher, "Bash|Write|Edit|MultiEdit|NotebookEdit");
      assert.equal((await installClaudeHooks(file, CMD)).changed, false);
      const mine = `{\n  "theme": "dark",\n  "env": { "A": "1" }\n}\n`;
      await writeFile(file, mine);
      await installClaudeHooks(file, CMD);
      await installClaudeHooks(file, CMD, { uninstall: true });
      assert.equal(await readFile(file, "utf8"), mine);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("quotes paths for the shell Claude Code runs hooks with", () => {
    assert.equal(shellQuote("/a b/it's"), `'/a b/it'\\''s'`);
    assert.equal(hookCommand({ hookEntry: "/x/claude-hook.js", node: "/n", home: "/h h" }), "/n /x/claude-hook.js --hook-timeout 900 --home '/h h'");
  });
});

describe("Claude Code edit requests", () => {
  it("applies edits in order with replace_all, as Claude Code does", () => {
    assert.deepEqual(applyClaudeEdits("a b a", [{ old_string: "a", new_string: "x", replace_all: true }]), { ok: true, text: "x b x" });
    assert.equal(applyClaudeEdits("a b a", [{ old_string: "a", new_string: "x" }]).ok, false);
    assert.deepEqual(
      applyClaudeEdits("one two", [
        { old_string: "one", new_string: "1" },
        { old_string: "1 two", new_string: "12" },
      ]),
      { ok: true, text: "12" },
    );
  });

  it("shows a unified diff against the file, or replacement blocks with the reason", () => {
    const ok = editsRequest("/p/f.txt", [{ old_string: "beta", new_string: "gamma" }], "/p", { kind: "text", text: "alpha\nbeta\n" });
    assert.equal(ok.action, "edit");
    assert.equal(ok.summary, "edit f.txt (1 replacement)");
    assert.match(ok.diff ?? "", /-beta\n\+gamma/);
    const bad = editsRequest("/p/f.txt", [{ old_string: "zzz", new_string: "y" }], "/p", { kind: "text", text: "alpha\n" });
    assert.match(bad.detail ?? "", /old_string is not in the file/);
    assert.match(bad.diff ?? "", /@@ replacement @@\n-zzz\n\+y/);
  });
});

describe("Claude Code adapter pieces", () => {
  it("task hint: state, task, queued messages; bounded", () => {
    assert.equal(hintText("idle", undefined, "fix the build", 0), "[idle] fix the build");
    assert.equal(hintText("waiting for you", "Claude needs your permission\nmore", "", 2), "[waiting for you: Claude needs your permission] (2 messages queued)");
    assert.equal([...hintText("working", undefined, "x".repeat(500), 1)].length, 200);
  });

  it("a failed Bash call's error text gives the exit status and output", () => {
    assert.deepEqual(parseFailure("Exit code 3\npartial"), { exitCode: 3, output: "partial" });
    assert.deepEqual(parseFailure("Exit code 1"), { exitCode: 1, output: "" });
    assert.deepEqual(parseFailure("Command timed out\nafter 2m"), { output: "", reason: "Command timed out" });
  });

  it("a Bash call's stream outcome says what Claude Code reported and no more (shapes observed with 2.1.332)", () => {
    const ok = (r: Record<string, unknown>) => bashOutcome({ hook_event_name: "PostToolUse", tool_response: { stderr: "", interrupted: false, isImage: false, ...r } });
    assert.deepEqual(ok({ stdout: "out\nerr" }), { chunks: [{ channel: 1, data: "out\nerr\n" }], end: { kind: "complete", exitCode: 0 } });
    assert.deepEqual(ok({ stdout: "o", stderr: "e\n" }).chunks, [
      { channel: 1, data: "o\n" },
      { channel: 2, data: "e\n" },
    ]);
    assert.deepEqual(ok({ stdout: "" }), { chunks: [], end: { kind: "complete", exitCode: 0 } });
    const grep = ok({ stdout: "", returnCodeInterpretation: "No matches found" });
    assert.equal(grep.end.kind === "complete" && grep.end.exitCode, null, "a non-zero exit Claude reads as no error has no number");
    assert.match(grep.end.reason ?? "", /^exit status not reported by Claude Code, which read it as "No matches found"$/);
    assert.deepEqual(ok({ stdout: "x", interrupted: true }).end, { kind: "abort", reason: "interrupted in Claude Code" });
    assert.match(ok({ stdout: "", backgroundTaskId: "b1" }).end.reason ?? "", /running in the background in Claude Code \(task b1\)/);
    const fail = (error: string, is_interrupt = false) => bashOutcome({ hook_event_name: "PostToolUseFailure", error, is_interrupt });
    assert.deepEqual(fail("Exit code 3\npartial\ne2"), { chunks: [{ channel: 1, data: "partial\ne2\n" }], end: { kind: "complete", exitCode: 3 } });
    assert.deepEqual(fail("Exit code 130\nx", true).end, { kind: "abort", reason: "interrupted in Claude Code", exitCode: 130 });
    // Large output: Claude cuts stdout and saves the whole in the session's folder; only such a path is taken.
    const big = (persistedOutputPath: string) =>
      bashOutcome({ hook_event_name: "PostToolUse", transcript_path: "/h/.claude/projects/p/s1.jsonl", tool_response: { stdout: "cut", stderr: "", persistedOutputPath } });
    assert.equal(big("/h/.claude/projects/p/s1/tool-results/b1.txt").fullOutput, "/h/.claude/projects/p/s1/tool-results/b1.txt");
    assert.deepEqual(big("/h/.claude/projects/p/s1/tool-results/b1.txt").chunks, [{ channel: 1, data: "cut\n" }], "the cut output stays the fallback");
    for (const elsewhere of ["/etc/passwd", "/h/.claude/projects/p/s2/tool-results/b1.txt", "/h/.claude/projects/p/s1/tool-results/../../../x"])
      assert.equal(big(elsewhere).fullOutput, undefined, elsewhere);
    assert.deepEqual(fail("Command timed out after 2m"), { chunks: [], end: { kind: "abort", reason: "Command timed out after 2m (exit status not reported)" } });
  });
});

describe("the hook fails closed", () => {
  const pre = (sid: string) => JSON.stringify({ session_id: sid, hook_event_name: "PreToolUse", tool_name: "Bash", tool_input: { command: "rm -rf x" }, cwd: "/tmp" });
  const decision = (stdout: string) => JSON.parse(stdout).hookSpecificOutput as { permissionDecision: string; permissionDecisionReason: string };

  it("input that is not an event denies a PreToolUse, with how to fix it", async () => {
    const r = await runHook('{"hook_event_name":"PreToolUse", broken', { env: {} });
    assert.equal(r.exitCode, 0);
    assert.equal(decision(r.stdout).permissionDecision, "deny");
    assert.match(decision(r.stdout).permissionDecisionReason, /^Not run: Switchboard must approve this call but .+\. Start the broker .* or set SWITCHBOARD_CLAUDE_OFFLINE=allow/);
  });

  it("a companion that cannot start denies; SWITCHBOARD_CLAUDE_OFFLINE=allow allows; other events never block", async () => {
    const home = await mkdtemp(join(tmpdir(), "sb-claude-hook-"));
    try {
      const opts = { home, companionEntry: join(home, "missing-companion.js") };
      const denied = await runHook(pre("s1"), { ...opts, env: {} });
      assert.equal(decision(denied.stdout).permissionDecision, "deny");
      assert.match(decision(denied.stdout).permissionDecisionReason, /session companion exited at start/);
      const allowed = await runHook(pre("s2"), { ...opts, env: { SWITCHBOARD_CLAUDE_OFFLINE: "allow" } });
      assert.equal(decision(allowed.stdout).permissionDecision, "allow");
      const stop = await runHook(JSON.stringify({ session_id: "s3", hook_event_name: "Stop" }), { ...opts, env: {} });
      assert.deepEqual([stop.stdout, stop.exitCode], ["", 0]);
      assert.match(stop.stderr, /^Switchboard: /);
      // PostToolUse without a companion: nothing to publish, no companion started for it, nothing said to Claude.
      for (const hook_event_name of ["PostToolUse", "PostToolUseFailure"]) {
        const post = await runHook(JSON.stringify({ session_id: "s4", hook_event_name, tool_name: "Bash", tool_use_id: "t1", tool_response: { stdout: "x" } }), {
          ...opts,
          env: {},
        });
        assert.deepEqual([post.stdout, post.stderr, post.exitCode], ["", "", 0]);
      }
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("claude-hook.sh: a Node hook that cannot run denies PreToolUse (exit 2) and never blocks another event", () => {
    const sh = join(import.meta.dirname, "../../src/adapters/claude/claude-hook.sh");
    const home = join(tmpdir(), "sb-claude-hook-none");
    const run = (event: string, env: Record<string, string> = {}) =>
      spawnSync("/bin/bash", [sh, "/nonexistent/node", "/nonexistent/claude-hook.js", "--hook-timeout", "900", "--home", home], {
        input: JSON.stringify({ session_id: "s5", hook_event_name: event, tool_name: "Bash", tool_input: { command: "true" } }),
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
      });
    const pre = run("PreToolUse");
    assert.equal(pre.status, 2, "exit 2: Claude Code denies the call");
    assert.match(pre.stderr, /Not run: Switchboard's hook could not run \(.+ exited with 127\)/);
    assert.equal(run("PreToolUse", { SWITCHBOARD_CLAUDE_OFFLINE: "allow" }).status, 0);
    for (const event of ["PostToolUse", "PostToolUseFailure", "Stop", "UserPromptSubmit"]) {
      const r = run(event);
      assert.equal(r.status, 1, `${event}: a non-blocking error, never 2`);
      assert.equal(r.stdout, "");
    }
  });

  it("the approval expires 20 s before Claude Code's hook timeout", () => {
    assert.equal(approvalTimeoutMs(900), 880_000);
    assert.ok(approvalTimeoutMs(5) >= 1000);
  });
});

describe("VS Code: sessions that start waiting for their user", () => {
  const ep = (id: string, hint: string | null): EndpointView => ({ endpoint_id: id, kind: "claude-code", label: id, session_name: id, task_hint: hint }) as unknown as EndpointView;
  const feed = (...eps: EndpointView[]): FeedModel =>
    ({ epoch: "e", seq: 1, endpoints: new Map(eps.map((e) => [e.endpoint_id, e])), inbox: new Map(), approvals: new Map(), streams: new Map() }) as FeedModel;

  it("notifies once per wait, again for a new reason, never for other hints", () => {
    const working = feed(ep("a", "[working] fix it"), ep("b", null));
    const waiting = feed(ep("a", "[waiting for you: Claude needs your permission] fix it"), ep("b", "plain hint"));
    assert.deepEqual(
      newlyWaiting(working, waiting).map((e) => e.endpoint_id),
      ["a"],
    );
    assert.deepEqual(newlyWaiting(waiting, waiting), []);
    assert.deepEqual(
      newlyWaiting(waiting, feed(ep("a", "[waiting for you: idle for 60 s] fix it"))).map((e) => e.endpoint_id),
      ["a"],
    );
  });
});
