// Garbage arguments to every `switchboard` subcommand: unknown commands and options, missing and empty
// values, booleans given values, extra arguments, wrong types (--timeout abc), ids and files that name
// nothing. Each must end with a sentence on stderr and exit 2 (usage) or 1 (anything else), never a
// stack trace, never a hang, never a broker of its own, and never a change to what the broker stores.
// Every case runs `node dist/cli.js` against a test broker (SWITCHBOARD_HOME points at it).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { CLI_ENTRY, childEnv } from "../support/broker.js";
import { SOAK, Tally, brokerWithState, printSummary, seedFor, stateOf, type Fixture, assertNothingChanged, failureReporter } from "./helpers.js";

const SUITE = "fuzz/cli";
const SEED = seedFor(SUITE);
const CASES = SOAK ? 2_000 : 120;
const PARALLEL = 4;
const TIMEOUT_MS = 20_000;

const COMMANDS = ["run", "broker", "status", "sessions", "send", "inbox", "approvals", "streams", "audit", "install"];
const KNOWN_OPTIONS = [
  "json",
  "home",
  "no-start",
  "foreground",
  "to",
  "from",
  "reason",
  "file",
  "env",
  "session",
  "summary",
  "execute",
  "timeout",
  "dir",
  "uninstall",
  "help",
  "version",
];
const STRING_OPTIONS = ["home", "to", "from", "reason", "file", "session", "summary", "execute", "timeout", "dir"];
const BOOLEAN_OPTIONS = ["json", "no-start", "foreground", "env", "uninstall"];

interface CliCase {
  kind: string;
  args: string[];
  exit: 1 | 2;
  /** `audit verify` reports a broken log on stdout (it is the command's result), not on stderr. */
  resultOnStdout?: boolean;
}

let fx: Fixture;
let scratch: string;
/** A regular file (so "a folder" under it cannot exist), a folder, and a file that is no audit log. */
let aFile: string;
let aDir: string;
let garbageLog: string;

// ---- generators ---------------------------------------------------------------------------------------

const word = fc.stringMatching(/^[A-Za-z0-9_.:@%+=,]{1,12}$/);
const text = fc.oneof(
  word,
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((s) => !s.startsWith("-") && !s.includes("\0")),
);
/** An id that names nothing; never starts with "-" (that would be an option). */
const unknownId = fc.oneof(
  word.map((w) => `zz${w}`),
  fc.constantFrom("../../etc/passwd", "%E0%A4%A", "__proto__", "constructor", "apr_", "str_", "msg_", "x".repeat(500), "💥", " "),
);

/** Command lines that are fine on their own; a case breaks them. */
const BASES: string[][] = [
  ["status"],
  ["sessions"],
  ["inbox"],
  ["inbox", "list"],
  ["approvals"],
  ["approvals", "history"],
  ["streams"],
  ["audit", "verify"],
  ["send", "hello"],
  ["broker"],
];
const baseArb = fc.constantFrom(...BASES);

/** Insert a token at a random place after the command (options may go anywhere before "--"). */
const insert = (base: string[], token: string[], at: number) => {
  const i = 1 + (at % base.length);
  return [...base.slice(0, i), ...token, ...base.slice(i)];
};

/** Global options that change nothing about the outcome, sprinkled in. */
const harmless = fc.subarray(["--json", "--no-start"]);

