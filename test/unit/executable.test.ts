import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { findExecutable } from "../../src/platform/executable.js";

describe("findExecutable", () => {
  it("finds a command on PATH, skipping folders where it is missing", () => {
    assert.equal(findExecutable("sh", "/nonexistent:/bin:/usr/bin"), "/bin/sh");
  });
  it("checks a path as given, and refuses a plain file, a folder, or nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-exec-"));
    try {
      const plain = join(dir, "notes.txt");
      writeFileSync(plain, "hi", { mode: 0o644 });
      assert.equal(findExecutable("/bin/sh"), "/bin/sh");
      assert.equal(findExecutable(plain), undefined);
      assert.equal(findExecutable(dir), undefined, "a folder is not a program");
      assert.equal(findExecutable("no-such-program-xyz", "/bin:/usr/bin"), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
