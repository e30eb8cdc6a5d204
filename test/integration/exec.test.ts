/**
 * src/exec against real processes. Every command runs with HOME set to a fresh temporary
 * directory, so login shells read no user profile (fast and deterministic), and every process
 * group a test starts is SIGKILLed in afterEach even if the test failed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ExecError, execCommand, groupAlive, pidAlive, signalGroup, type Channel, type ExecHandle, type ExecOptions } from "../../src/exec/index.js";
import { until } from "../support/wait.js";

const NODE = process.execPath;
let dir = "";
const started: ExecHandle[] = [];
const ended = new WeakSet<ExecHandle>();
const strayPids: number[] = [];

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, LANG: "C.UTF-8", SHELL: "/bin/sh", ...extra };
}

function script(name: string, source: string): string {
  const path = join(dir, name);
  writeFileSync(path, source);
  return path;
}

interface Run {
  h: ExecHandle;
  text: { 1: string; 2: string };
  chunks: Array<[Channel, string]>;
}

/** Starts a command that collects its output; `onOutput` may add behaviour (its return value is used). */
function run(command: string, opts: Partial<ExecOptions> = {}, onOutput?: (c: Channel, t: string) => boolean | undefined): Run {
  const r: Run = { h: undefined as unknown as ExecHandle, text: { 1: "", 2: "" }, chunks: [] };
  r.h = execCommand({
    command,
    cwd: dir,
    env: baseEnv(),
    stopGraceMs: 300,
    ...opts,
    onOutput: (c, t) => {
      r.text[c] += t;
      r.chunks.push([c, t]);
      return onOutput?.(c, t);
    },
  });
  started.push(r.h);
  const h = r.h;
  h.done.then(
    () => ended.add(h),
    () => ended.add(h),
  );
  return r;
}

const waitFor = (what: string, cond: () => boolean, timeoutMs = 5000) => until(what, cond, timeoutMs, 10);

function settledWithin<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "exec-test-"));
});

