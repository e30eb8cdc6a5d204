// Following a Claude Code command's output file (live-output.ts): finding it among the children of the
// `claude` process by what their stdout is, and copying it from its start as it grows, cut on
// character boundaries, with the rest read when the call ends.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, mkdirSync, openSync, closeSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { commandShells, OutputTail, runsCommand } from "../../src/adapters/claude/live-output.js";
import { waitFor } from "../support/wait.js";

describe("Claude Code live output", () => {
  it("finds this session's command output files among the children of the claude process (Linux)", { skip: process.platform !== "linux" && "reads /proc" }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "sb-live-"));
    const tasks = join(dir, "sess-1", "tasks");
    const other = join(dir, "sess-2", "tasks");
    mkdirSync(tasks, { recursive: true });
    mkdirSync(other, { recursive: true });
    const fds = [openSync(join(tasks, "a.output"), "w"), openSync(join(other, "b.output"), "w"), openSync(join(tasks, "c.txt"), "w")];
    // Children of this process standing in for Claude's command shells: stdout on a task file of this session, of another, and on a non-task file.
    const script = "eval 'sleep 30' < /dev/null && pwd -P >| /dev/null";
    const kids = fds.map((fd) => spawn("/bin/bash", ["-c", script], { stdio: ["ignore", fd, fd] }));
    try {
      const found = await waitFor(
        () => {
          const f = commandShells(process.pid, "sess-1");
          return f.length ? f : undefined;
        },
        5000,
        "the child's output file",
      );
      assert.deepEqual(found, [{ file: join(tasks, "a.output"), cmdline: `/bin/bash -c ${script} ` }]);
      assert.equal(runsCommand(found[0]!.cmdline, "sleep 30"), true);
      assert.equal(commandShells(999_999_999, "sess-1").length, 0, "no such claude process: nothing, no throw");
    } finally {
      for (const k of kids) k.kill("SIGKILL");
      for (const fd of fds) closeSync(fd);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("recognises Claude Code's command line for exactly this command (its quoting, observed with 2.1.332)", () => {
    const wrap = (quoted: string) => `/bin/bash -c source /h/snapshot.sh 2>/dev/null || true && eval '${quoted}' < /dev/null && pwd -P >| /tmp/claude-50a4-cwd `;
    const command = `echo 'a' "b" $HOME \\\\ \`true\` 'it'"'"'s'; printf 'x\\ny'\nsleep 3`;
    const observed = `echo '"'"'a'"'"' "b" $HOME \\\\ \`true\` '"'"'it'"'"'"'"'"'"'"'"'s'"'"'; printf '"'"'x\\ny'"'"'\nsleep 3`;
    assert.equal(runsCommand(wrap(observed), command), true);
    assert.equal(runsCommand(wrap("pwd"), "pwd"), true);
    assert.equal(runsCommand(wrap("ls -la"), "pwd"), false, "the wrapper's own pwd is not the command");
    assert.equal(runsCommand(wrap("sleep 30"), "sleep 3"), false, "a longer command is not this one");
    assert.equal(runsCommand(wrap(""), ""), false);
  });

  it("copies a file from its start as it grows, never cutting a character, and reads the rest at the end", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sb-live-"));
    const file = join(dir, "x.output");
    try {
      writeFileSync(file, "first ");
      const got: string[] = [];
      const tail = await OutputTail.open(file, async (t) => void got.push(t), 10);
      assert.ok(tail);
      await waitFor(() => got.join("") === "first " || undefined, 5000, "the text already there");
      const snow = Buffer.from("☃");
      appendFileSync(file, Buffer.concat([Buffer.from("snow "), snow.subarray(0, 1)]));
      await waitFor(() => got.join("") === "first snow " || undefined, 5000, "the text up to the cut character");
      appendFileSync(file, Buffer.concat([snow.subarray(1), Buffer.from(" end")]));
      assert.equal(await tail.finish(), Buffer.byteLength("first snow ☃ end"));
      assert.equal(got.join(""), "first snow ☃ end");
      assert.ok(
        got.every((t) => !t.includes("\uFFFD")),
        "no piece ends inside a character",
      );
      assert.equal(await OutputTail.open(join(dir, "missing"), async () => {}), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
