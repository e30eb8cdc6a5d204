// Names of `switchboard run` sessions and of their terminals: what they run, told apart.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runSessionName } from "../../src/cli/commands/run.js";
import { terminalName } from "../../src/extension/terminal-format.js";

describe("switchboard run session names", () => {
  it("are the command's first line, spaces squashed, cut at 40 characters", () => {
    assert.equal(runSessionName("npm test", []), "npm test");
    assert.equal(runSessionName("make   deploy\nsecond line", []), "make deploy");
    const long = "node scripts/migrate.js --from 2024-01-01 --to 2025-01-01 --dry-run";
    assert.equal(runSessionName(long, []), `${long.slice(0, 39)}…`);
    assert.equal(runSessionName("   ", []), "run");
  });

  it("get a number when an open session already has the name", () => {
    assert.equal(runSessionName("npm test", ["npm test"]), "npm test (2)");
    assert.equal(runSessionName("npm test", ["npm test", "npm test (2)"]), "npm test (3)");
    assert.equal(runSessionName("npm test", ["npm run lint"]), "npm test");
  });

  it("are not repeated in the terminal's name", () => {
    assert.equal(terminalName({ action: "sh", command: "npm test", session: "npm test" }), "sh: npm test");
    assert.equal(terminalName({ action: "sh", command: "npm test", session: "npm test (2)" }), "sh: npm test · npm test (2)");
    const long = "node scripts/migrate.js --from 2024-01-01 --to 2025-01-01";
    assert.equal(terminalName({ action: "sh", command: long, session: runSessionName(long, []) }), `sh: ${long.slice(0, 39)}…`);
    assert.equal(terminalName({ action: "env", command: "ls", session: "agent-1" }), "env: ls · agent-1");
  });
});