function casesArb(): fc.Arbitrary<CliCase> {
  const usage =
    (kind: string) =>
    (args: string[]): CliCase => ({ kind, args, exit: 2 });
  const failure =
    (kind: string) =>
    (args: string[]): CliCase => ({ kind, args, exit: 1 });
  return fc
    .oneof(
      // usage errors: exit 2
      fc
        .tuple(
          word.filter((w) => !COMMANDS.includes(w)),
          fc.array(word, { maxLength: 2 }),
        )
        .map(([c, rest]) => usage("unknown_command")([c, ...rest])),
      fc
        .tuple(
          baseArb,
          fc.oneof(
            fc
              .stringMatching(/^[a-z][a-z0-9-]{0,14}$/)
              .filter((o) => !KNOWN_OPTIONS.includes(o))
              .map((o) => `--${o}`),
            fc.constantFrom("-x", "-J", "-q", "--no-json", "--JSON", "---", "--to-", "-hv0"),
          ),
          fc.nat(),
        )
        .map(([b, opt, at]) => usage("unknown_option")(insert(b, [opt], at))),
      fc.tuple(fc.constantFrom(...BASES.filter((b) => b[0] !== "send")), fc.constantFrom(...STRING_OPTIONS)).map(([b, o]) => usage("missing_value")([...b, `--${o}`])),
      fc
        .tuple(baseArb, fc.constantFrom(...STRING_OPTIONS), fc.constantFrom(...BOOLEAN_OPTIONS, "json"), fc.nat())
        .map(([b, o, next, at]) => usage("option_as_value")(insert(b, [`--${o}`, `--${next}`], at))),
      fc
        .tuple(baseArb, fc.constantFrom(...BOOLEAN_OPTIONS), fc.oneof(word, fc.constantFrom("", "true", "1", "no")), fc.nat())
        .map(([b, o, val, at]) => usage("boolean_with_value")(insert(b, [`--${o}=${val}`], at))),
      fc
        .tuple(baseArb, fc.constantFrom(...STRING_OPTIONS), fc.constantFrom("", " ", "\t", "  \n"), fc.boolean(), fc.nat())
        .map(([b, o, blank, joined, at]) => usage("empty_value")(insert(b, joined ? [`--${o}=${blank}`] : [`--${o}`, blank], at))),
      fc.tuple(harmless).map(([h]) => usage("no_command")(h)),
      fc
        .tuple(
          fc.constantFrom<string[]>(
            ["status"],
            ["sessions"],
            ["broker"],
            ["inbox", "list"],
            ["inbox", "dismiss", "x"],
            ["inbox", "route", "x", "y"],
            ["approvals", "list"],
            ["approvals", "history"],
            ["approvals", "approve", "x"],
            ["approvals", "reject", "x"],
            ["streams", "list"],
            ["streams", "show", "x"],
            ["streams", "cancel", "x"],
            ["audit", "verify"],
            ["audit", "list"],
            ["install", "pi"],
          ),
          fc.array(word, { minLength: 1, maxLength: 3 }),
        )
        .map(([b, extra]) => usage("extra_arguments")([...b, ...extra])),
      fc
        .constantFrom<string[]>(
          ["send"],
          ["inbox", "route"],
          ["inbox", "route", "x"],
          ["inbox", "dismiss"],
          ["approvals", "approve"],
          ["approvals", "reject"],
          ["streams", "show"],
          ["streams", "cancel"],
          ["install"],
          ["run"],
          ["run", "--env"],
          ["run", "--"],
        )
        .map(usage("missing_arguments")),
      fc
        .tuple(fc.constantFrom("inbox", "approvals", "streams", "audit", "install"), word, fc.option(word, { nil: undefined }))
        .filter(
          ([c, sub]) =>
            !(
              {
                inbox: ["list", "route", "dismiss"],
                approvals: ["list", "history", "approve", "reject"],
                streams: ["list", "show", "cancel"],
                audit: ["verify", "list"],
                install: ["pi"],
              } as Record<string, string[]>
            )[c]!.includes(sub),
        )
        .map(([c, sub, id]) => usage("unknown_subcommand")([c, sub, ...(id === undefined ? [] : [id])])),
      fc
        .tuple(
          fc.oneof(word, fc.constantFrom("Agent", "EDITOR", "agent ", "1", "none")).filter((e) => e !== "agent" && e !== "editor"),
          fc.boolean(),
        )
        .map(([e, env]) => usage("run_bad_execute")(["run", ...(env ? ["--env"] : []), "--execute", e, "--", "true"])),
      fc
        .oneof(fc.constantFrom("abc", "Infinity", "-5", "1e3", "0x10", "NaN", "5s", "1,5", "604801", "99999999999", ".5", "+3"), word)
        .filter((t) => !(/^\d+(\.\d+)?$/.test(t) && Number(t) <= 604_800))
        .map((t) => usage("run_bad_timeout")(["run", `--timeout=${t}`, "--", "true"])),
      // failures after the arguments were understood: exit 1
      unknownId.map((id) => failure("unknown_inbox_item")(["inbox", "dismiss", id])),
      fc
        .tuple(fc.oneof(unknownId, fc.constant("<inbox>")), word)
        .map(([id, w]) => failure("unknown_session")(["inbox", "route", id === "<inbox>" ? fx.inboxId : id, `nobody-${w}`])),
      fc.tuple(fc.constantFrom("approve", "reject"), unknownId).map(([d, id]) => failure("unknown_approval")(["approvals", d, id])),
      fc.constant(null).map(() => failure("already_decided")(["approvals", "reject", fx.approvedApproval, "--reason", "too late"])),
      fc.tuple(fc.constantFrom("show", "cancel"), unknownId).map(([sub, id]) => failure("unknown_stream")(["streams", sub, id])),
      fc.tuple(word, text).map(([w, t]) => failure("unknown_recipient")(["send", "--to", `nobody-${w}`, t])),
      fc.constantFrom("missing", "dir").map((what) => failure("audit_unreadable")(["audit", "verify", "--file", what === "dir" ? aDir : join(aDir, "no-such-file")])),
      fc.constant(null).map((): CliCase => ({ kind: "audit_not_a_log", args: ["audit", "verify", "--file", garbageLog], exit: 1, resultOnStdout: true })),
      fc.constantFrom("status", "sessions", "inbox", "approvals", "streams").map((c) => failure("home_is_a_file")(["--home", aFile, c])),
      fc.constantFrom("status", "sessions").map((c) => failure("home_under_a_file")(["--home", join(aFile, "sub"), c])),
      fc.constant(null).map(() => failure("install_dir_under_a_file")(["install", "pi", "--dir", join(aFile, "extensions")])),
      fc.constant(null).map(() => failure("second_foreground_broker")(["broker", "--foreground"])),
    )
    .chain((c) =>
      // --json and --no-start change nothing about these outcomes: add them now and then (before any "--").
      harmless.map((h) => {
        // (--json would turn audit verify's sentence into JSON, which is its machine-readable result.)
        if (c.resultOnStdout) h = h.filter((o) => o !== "--json");
        if (!h.length || c.kind === "no_command") return c;
        const dashDash = c.args.indexOf("--");
        const at = dashDash < 0 ? c.args.length : dashDash;
        return { ...c, args: [...c.args.slice(0, at), ...h, ...c.args.slice(at)] };
      }),
    );
}

