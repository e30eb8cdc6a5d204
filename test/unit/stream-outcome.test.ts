// One wording for how a stream ended: the terminal footer, the sidebar and the CLI all show
// streamOutcome's text (issue 11 §2.3: Stop and Ctrl+C were reported two ways).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { streamStatus as cliStatus } from "../../src/cli/format.js";
import { terminalFooter } from "../../src/extension/terminal-format.js";
import { streamOutcome, type StreamView } from "../../src/protocol/index.js";
import { streamStatus as sidebarStatus } from "../../src/webview/format.js";

const base: StreamView = {
  stream_id: "str_1",
  endpoint_id: "ep_1",
  session: "demo",
  action: "sh",
  command: "sleep 30",
  cwd: "/w",
  approval_id: null,
  state: "completed",
  status: 200,
  created_at: "2026-01-01T00:00:00.000Z",
  ended_at: "2026-01-01T00:00:14.000Z",
  exit_code: 0,
  signal: null,
  duration_ms: 1500,
  reason: null,
  last_seq: 3,
  channels: {},
};

const cases: Array<[Partial<StreamView>, string]> = [
  [{}, "exit 0 after 1.5 s"],
  [{ exit_code: 3, status: 500, duration_ms: 250 }, "exit 3 after 250 ms"],
  [{ exit_code: null, signal: "SIGTERM", status: 500, duration_ms: 3000 }, "killed by SIGTERM after 3.0 s"],
  [
    { state: "cancelled", status: 499, exit_code: null, signal: "SIGINT", duration_ms: 14_200, reason: "stopped in demo" },
    "cancelled (killed by SIGINT) after 14 s: stopped in demo",
  ],
  [{ state: "cancelled", status: 499, exit_code: 130, duration_ms: 65_000, reason: "Ctrl+C in the terminal" }, "cancelled (exit 130) after 1 m 5 s: Ctrl+C in the terminal"],
  [{ state: "cancelled", status: 499, exit_code: null, duration_ms: null, reason: "stopped in demo" }, "cancelled: stopped in demo"],
  [
    { state: "aborted", status: 499, exit_code: null, duration_ms: null, reason: "the broker restarted while the command was running" },
    "aborted: the broker restarted while the command was running",
  ],
];

describe("stream outcome wording", () => {
  for (const [patch, text] of cases) {
    it(`"${text}" in the terminal footer, the sidebar and the CLI alike`, () => {
      const s = { ...base, ...patch };
      assert.equal(streamOutcome(s).text, text);
      assert.equal(cliStatus(s), text);
      assert.equal(sidebarStatus(s).text, text);
      assert.ok(terminalFooter(s).includes(text), `footer ${JSON.stringify(terminalFooter(s))}`);
    });
  }

  it("only exit 0 without a signal is ok; a running stream is 'running'", () => {
    assert.equal(streamOutcome(base).ok, true);
    assert.equal(streamOutcome({ ...base, exit_code: 0, signal: "SIGINT" }).ok, false);
    assert.equal(streamOutcome({ ...base, state: "cancelled", exit_code: 0 }).ok, false);
    assert.equal(streamOutcome({ ...base, state: "streaming", exit_code: null, duration_ms: null }).text, "running");
  });
});
