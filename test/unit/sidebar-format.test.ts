// The sidebar's pure formatting of commands and session states (src/webview/format.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { breakPoints, foldCommand, sessionState } from "../../src/webview/format.js";
import { sessionRepeatsCommand } from "../../src/protocol/naming.js";

describe("sidebar formatting", () => {
  it("folds commands longer than a few lines or 160 characters, keeping the first lines", () => {
    assert.deepEqual(foldCommand("npm test", 4), { folded: null, lines: 1 });
    assert.deepEqual(foldCommand("a\nb\nc\nd", 4), { folded: null, lines: 4 });
    assert.deepEqual(foldCommand("a\nb\nc\nd\ne\nf", 4), { folded: "a\nb\nc\nd", lines: 6 });
    const long = "x ".repeat(100);
    assert.deepEqual(foldCommand(long, 4), { folded: long, lines: 1 });
    assert.equal(foldCommand(`${"y".repeat(5000)}\nz`, 4).folded!.length, 2000);
  });

  it("offers line breaks after separators inside words, never after a leading one", () => {
    assert.deepEqual(breakPoints("cat /home/dev/a.txt"), ["cat /home/", "dev/", "a.txt"]);
    assert.deepEqual(breakPoints("npm test -- --reporter=spec"), ["npm test -- --reporter=", "spec"]);
    assert.deepEqual(breakPoints("echo warning: stale"), ["echo warning: stale"]);
    assert.deepEqual(breakPoints("http://127.0.0.1:8080/x?a=1&b=2"), ["http://", "127.0.0.1:", "8080/", "x?a=", "1&", "b=", "2"]);
    assert.equal(breakPoints("a/".repeat(20_000)).length, 1, "very long texts are left whole");
    for (const s of ["cat /home/dev/a.txt", "a=b,c;d|e", "//x//"]) assert.equal(breakPoints(s).join(""), s, "nothing is lost");
  });

  it("says connected for an active session (its last-seen time is not live)", () => {
    assert.equal(sessionState("active").text, "connected");
    assert.equal(sessionState("reconnecting").text, "reconnecting");
    assert.equal(sessionState("closed").text, "closed");
  });

  it("knows when a session's name only repeats its command", () => {
    assert.ok(sessionRepeatsCommand("npm test", "npm test"));
    assert.ok(sessionRepeatsCommand("sh -c 'echo warning: the build cache at…", "sh -c 'echo warning: the build cache at /home/x'"));
    assert.ok(!sessionRepeatsCommand("npm test (2)", "npm test"));
    assert.ok(!sessionRepeatsCommand("agent-1", "npm test"));
    assert.ok(!sessionRepeatsCommand("", "npm test"));
  });
});
