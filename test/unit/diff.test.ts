import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { myersOps, unifiedDiff } from "../../src/adapters/shared/diff.js";

/** Applies a unified diff produced by unifiedDiff (strictly: context must match). */
function applyPatch(oldText: string, patch: string): string {
  const lines = patch.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const src = oldText === "" ? [] : oldText.split("\n");
  // Represent the text as lines each carrying its own newline.
  const srcLines = src.map((l, i) => (i < src.length - 1 ? l + "\n" : l)).filter((l, i) => !(i === src.length - 1 && l === ""));
  const out: string[] = [];
  let pos = 0;
  for (let i = 2; i < lines.length; ) {
    const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$/.exec(lines[i]!);
    assert.ok(m, `hunk header expected: ${lines[i]}`);
    const oldStart = Number(m[1]);
    const oldCount = m[2] === undefined ? 1 : Number(m[2]);
    const firstOld = oldCount === 0 ? oldStart : oldStart - 1;
    while (pos < firstOld) out.push(srcLines[pos++]!);
    i++;
    while (i < lines.length && !lines[i]!.startsWith("@@")) {
      const l = lines[i]!;
      const noEol = lines[i + 1] === "\\ No newline at end of file";
      const body = l.slice(1) + (noEol ? "" : "\n");
      if (l[0] === " ") {
        assert.equal(srcLines[pos], body, "context matches");
        out.push(body);
        pos++;
      } else if (l[0] === "-") {
        assert.equal(srcLines[pos], body, "removed line matches");
        pos++;
      } else if (l[0] === "+") out.push(body);
      else assert.fail(`bad line ${JSON.stringify(l)}`);
      i += noEol ? 2 : 1;
    }
  }
  while (pos < srcLines.length) out.push(srcLines[pos++]!);
  return out.join("");
}

function rand(seed: number) {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

describe("pi adapter: unified diff", () => {
  it("is empty for equal texts and labels a new file", () => {
    assert.equal(unifiedDiff("a\n", "a\n", "a/x", "b/x"), "");
    assert.equal(unifiedDiff("", "one\ntwo\n", "/dev/null", "b/x"), "--- /dev/null\n+++ b/x\n@@ -0,0 +1,2 @@\n+one\n+two\n");
  });

  it("shows a one-line change with context", () => {
    const old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
    const neu = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
    assert.equal(unifiedDiff(old, neu, "a/f", "b/f"), "--- a/f\n+++ b/f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
  });

  it("marks a missing final newline", () => {
    const d = unifiedDiff("a\nb", "a\nb\n", "a/f", "b/f");
    assert.equal(d, "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
    assert.equal(applyPatch("a\nb", d), "a\nb\n");
  });

  it("gives the shortest edit script", () => {
    const a = "ABCABBA".split("");
    const b = "CBABAC".split("");
    const ops = myersOps(a, b, 100)!;
    assert.equal(ops.filter((o) => o.t !== " ").length, 5, "Myers' paper example has D = 5");
    assert.deepEqual(
      ops.filter((o) => o.t !== "+").map((o) => o.line),
      a,
    );
    assert.deepEqual(
      ops.filter((o) => o.t !== "-").map((o) => o.line),
      b,
    );
    assert.equal(myersOps(a, b, 4), undefined, "gives up past maxD");
  });

  it("round-trips random edits (the patch applies and yields the new text)", () => {
    const r = rand(42);
    for (let t = 0; t < 300; t++) {
      const n = Math.floor(r() * 30);
      const base = Array.from({ length: n }, () => "l" + Math.floor(r() * 8));
      const next = [...base];
      const edits = Math.floor(r() * 6);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(r() * (next.length + 1));
        const kind = r();
        if (kind < 0.4 && next.length) next.splice(Math.min(at, next.length - 1), 1);
        else if (kind < 0.7) next.splice(at, 0, "n" + Math.floor(r() * 8));
        else if (next.length) next[Math.min(at, next.length - 1)] = "c" + Math.floor(r() * 8);
      }
      const oldText = base.join("\n") + (base.length && r() < 0.8 ? "\n" : "");
      const newText = next.join("\n") + (next.length && r() < 0.8 ? "\n" : "");
      const d = unifiedDiff(oldText, newText, "a/f", "b/f", { context: Math.floor(r() * 4) });
      if (oldText === newText) assert.equal(d, "");
      else assert.equal(applyPatch(oldText, d), newText, `case ${t}:\n${JSON.stringify(oldText)}\n${JSON.stringify(newText)}\n${d}`);
    }
  });

  it("falls back to remove-then-add past the edit distance limit, still correct", () => {
    const old = Array.from({ length: 200 }, (_, i) => `old ${i}`).join("\n") + "\n";
    const neu = Array.from({ length: 200 }, (_, i) => `new ${i}`).join("\n") + "\n";
    const d = unifiedDiff(old, neu, "a/f", "b/f", { maxEditDistance: 10 });
    assert.equal(applyPatch(old, d), neu);
  });

  it("caps the output size with a note", () => {
    const neu = Array.from({ length: 5000 }, (_, i) => `line ${i} ${"x".repeat(40)}`).join("\n") + "\n";
    const d = unifiedDiff("", neu, "/dev/null", "b/big", { maxBytes: 4096 });
    assert.ok(d.length < 4096 + 200);
    assert.match(d, /\[diff truncated at 4 KiB; \d+ more changed lines not shown\]\n$/);
  });

  it("agrees with patch(1) when it is installed", (t) => {
    if (spawnSync("patch", ["--version"]).status !== 0) return t.skip("patch(1) not installed");
    const dir = mkdtempSync(join(tmpdir(), "sb-diff-"));
    try {
      const old = "alpha\nbeta\ngamma\ndelta\nepsilon\n";
      const neu = "alpha\nBETA\ngamma\ndelta\nepsilon\nzeta";
      writeFileSync(join(dir, "f"), old);
      const d = unifiedDiff(old, neu, "a/f", "b/f");
      const res = spawnSync("patch", ["-p1", "-s"], { cwd: dir, input: d });
      assert.equal(res.status, 0, res.stderr.toString() + res.stdout.toString());
      assert.equal(readFileSync(join(dir, "f"), "utf8"), neu);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
