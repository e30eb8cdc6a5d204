import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_WAITING, ReplyTracker, contentText, replyText, type RoutedMessage } from "../../src/adapters/pi/replies.js";
import { resolveSettings } from "../../src/adapters/pi/settings.js";

const msg = (id: string, text: string): RoutedMessage => ({ messageId: id, text, from: "vscode", replyTo: "ep_x", replyToEndpoint: true, inReplyTo: `corr-${id}` });

describe("pi adapter: reply tracking", () => {
  it("answers a message that started a run with the run's last text", () => {
    const t = new ReplyTracker();
    assert.deepEqual(t.delivered(msg("m1", "hello")), []);
    assert.deepEqual(t.userMessage("hello"), []);
    t.assistantMessage({ text: "", stopReason: "toolUse" });
    t.assistantMessage({ text: "all done", stopReason: "stop" });
    const due = t.agentEnd();
    assert.equal(due.length, 1);
    assert.equal(due[0]!.message.messageId, "m1");
    assert.equal(due[0]!.text, "all done");
    assert.deepEqual(t.agentEnd(), [], "only once");
  });

  it("a follow-up queued behind a user prompt gets its own answer; the prompt's answer is not sent anywhere", () => {
    const t = new ReplyTracker();
    t.userMessage("user's own prompt");
    t.assistantMessage({ text: "answer to the user" });
    t.delivered(msg("m1", "routed question"));
    assert.deepEqual(t.userMessage("routed question"), [], "the user's prompt is not a routed message");
    t.assistantMessage({ text: "answer to routed" });
    assert.deepEqual(
      t.agentEnd().map((d) => [d.message.messageId, d.text]),
      [["m1", "answer to routed"]],
    );
  });

  it("the next user message closes the exchange of the previous routed one", () => {
    const t = new ReplyTracker();
    t.delivered(msg("m1", "first"));
    t.delivered(msg("m2", "second"));
    t.userMessage("first");
    t.assistantMessage({ text: "one" });
    const due = t.userMessage("second");
    assert.deepEqual(
      due.map((d) => [d.message.messageId, d.text]),
      [["m1", "one"]],
    );
    t.assistantMessage({ text: "two" });
    assert.deepEqual(
      t.agentEnd().map((d) => [d.message.messageId, d.text]),
      [["m2", "two"]],
    );
  });

  it("reports errors and aborts instead of staying silent", () => {
    assert.match(replyText({ text: "", stopReason: "error", errorMessage: "HTTP 500" }), /could not answer: HTTP 500/);
    assert.match(replyText({ text: "partial", stopReason: "aborted" }), /stopped[\s\S]*partial/);
    assert.match(replyText(undefined), /without answering/);
    assert.match(replyText({ text: "  " }), /without a text answer/);
  });

  it("on close answers the active message and tells waiting ones they were not handled", () => {
    const t = new ReplyTracker();
    t.delivered(msg("m1", "a"));
    t.delivered(msg("m2", "b"));
    t.userMessage("a");
    t.assistantMessage({ text: "working on it" });
    const due = t.close();
    assert.deepEqual(
      due.map((d) => d.message.messageId),
      ["m1", "m2"],
    );
    assert.match(due[1]!.text, /ended before/);
    assert.equal(t.waitingCount, 0);
  });

  it("bounds the waiting list", () => {
    const t = new ReplyTracker();
    let dropped = 0;
    for (let i = 0; i < MAX_WAITING + 3; i++) dropped += t.delivered(msg(`m${i}`, `t${i}`)).length;
    assert.equal(dropped, 3);
    assert.equal(t.waitingCount, MAX_WAITING);
  });

  it("reads text out of pi message content", () => {
    assert.equal(contentText("plain"), "plain");
    assert.equal(
      contentText([
        { type: "text", text: "a" },
        { type: "image", data: "x" },
        { type: "text", text: "b" },
      ]),
      "a\nb",
    );
    assert.equal(contentText(undefined), "");
  });
});

describe("pi adapter: settings", () => {
  it("defaults to blocking, spawning and no timeout", () => {
    const { settings, warnings } = resolveSettings({}, []);
    assert.deepEqual(settings, { enabled: true, offline: "block", home: undefined, spawn: true, approvalTimeoutMs: 0, sessionName: undefined });
    assert.deepEqual(warnings, []);
  });

  it("layers options, pi settings (global then project) and the environment, last wins", () => {
    const { settings } = resolveSettings({ SWITCHBOARD_PI_APPROVAL_TIMEOUT: "90", SWITCHBOARD_HOME: "/tmp/sb" }, [
      { source: "options", layer: { home: "/opt/sb", offline: "allow" } },
      { source: "global", layer: { spawn: false, sessionName: "global name" } },
      { source: "project", layer: { sessionName: "project name", offline: "block" } },
    ]);
    assert.equal(settings.home, "/tmp/sb");
    assert.equal(settings.offline, "block");
    assert.equal(settings.spawn, false);
    assert.equal(settings.sessionName, "project name");
    assert.equal(settings.approvalTimeoutMs, 90_000);
  });

  it("ignores bad values with a sentence", () => {
    const { settings, warnings } = resolveSettings({ SWITCHBOARD_PI_OFFLINE: "maybe", SWITCHBOARD_PI_SPAWN: "perhaps" }, [
      { source: "x.json", layer: { approvalTimeoutSeconds: -1 } },
    ]);
    assert.equal(settings.offline, "block");
    assert.equal(settings.spawn, true);
    assert.equal(settings.approvalTimeoutMs, 0);
    assert.equal(warnings.length, 3);
    assert.match(warnings.join("\n"), /offline = "maybe"/);
  });

  it("SWITCHBOARD_PI_DISABLE turns the adapter off", () => {
    assert.equal(resolveSettings({ SWITCHBOARD_PI_DISABLE: "1" }, []).settings.enabled, false);
    assert.equal(resolveSettings({ SWITCHBOARD_PI_OFFLINE: "ALLOW" }, []).settings.offline, "allow");
  });
});
