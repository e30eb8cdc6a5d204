// Bounded approval texts (src/broker/approval-preview.ts): previews and policy verdicts stay within
// their byte bounds whatever the agent sent, cut on character boundaries, and are left alone (the same
// object) when they already fit.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { VERDICT_MAX_PARTS, VERDICT_PARTS_BYTES, VERDICT_TEXT_BYTES, approvalPreview, boundVerdict, cutMiddle, utf8Head } from "../../src/broker/approval-preview.js";
import { APPROVAL_PREVIEW_BYTES, type Approval, type ApprovalPolicy } from "../../src/protocol/index.js";
import { approval as approvalFixture } from "../support/webview/fixtures.js";

const bytes = (s: string) => Buffer.byteLength(s);
/** No U+FFFD appeared: nothing was cut inside a character or a surrogate pair. */
const whole = (s: string) => !s.includes("\uFFFD");

const approval = (over: Partial<Approval> = {}): Approval => approvalFixture({ approval_id: "apr_1", summary: "run", command: "npm test", cwd: null, ...over });

/** A verdict as the policy writes it for a command of `parts` pipeline parts: each part, and the sentence, quote the command. */
function verdict(parts: string[]): ApprovalPolicy {
  return {
    decision: "ask",
    rule: null,
    where: null,
    reason: `Asks a person: \`${parts[0]}\`: no rule matches.`,
    parts: parts.map((part) => ({ part, decision: "ask" as const, rule: null, where: null, reason: "no rule matches" })),
  };
}

describe("approval previews and verdicts are bounded", () => {
  it("cutMiddle keeps the start and the end within the bound, on character boundaries", () => {
    for (const unit of ["x", "é", "€", "😀", "a😀"]) {
      for (const n of [1, 100, 1000, 5000]) {
        const text = `START${unit.repeat(n)}END.`;
        for (const max of [16, 64, 1024]) {
          const cut = cutMiddle(text, max);
          assert.ok(bytes(cut) <= max, `${unit}×${n} in ${max}: ${bytes(cut)} bytes`);
          assert.ok(whole(cut), `${unit}×${n} in ${max}: cut inside a character`);
          if (bytes(text) <= max) assert.equal(cut, text, "a text that fits is unchanged");
          else {
            assert.ok(cut.includes("…"), "a cut text says so");
            const [head, tail] = [cut.slice(0, cut.indexOf("…")), cut.slice(cut.indexOf("…") + 1)];
            assert.ok(text.startsWith(head) && text.endsWith(tail), "its parts are the text's start and end");
            if (max >= 64) assert.ok(cut.endsWith("END."), "a sentence keeps its ending");
          }
        }
      }
    }
  });

  it("utf8Head is the longest start within the bound", () => {
    assert.equal(utf8Head("abc", 3), "abc");
    assert.equal(utf8Head("€€€", 7), "€€"); // 6 bytes: a third € would need 9
    assert.equal(utf8Head("😀😀", 5), "😀");
    assert.equal(utf8Head("a😀", 3), "a", "never half a surrogate pair");
  });

  it("a verdict of a long command keeps at most the bounds; one that fits is the same object", () => {
    const small = verdict(["ls -la", "grep x"]);
    assert.equal(boundVerdict(small), small);

    const long = "echo " + "x".repeat(64 * 1024);
    const one = boundVerdict(verdict([long]));
    assert.ok(bytes(one.reason) <= VERDICT_TEXT_BYTES && one.reason.endsWith("no rule matches."), "the sentence is bounded and keeps its ending");
    assert.ok(bytes(one.parts[0]!.part) <= VERDICT_TEXT_BYTES && one.parts[0]!.part.startsWith("echo x"), "the part is bounded and starts as the command");

    const many = boundVerdict(verdict(Array.from({ length: 200 }, (_, i) => `cmd${i} ${"€".repeat(600)}`)));
    assert.ok(many.parts.length <= VERDICT_MAX_PARTS && many.parts.length > 0);
    const partBytes = many.parts.reduce((n, p) => n + bytes(p.part) + bytes(p.reason), 0);
    assert.ok(partBytes <= VERDICT_PARTS_BYTES, `the parts' texts together: ${partBytes} bytes`);
    assert.deepEqual(
      many.parts.map((p) => p.part.split(" ")[0]),
      Array.from({ length: many.parts.length }, (_, i) => `cmd${i}`),
      "the first parts, in order",
    );
    assert.ok(many.parts.every((p) => whole(p.part)));
    assert.equal(boundVerdict(many), many, "bounding is idempotent");

    const fifty = verdict(Array.from({ length: 80 }, (_, i) => `c${i}`));
    assert.equal(boundVerdict(fifty).parts.length, VERDICT_MAX_PARTS, "at most VERDICT_MAX_PARTS parts");
  });

  it("a preview cuts command, detail and diff and bounds the verdict; the whole approval is not changed", () => {
    const command = "echo " + "ü".repeat(40_000);
    const a = approval({ command, diff: "+x\n".repeat(10_000), policy: verdict([command]) });
    const before = JSON.stringify(a);
    const p = approvalPreview(a);
    assert.equal(JSON.stringify(a), before, "the approval itself is untouched");
    assert.ok(bytes(p.command!) <= APPROVAL_PREVIEW_BYTES && command.startsWith(p.command!));
    assert.deepEqual(p.truncated, { command: bytes(command), diff: 30_000 });
    assert.ok(bytes(p.policy!.reason) <= VERDICT_TEXT_BYTES);
    // What a listing or a snapshot carries per approval stays small whatever the command's size.
    assert.ok(bytes(JSON.stringify(p)) <= 2 * APPROVAL_PREVIEW_BYTES + VERDICT_TEXT_BYTES + VERDICT_PARTS_BYTES + 1024, `${bytes(JSON.stringify(p))} bytes`);
    assert.deepEqual(approvalPreview(p), p, "a preview of a preview is the same");

    const short = approval({ policy: verdict(["npm test"]) });
    assert.equal(approvalPreview(short), short, "nothing to cut: the same object");
  });
});
