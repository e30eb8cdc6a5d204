import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { stubSource } from "../../src/adapters/pi/install.js";
import { piPackageCandidates } from "../../src/adapters/pi/pi-runtime.js";
import { applyEditsExactly, bashRequest, editRequest, fileToolRequest, resolveToolPath, writeRequest } from "../../src/adapters/shared/requests.js";
import { builtinBashDisabled, firstLine } from "../../src/adapters/pi/extension.js";
import { PI_CLI } from "../support/pi.js";

describe("pi adapter: approval requests", () => {
  it("bash: env for read-only, sh otherwise, with the classifier's reason", () => {
    const ro = bashRequest("git status", "/w");
    assert.equal(ro.action, "env");
    assert.equal(ro.command, "git status");
    assert.equal(ro.summary, "git status");
    assert.equal(ro.cwd, "/w");
    assert.match(ro.detail!, /^Read-only: `git status`/);
    const sh = bashRequest("npm test && npm run build", "/w", 60);
    assert.equal(sh.action, "sh");
    assert.match(sh.detail!, /Not read-only: the command contains `&`/);
    assert.match(sh.detail!, /stops it after 60 s/);
  });

  it("bash: a multi-line command is summarized by its first line; a huge one is clipped to the schema", () => {
    assert.equal(bashRequest("cat <<EOF > x\nhello\nEOF", "/w").summary, "cat <<EOF > x … (+2 more lines)");
    const big = "echo " + "x".repeat(70 * 1024);
    const r = bashRequest(big, "/w");
    assert.ok(r.command!.length <= 64 * 1024);
    assert.match(r.command!, /\[command truncated: \d+ characters in all\]$/);
    assert.ok(r.summary.length <= 2000);
  });

  it("paths resolve like pi's tools (@ prefix, ~, relative to cwd)", () => {
    assert.equal(resolveToolPath("@src/a.ts", "/w"), "/w/src/a.ts");
    assert.equal(resolveToolPath("~/x", "/w"), join(homedir(), "x"));
    assert.equal(resolveToolPath("/abs/p", "/w"), "/abs/p");
  });

  it("write: a new file diffs from /dev/null, an existing one from its content", () => {
    const created = writeRequest("a.txt", "one\ntwo\n", "/w", { kind: "missing" });
    assert.equal(created.action, "edit");
    assert.equal(created.summary, "create a.txt (2 lines)");
    assert.equal(created.diff, "--- /dev/null\n+++ b/a.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n");
    const over = writeRequest("a.txt", "one\n2\n", "/w", { kind: "text", text: "one\ntwo\n" });
    assert.equal(over.summary, "overwrite a.txt (2 lines)");
    assert.equal(over.diff, "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n");
    const same = writeRequest("a.txt", "x\n", "/w", { kind: "text", text: "x\n" });
    assert.equal(same.diff, undefined);
    assert.match(same.summary, /unchanged/);
    const outside = writeRequest("/etc/hosts", "x\n", "/w", { kind: "unreadable", why: "it cannot be read (EACCES)" });
    assert.equal(outside.summary, "overwrite /etc/hosts (1 line)");
    assert.match(outside.detail!, /No diff: it cannot be read/);
  });

  it("edit: exact edits become a real diff (CRLF and BOM normalized as pi does)", () => {
    const r = editRequest("f.ts", [{ oldText: "b", newText: "B" }], "/w", { kind: "text", text: "\uFEFFa\r\nb\r\nc\r\n" });
    assert.equal(r.summary, "edit f.ts (1 replacement)");
    assert.equal(r.diff, "--- a/f.ts\n+++ b/f.ts\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
  });

  it("edit: edits that cannot be placed exactly are shown as replacement blocks, with why", () => {
    const missing = editRequest("f.ts", [{ oldText: "zzz", newText: "y" }], "/w", { kind: "text", text: "a\n" });
    assert.match(missing.detail!, /not in the file exactly as written/);
    assert.equal(missing.diff, "--- a/f.ts\n+++ b/f.ts\n@@ replacement @@\n-zzz\n+y\n");
    const nofile = editRequest("g.ts", [{ oldText: "a", newText: "b" }], "/w", { kind: "missing" });
    assert.match(nofile.detail!, /does not exist/);
  });

  it("applyEditsExactly: unique, non-overlapping, all matched against the original", () => {
    assert.deepEqual(
      applyEditsExactly("a b c", [
        { oldText: "a", newText: "A" },
        { oldText: "c", newText: "C" },
      ]),
      { ok: true, text: "A b C" },
    );
    assert.equal(applyEditsExactly("a a", [{ oldText: "a", newText: "b" }]).ok, false);
    assert.equal(
      applyEditsExactly("abc", [
        { oldText: "ab", newText: "" },
        { oldText: "bc", newText: "" },
      ]).ok,
      false,
    );
    assert.equal(applyEditsExactly("abc", [{ oldText: "", newText: "x" }]).ok, false);
  });

  it("fileToolRequest reads the file being changed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-pi-req-"));
    try {
      writeFileSync(join(dir, "f.txt"), "x\ny\n");
      const e = await fileToolRequest("edit", { path: "f.txt", edits: [{ oldText: "y", newText: "z" }] }, dir);
      assert.equal(e.diff, "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n x\n-y\n+z\n");
      const w = await fileToolRequest("write", { path: "new/g.txt", content: "hi\n" }, dir);
      assert.equal(w.summary, "create new/g.txt (1 line)");
      writeFileSync(join(dir, "bin"), Buffer.from([1, 0, 2]));
      assert.match((await fileToolRequest("write", { path: "bin", content: "t" }, dir)).detail!, /binary/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("pi adapter: small helpers", () => {
  it("the task hint is the first non-empty line, at most 200 code points", () => {
    assert.equal(firstLine("\n\n  fix the build  \nthen test"), "fix the build");
    assert.equal([...firstLine("é".repeat(300))].length, 200);
    assert.equal(firstLine(""), "");
  });

  it("respects --no-builtin-tools unless --tools names bash", () => {
    assert.equal(builtinBashDisabled(["--mode", "rpc"]), false);
    assert.equal(builtinBashDisabled(["--no-builtin-tools"]), true);
    assert.equal(builtinBashDisabled(["-nbt", "--tools", "read,bash"]), false);
    assert.equal(builtinBashDisabled(["-nbt", "--tools=read"]), true);
  });

  it("finds pi's package from its CLI script", () => {
    const found = piPackageCandidates(PI_CLI);
    assert.equal(found.length, 1);
    assert.match(found[0]!, /node_modules\/@mariozechner\/pi-coding-agent$/);
    assert.deepEqual(piPackageCandidates("/nonexistent/cli.js"), []);
    assert.deepEqual(piPackageCandidates(undefined), []);
  });

  it("the installed stub is valid ESM", () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-pi-stub-"));
    try {
      const file = join(dir, "index.mjs");
      writeFileSync(file, stubSource("/opt/switchboard/dist/pi-extension.js", { home: '/tmp/h"quoted' }, "1.0.0"));
      const res = spawnSync(process.execPath, ["--check", file]);
      assert.equal(res.status, 0, res.stderr.toString());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