afterEach(() => {
  // Safety net for failed tests. Finished commands are skipped: their ids may be reused.
  for (const h of started.splice(0)) if (h.pid !== undefined && !ended.has(h)) signalGroup(h.pid, "SIGKILL");
  for (const pid of strayPids.splice(0)) if (pidAlive(pid)) process.kill(pid, "SIGKILL");
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe("exec: output channels", () => {
  it("reproduces interleaved stdout/stderr byte for byte, with multi-byte characters split across writes", async () => {
    // Writes alternate between fd 1 and fd 2, large and small, and split "é" (2 bytes), "€" (3)
    // and "😀" (4) across writes with a 50 ms pause in between. The expected texts are rebuilt
    // here from the same recipe.
    const writer = script(
      "interleave.cjs",
      `
const fs = require("fs");
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
function put(fd, buf) {
  let off = 0;
  while (off < buf.length) {
    try { off += fs.writeSync(fd, buf, off); }
    catch (e) { if (e.code !== "EAGAIN") throw e; pause(1); }
  }
}
const big = (seed, n) => { const parts = []; let len = 0; for (let i = 0; len < n; i++) { const l = "line " + seed + ":" + i + " aé€😀z\\n"; parts.push(l); len += Buffer.byteLength(l); } return parts.join(""); };
const steps = JSON.parse(process.argv[2]);
for (const [fd, kind, arg] of steps) {
  if (kind === "text") put(fd, Buffer.from(arg));
  else if (kind === "big") put(fd, Buffer.from(big(fd, arg)));
  else if (kind === "split") { const b = Buffer.from(arg[0]); put(fd, b.subarray(0, arg[1])); pause(50); put(fd, b.subarray(arg[1])); }
}
`,
    );
    const steps: Array<[1 | 2, string, unknown]> = [
      [1, "text", "start-out\n"],
      [2, "text", "start-err\n"],
      [1, "big", 300_000],
      [2, "text", "e"],
      [1, "split", ["😀", 1]],
      [2, "big", 150_000],
      [1, "text", "x"],
      [2, "split", ["€", 2]],
      [1, "split", ["é", 1]],
      [2, "split", ["😀", 3]],
      [1, "split", ["😀", 2]],
      [2, "text", "ünïcödé\n"],
      [1, "big", 70_000],
      [2, "split", ["é", 1]],
      [1, "text", "end-out"],
      [2, "text", "end-err"],
    ];
    const big = (seed: number, n: number) => {
      const parts: string[] = [];
      for (let i = 0, len = 0; len < n; i++) {
        const line = `line ${seed}:${i} aé€😀z\n`;
        parts.push(line);
        len += Buffer.byteLength(line);
      }
      return parts.join("");
    };
    const expected = { 1: "", 2: "" };
    for (const [fd, kind, arg] of steps) {
      if (kind === "text") expected[fd] += arg as string;
      else if (kind === "big") expected[fd] += big(fd, arg as number);
      else expected[fd] += (arg as [string, number])[0];
    }

    const r = run(`${q(NODE)} ${q(writer)} ${q(JSON.stringify(steps))}`);
    const res = await settledWithin(r.h.done, 10_000);
    assert.equal(res.exit_code, 0);
    assert.equal(r.text[1], expected[1]);
    assert.equal(r.text[2], expected[2]);
    assert.ok(!r.text[1].includes("\uFFFD") && !r.text[2].includes("\uFFFD"), "no replacement character");
    for (const [, t] of r.chunks) {
      assert.ok(t.length > 0, "no empty chunks");
      assert.ok(!LONE_SURROGATE.test(t), "no chunk cuts a 4-byte character in half");
    }
    assert.deepEqual(res.bytes, { 1: Buffer.byteLength(expected[1]), 2: Buffer.byteLength(expected[2]) });
    assert.deepEqual(r.h.bytes, res.bytes);
    assert.equal(res.output_complete, true);
    assert.ok(r.chunks.length >= 5, "the output really arrived in several reads");
  });

  it("an incomplete UTF-8 sequence at the very end is flushed, not lost", async () => {
    const r = run(`printf 'ok\\342\\202'`); // "ok" + the first two bytes of "€"
    await settledWithin(r.h.done, 5000);
    assert.equal(r.text[1], "ok\uFFFD");
  });

  it("stdin: 'pipe' feeds the command", async () => {
    const r = run("cat; echo end", { stdin: "pipe" });
    assert.equal(r.h.writeStdin("hello\n"), true);
    r.h.endStdin();
    await settledWithin(r.h.done, 5000);
    assert.equal(r.text[1], "hello\nend\n");
  });

  it("stdin defaults to /dev/null, so a command reading it does not hang", async () => {
    const r = run("cat; echo after-cat");
    await settledWithin(r.h.done, 5000);
    assert.equal(r.text[1], "after-cat\n");
  });
});

describe("exec: exit codes and signals", () => {
  it("exit 0 and exit 3", async () => {
    const ok = await settledWithin(run("exit 0").h.done, 5000);
    assert.equal(ok.exit_code, 0);
    assert.equal(ok.signal, null);
    assert.equal(ok.code, 0);
    assert.equal(ok.stopped_by, null);
    assert.equal(ok.leftovers, "none");
    const three = await settledWithin(run("echo out; exit 3").h.done, 5000);
    assert.deepEqual([three.exit_code, three.signal, three.code], [3, null, 3]);
    assert.ok(three.duration_ms >= 0 && three.duration_ms < 5000);
  });

  it("a process killed by a signal reports exit_code null, the signal and code 128+n", async () => {
    const term = await settledWithin(run("kill -TERM $$").h.done, 5000);
    assert.deepEqual([term.exit_code, term.signal, term.code, term.stopped_by], [null, "SIGTERM", 143, null]);
    const kill = await settledWithin(run("kill -KILL $$").h.done, 5000);
    assert.deepEqual([kill.exit_code, kill.signal, kill.code], [null, "SIGKILL", 137]);
  });
});

describe("exec: stop escalation", () => {
  it("a process ignoring SIGINT and SIGTERM, with a grandchild, is SIGKILLed as a group", async () => {
    const pidFile = join(dir, "grandchild-1.pid");
    const r = run(`trap '' INT TERM; sleep 1000 & echo $! > ${q(pidFile)}; echo ready; wait; echo not-reached`);
    await waitFor("ready", () => r.text[1].includes("ready"));
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    strayPids.push(grandchild);
    const leader = r.h.pid!;
    assert.ok(pidAlive(leader) && pidAlive(grandchild));
    const t0 = Date.now();
    const res = await settledWithin(r.h.stop("test"), 5000);
    const elapsed = Date.now() - t0;
    assert.equal(res.stopped_by, "SIGKILL");
    assert.equal(res.stop_reason, "test");
    assert.deepEqual([res.exit_code, res.signal, res.code], [null, "SIGKILL", 137]);
    assert.ok(elapsed >= 550, `SIGTERM and SIGKILL each waited a grace period (${elapsed} ms)`);
    assert.equal(pidAlive(leader), false, "the child is gone");
    assert.equal(pidAlive(grandchild), false, "the grandchild is gone");
    assert.equal(groupAlive(leader), false, "the whole group is gone");
    assert.ok(!r.text[1].includes("not-reached"));
    assert.equal(await r.h.stop(), res, "stop() again returns the same result");
  });

  it("a process that exits on SIGINT reports stopped_by SIGINT", async () => {
    const r = run(`exec ${q(NODE)} -e 'process.stdout.write("ready\\n"); setInterval(() => {}, 1000)'`);
    await waitFor("ready", () => r.text[1].includes("ready"));
    const res = await settledWithin(r.h.stop(), 5000);
    assert.equal(res.stopped_by, "SIGINT", "no escalation was needed");
    assert.deepEqual([res.exit_code, res.signal, res.code], [null, "SIGINT", 130]);
    assert.equal(groupAlive(r.h.pid!), false);
  });

  it("a process that ignores SIGINT but not SIGTERM reports stopped_by SIGTERM", async () => {
    const pidFile = join(dir, "grandchild-2.pid");
    const r = run(`trap '' INT; sleep 1000 & echo $! > ${q(pidFile)}; echo ready; wait`);
    await waitFor("ready", () => r.text[1].includes("ready"));
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    strayPids.push(grandchild);
    const t0 = Date.now();
    const res = await settledWithin(r.h.stop(), 5000);
    const elapsed = Date.now() - t0;
    assert.equal(res.stopped_by, "SIGTERM");
    assert.deepEqual([res.exit_code, res.signal, res.code], [null, "SIGTERM", 143]);
    assert.ok(elapsed >= 250, `one grace period (${elapsed} ms)`);
    assert.equal(pidAlive(grandchild), false);
    assert.equal(groupAlive(r.h.pid!), false);
  });

  it("a trap that exits 0 on SIGINT is reported as exit 0, stopped by SIGINT", async () => {
    const r = run(`trap 'exit 0' INT; echo ready; while :; do sleep 0.05; done`);
    await waitFor("ready", () => r.text[1].includes("ready"));
    const res = await settledWithin(r.h.stop(), 5000);
    assert.equal(res.exit_code, 0);
    assert.equal(res.stopped_by, "SIGINT");
  });

  it("stop() after the command ended just returns the result", async () => {
    const r = run("echo hi");
    const res = await settledWithin(r.h.done, 5000);
    assert.equal(await r.h.stop(), res);
    assert.equal(res.stopped_by, null);
  });
});

describe("exec: nothing outlives done", () => {
  it("a background grandchild holding the pipes does not make done hang, and is killed", async () => {
    const pidFile = join(dir, "bg.pid");
    const r = run(`sleep 1000 & echo $! > ${q(pidFile)}; echo finished`, { drainMs: 200 });
    const res = await settledWithin(r.h.done, 3000);
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    strayPids.push(grandchild);
    assert.equal(res.exit_code, 0);
    assert.equal(res.leftovers, "killed");
    assert.equal(res.output_complete, true);
    assert.equal(r.text[1], "finished\n");
    assert.equal(pidAlive(grandchild), false);
    assert.equal(groupAlive(r.h.pid!), false);
  });

  it("output a background job writes during the drain window is still delivered", async () => {
    const t0 = Date.now();
    const r = run(`(sleep 0.05; echo late) & echo early`, { drainMs: 2500 });
    const res = await settledWithin(r.h.done, 5000);
    assert.ok(Date.now() - t0 < 2000, "done follows the job's end, not the end of the window");
    assert.equal(r.text[1], "early\nlate\n");
    assert.equal(res.leftovers, "none"); // the job ended by itself, closing the pipes
  });

  it("a background job not holding the pipes is killed when the drain window ends", async () => {
    const pidFile = join(dir, "bg2.pid");
    const t0 = Date.now();
    const r = run(`sleep 1000 >/dev/null 2>&1 & echo $! > ${q(pidFile)}`, { drainMs: 300 });
    const res = await settledWithin(r.h.done, 3000);
    assert.ok(Date.now() - t0 >= 300, "the job had the drain window to finish by itself");
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    strayPids.push(grandchild);
    assert.equal(res.leftovers, "killed");
    assert.equal(pidAlive(grandchild), false);
  });

  it("a process that left the group (setsid) and holds the pipes: done still resolves, output marked incomplete", async () => {
    const pidFile = join(dir, "escaped.pid");
    const r = run(`setsid sh -c 'echo $$ > ${pidFile}; exec sleep 30' & while [ ! -s ${q(pidFile)} ]; do sleep 0.01; done; echo bye`, {
      drainMs: 150,
    });
    const res = await settledWithin(r.h.done, 3000);
    const escaped = Number(readFileSync(pidFile, "utf8"));
    strayPids.push(escaped); // outside our group: this test cleans it up itself
    assert.equal(res.exit_code, 0);
    assert.equal(res.output_complete, false);
    assert.equal(r.text[1], "bye\n");
  });

  it("when the host process exits, the groups it started are killed", async () => {
    const pidFile = join(dir, "host-exit.pid");
    const host = script(
      "host.mts",
      `
import { execCommand } from ${JSON.stringify(fileURLToPath(new URL("../../src/exec/index.ts", import.meta.url)))};
const h = execCommand({ command: "sleep 1000 & echo $! > ${pidFile}; echo ready; wait", env: { PATH: process.env.PATH, HOME: process.env.HOME, SHELL: "/bin/sh" },
  onOutput: (_c, t) => { if (t.includes("ready")) process.exit(0); } });
`,
    );
    const out = spawnSync(NODE, ["--import", "tsx", host], { cwd: process.cwd(), env: { ...process.env, HOME: dir }, timeout: 10_000, encoding: "utf8" });
    assert.equal(out.status, 0, out.stderr);
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    strayPids.push(grandchild);
    await waitFor("the grandchild to die", () => !pidAlive(grandchild), 2000);
  });
});

describe("exec: login shell choice", () => {
  const probe = `echo "$0"; if [ -n "$BASH_VERSION" ] && shopt -q login_shell; then echo login; fi`;

  it("uses $SHELL as a login shell when it is set", async () => {
    const r = run(probe, { env: baseEnv({ SHELL: "/bin/bash" }) });
    await settledWithin(r.h.done, 5000);
    assert.equal(r.text[1], "/bin/bash\nlogin\n");
    assert.deepEqual(r.h.shell, { file: "/bin/bash", args: ["-lc"], source: "SHELL" });
  });

  it("falls back to bash -lc when $SHELL is unset or not executable", async () => {
    for (const SHELL of [undefined, "/no/such/shell"]) {
      const env = baseEnv({ SHELL });
      if (SHELL === undefined) delete env.SHELL;
      const r = run(probe, { env });
      await settledWithin(r.h.done, 5000);
      assert.equal(r.h.shell?.source, "bash");
      assert.match(r.text[1], /^\/.*bash\nlogin\n$/);
    }
  });

  it("an explicit shell option runs the command with that shell", async () => {
    const r = run(`echo "$0"`, { shell: "/bin/sh", env: baseEnv({ SHELL: "/bin/bash" }) });
    await settledWithin(r.h.done, 5000);
    assert.equal(r.text[1], "/bin/sh\n");
  });
});

describe("exec: backpressure", () => {
  it("onOutput returning false pauses until resume(), and nothing is lost", async () => {
    const doneFile = join(dir, "writer-finished");
    const writer = script(
      "bulk.cjs",
      `
const fs = require("fs");
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
function put(fd, s) {
  const buf = Buffer.from(s); let off = 0;
  while (off < buf.length) { try { off += fs.writeSync(fd, buf, off); } catch (e) { if (e.code !== "EAGAIN") throw e; pause(1); } }
}
for (let i = 0; i < 400; i++) { put(1, ("o" + i + "€").padEnd(10000, ".") + "\\n"); if (i % 40 === 0) put(2, "e" + i + "\\n"); }
fs.writeFileSync(${JSON.stringify(doneFile)}, "1");
`,
    );
    let expectedOut = "";
    let expectedErr = "";
    for (let i = 0; i < 400; i++) {
      expectedOut += `${`o${i}€`.padEnd(10000, ".")}\n`;
      if (i % 40 === 0) expectedErr += `e${i}\n`;
    }

    let holding = false; // true from returning false until we call resume()
    let violations = 0;
    let calls = 0;
    let firstPause = true;
    const r = run(`${q(NODE)} ${q(writer)}`, {}, () => {
      if (holding) violations++;
      calls++;
      holding = true;
      if (firstPause) {
        firstPause = false; // the test below releases the first pause itself
        return false;
      }
      setTimeout(() => {
        holding = false;
        r.h.resume();
      }, 1);
      return false;
    });
    let settled = false;
    void r.h.done.then(() => (settled = true));

    await waitFor("the first chunk", () => calls === 1);
    await sleep(300);
    assert.equal(calls, 1, "no callback while paused");
    assert.equal(r.h.paused, true);
    assert.equal(settled, false);
    assert.equal(existsSync(doneFile), false, "the writer is blocked: its 4 MB do not fit in the buffers");
    const bytesWhilePaused = r.h.bytes[1];
    assert.ok(bytesWhilePaused < 4_000_000);

    holding = false;
    r.h.resume();
    const res = await settledWithin(r.h.done, 20_000);
    assert.equal(violations, 0, "no callback arrived between returning false and resume()");
    assert.equal(res.exit_code, 0);
    assert.equal(r.text[1], expectedOut);
    assert.equal(r.text[2], expectedErr);
    assert.deepEqual(res.bytes, { 1: Buffer.byteLength(expectedOut), 2: Buffer.byteLength(expectedErr) });
    assert.equal(res.output_complete, true);
  });

  it("stop() while paused ends the command and discards the undelivered output", async () => {
    // 1 MB in one write: after the first chunk the writer stays blocked on a full pipe.
    const r = run("head -c 1000000 /dev/zero; sleep 1000", {}, () => false);
    await waitFor("the first chunk", () => r.chunks.length === 1);
    await sleep(200); // let the writer refill the pipe: there is undelivered output to discard
    const res = await settledWithin(r.h.stop("cancelled"), 5000);
    assert.equal(r.chunks.length, 1);
    assert.equal(res.stopped_by, "SIGINT");
    assert.equal(res.output_complete, false);
    assert.equal(groupAlive(r.h.pid!), false);
  });

  it("an onOutput that throws stops the command and rejects done", async () => {
    const r = run("echo a; sleep 1000", {}, () => {
      throw new Error("boom");
    });
    await assert.rejects(settledWithin(r.h.done, 5000), (err: unknown) => {
      assert.ok(err instanceof ExecError);
      assert.equal(err.code, "output_callback_failed");
      assert.match(err.message, /boom/);
      return true;
    });
    assert.equal(groupAlive(r.h.pid!), false);
  });
});

describe("exec: start-up errors reject done with a message that says what to fix", () => {
  it("missing cwd", async () => {
    const h = execCommand({ command: "true", cwd: join(dir, "no-such-dir") });
    assert.equal(h.pid, undefined);
    await assert.rejects(h.done, (err: unknown) => {
      assert.ok(err instanceof ExecError);
      assert.equal(err.code, "cwd_missing");
      assert.equal(err.message, `working directory ${join(dir, "no-such-dir")} does not exist: create it or pass an existing cwd`);
      return true;
    });
    await assert.rejects(h.stop(), ExecError);
  });

  it("cwd that is a file", async () => {
    const file = script("a-file", "x");
    const h = execCommand({ command: "true", cwd: file });
    await assert.rejects(h.done, (err: unknown) => err instanceof ExecError && err.code === "cwd_not_directory" && /is not a directory/.test(err.message));
  });

  it("an explicit shell that does not exist", async () => {
    const h = execCommand({ command: "true", cwd: dir, shell: "/no/such/sh" });
    await assert.rejects(h.done, (err: unknown) => err instanceof ExecError && err.code === "no_shell" && err.message.includes("/no/such/sh"));
  });

  it("a command too long for execve", async () => {
    const h = execCommand({ command: `echo ${"x".repeat(200_000)}`, cwd: dir, env: baseEnv() });
    assert.equal(h.pid, undefined);
    await assert.rejects(h.done, (err: unknown) => err instanceof ExecError && err.code === "spawn_failed" && /too long/.test(err.message));
  });

  it("an ignored failure does not crash the host (the rejection is handled)", async () => {
    let unhandled = 0;
    const onUnhandled = () => unhandled++;
    process.on("unhandledRejection", onUnhandled);
    execCommand({ command: "true", cwd: join(dir, "nope") });
    await sleep(50);
    process.off("unhandledRejection", onUnhandled);
    assert.equal(unhandled, 0);
  });
});