// ---- running one ----------------------------------------------------------------------------------------

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runCli(args: string[]): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], {
      cwd: scratch,
      env: childEnv({ SWITCHBOARD_HOME: fx.home.home, NO_COLOR: "1" }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const STACK_FRAME = /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$/m;
const INTERNAL_ERROR = /\b(Type|Range|Reference|Syntax|URI|Eval|Aggregate)?Error:|unexpected error|\[object Object\]|undefined is not|Cannot read propert/;

function problemWith(c: CliCase, r: Ran): string | undefined {
  if (r.signal) return `killed by ${r.signal} after ${r.ms} ms (it hung)`;
  if (r.code !== c.exit) return `exit ${r.code}, expected ${c.exit}`;
  const said = c.resultOnStdout ? r.stdout + r.stderr : r.stderr;
  if (!said.trim()) return "said nothing";
  const first = said.trimStart().split("\n")[0]!;
  if (!c.resultOnStdout && !/^(switchboard: |Usage: switchboard )/.test(first)) return `stderr does not start with "switchboard: ": ${JSON.stringify(first)}`;
  if (!/[A-Za-z]+ [A-Za-z]+/.test(first)) return `not a sentence: ${JSON.stringify(first)}`;
  if (STACK_FRAME.test(r.stderr) || STACK_FRAME.test(r.stdout)) return "a stack trace";
  if (INTERNAL_ERROR.test(r.stderr)) return "an internal error name";
  if (!c.resultOnStdout && r.stdout.trim()) return `printed on stdout too: ${JSON.stringify(r.stdout.slice(0, 200))}`;
  return undefined;
}

// ---- the suite ---------------------------------------------------------------------------------------------

describe(SUITE, () => {
  let before_: unknown;
  const byKind = new Tally();
  const byExit = new Tally();
  let slowest = 0;
  const started = Date.now();

  before(async () => {
    fx = await brokerWithState("sb-fuzz-cli-");
    scratch = await mkdtemp(join(tmpdir(), "sb-fuzz-cli-cwd-"));
    aFile = join(scratch, "a-file");
    aDir = join(scratch, "a-dir");
    garbageLog = join(scratch, "not-an-audit-log.ndjson");
    await writeFile(aFile, "just a file\n");
    await mkdir(aDir);
    await writeFile(garbageLog, 'not json\n{"seq":"one"}\n[1,2]\n\u0000\u00ff\n');
    before_ = await stateOf(fx);
  });
  after(async () => {
    await fx?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it(`${CASES} garbage command lines: a sentence on stderr and exit 1 or 2, never a stack trace`, { timeout: SOAK ? 7_200_000 : 300_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(casesArb(), { minLength: PARALLEL, maxLength: PARALLEL }), async (batch) => {
        const results = await Promise.all(batch.map((c) => runCli(c.args)));
        batch.forEach((c, i) => {
          const r = results[i]!;
          byKind.add(c.kind);
          byExit.add(r.signal ?? String(r.code));
          slowest = Math.max(slowest, r.ms);
          const problem = problemWith(c, r);
          if (problem)
            throw new Error(
              `${problem}\n[${c.kind}] switchboard ${c.args.map((a) => JSON.stringify(a)).join(" ")}\nstdout: ${r.stdout.slice(0, 500)}\nstderr: ${r.stderr.slice(0, 1500)}`,
            );
        });
      }),
      { seed: SEED, numRuns: Math.ceil(CASES / PARALLEL), endOnFailure: true, reporter: failureReporter(SUITE) },
    );
  });

  it("afterwards: no broker was started, nothing was written, the test broker stores what it stored", async () => {
    // A CLI that started a broker would have made a state folder somewhere: the scratch folder holds only what the test put there.
    assert.deepEqual((await readdir(scratch)).sort(), ["a-dir", "a-file", "not-an-audit-log.ndjson"]);
    assert.deepEqual(await readdir(aDir), []);
    const { crashes } = await assertNothingChanged(fx, before_);
    printSummary({
      suite: SUITE,
      seed: SEED,
      cases: byKind.total,
      by_kind: byKind.counts,
      by_exit: byExit.counts,
      stack_traces: 0,
      slowest_ms: slowest,
      crashes,
      state_changes: 0,
      ms: Date.now() - started,
    });
  });
});
