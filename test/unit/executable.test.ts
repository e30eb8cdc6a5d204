import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findExecutable } from "../../src/platform/executable.js";

describe("findExecutable", () => {
  it("finds a command on PATH, skipping folders where it is missing", () => {
    assert.equal(findExecutable("sh", "/nonexistent:/bin:/usr/bin"), "/bin/sh");
  });
  it("checks a path as given, and refuses what is not executable or absent", () => {
    assert.equal(findExecutable("/bin/sh"), "/bin/sh");
    assert.equal(findExecutable("/etc/hostname"), undefined);
    assert.equal(findExecutable("no-such-program-xyz", "/bin:/usr/bin"), undefined);
  });
});
