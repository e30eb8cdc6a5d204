import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeOutcome, exitOutcome, resolveShell, signalNumber } from "../../src/exec/index.js";

/** A fake filesystem: the set of executable files. */
const fs =
  (...files: string[]) =>
  (path: string) =>
    files.includes(path);

describe("resolveShell", () => {
  it("uses $SHELL as a login shell when it is executable", () => {
    assert.deepEqual(resolveShell({ SHELL: "/usr/bin/zsh", PATH: "/usr/bin" }, fs("/usr/bin/zsh", "/usr/bin/bash", "/bin/sh")), {
      file: "/usr/bin/zsh",
      args: ["-lc"],
      source: "SHELL",
    });
  });

  it("falls back to bash -lc when $SHELL is unset, searching PATH first", () => {
    assert.deepEqual(resolveShell({ PATH: "/opt/x:/usr/local/bin" }, fs("/usr/local/bin/bash", "/bin/bash", "/bin/sh")), {
      file: "/usr/local/bin/bash",
      args: ["-lc"],
      source: "bash",
    });
    assert.deepEqual(resolveShell({}, fs("/bin/bash", "/bin/sh")), { file: "/bin/bash", args: ["-lc"], source: "bash" });
    assert.deepEqual(resolveShell({}, fs("/usr/bin/bash")), { file: "/usr/bin/bash", args: ["-lc"], source: "bash" });
  });

  it("falls back when $SHELL is not executable, relative, empty, or a nologin placeholder", () => {
    const exists = fs("/bin/bash", "/usr/sbin/nologin", "/bin/false", "/bin/sh");
    for (const SHELL of ["/no/such/shell", "zsh", "", "/usr/sbin/nologin", "/bin/false"]) {
      assert.equal(resolveShell({ SHELL }, exists)?.source, "bash", `SHELL=${JSON.stringify(SHELL)}`);
    }
  });

  it("falls back to sh -c (not a login shell) when there is no bash", () => {
    assert.deepEqual(resolveShell({ SHELL: "/gone", PATH: "/usr/bin" }, fs("/bin/sh")), { file: "/bin/sh", args: ["-c"], source: "sh" });
    assert.deepEqual(resolveShell({ PATH: "/usr/bin:/bin" }, fs("/usr/bin/sh")), { file: "/usr/bin/sh", args: ["-c"], source: "sh" });
  });

  it("returns null when nothing is executable", () => {
    assert.equal(resolveShell({ SHELL: "/bin/zsh", PATH: "/usr/bin" }, fs()), null);
  });

  it("an explicit shell wins over $SHELL and is never silently replaced", () => {
    const exists = fs("/bin/dash", "/bin/bash", "/bin/sh");
    assert.deepEqual(resolveShell({ SHELL: "/bin/bash" }, exists, { override: "/bin/dash" }), { file: "/bin/dash", args: ["-lc"], source: "option" });
    assert.equal(resolveShell({ SHELL: "/bin/bash" }, exists, { override: "/bin/fish" }), null);
  });

  it("login: false uses -c everywhere", () => {
    assert.deepEqual(resolveShell({ SHELL: "/bin/bash" }, fs("/bin/bash"), { login: false }), { file: "/bin/bash", args: ["-c"], source: "SHELL" });
    assert.deepEqual(resolveShell({}, fs("/bin/bash"), { login: false })?.args, ["-c"]);
  });

  it("asks about nothing but the candidates it would use", () => {
    const asked: string[] = [];
    resolveShell({ SHELL: "/bin/zsh" }, (p) => (asked.push(p), p === "/bin/zsh"));
    assert.deepEqual(asked, ["/bin/zsh"]);
  });
});

describe("exit outcome", () => {
  it("a normal exit reports its code", () => {
    assert.deepEqual(exitOutcome(0, null), { exit_code: 0, signal: null, code: 0 });
    assert.deepEqual(exitOutcome(3, null), { exit_code: 3, signal: null, code: 3 });
  });

  it("a killed process never reports 0: exit_code null, the signal, and code 128+signo", () => {
    assert.deepEqual(exitOutcome(null, "SIGINT"), { exit_code: null, signal: "SIGINT", code: 130 });
    assert.deepEqual(exitOutcome(null, "SIGKILL"), { exit_code: null, signal: "SIGKILL", code: 137 });
    assert.deepEqual(exitOutcome(null, "SIGTERM"), { exit_code: null, signal: "SIGTERM", code: 143 });
    // a signal wins even if a code were also given
    assert.deepEqual(exitOutcome(0, "SIGKILL"), { exit_code: null, signal: "SIGKILL", code: 137 });
  });

  it("neither a code nor a signal is a failure, not a success", () => {
    assert.deepEqual(exitOutcome(null, null), { exit_code: null, signal: null, code: 1 });
  });

  it("signal numbers", () => {
    assert.equal(signalNumber("SIGINT"), 2);
    assert.equal(signalNumber("SIGKILL"), 9);
    assert.equal(signalNumber("SIGNOPE"), null);
  });

  it("describes how it ended", () => {
    assert.equal(describeOutcome({ exit_code: 3, signal: null }), "exited with code 3");
    assert.equal(describeOutcome({ exit_code: null, signal: "SIGTERM" }), "killed by SIGTERM");
    assert.equal(describeOutcome({ exit_code: 130, signal: null, stopped_by: "SIGINT" }), "stopped (SIGINT): exited with code 130");
    assert.equal(describeOutcome({ exit_code: null, signal: "SIGKILL", stopped_by: "SIGKILL" }), "stopped (SIGKILL): killed by SIGKILL");
    assert.equal(describeOutcome({ exit_code: null, signal: null, stopped_by: null }), "ended without an exit code or signal");
  });
});
