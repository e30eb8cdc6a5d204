// Claude Code adapter benchmark: the time Switchboard's hooks add to one Bash tool call on the approve
// path (PreToolUse: hook process, companion, approval request; PostToolUse: one more hook process that
// hands the output to the companion),
// with the reviewer's time taken out, against Claude Code without hooks in the same run; and the
// resident memory of the session's companion, beside a bare Node process.
//
//   npm run build && node --import tsx bench/claude.ts [--calls=N] [--rounds=R] [--quick]
//
// Each round runs the real Claude Code twice (headless, fake model, the same N scripted `true` Bash
// calls): once plain (`--allowedTools Bash`), once with the hooks of `switchboard install claude
// --project` and a reviewer (this process, on the observer feed) approving each request the moment it
// appears. Per call:
//   call time     = Claude's assistant tool_use event -> its tool_result event, as read from its stdout
//   reviewer time = approval.decided_at - approval.created_at (broker clock): the time a human would fill
//   overhead      = median(call time - reviewer time, with hooks) - median(call time, plain)
// Prints one JSON report (progress on stderr) and writes .bench-out/claude.json.
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startFakeAnthropic } from "../test/support/fake-model/anthropic.js";
import { CLI_ENTRY, startBroker, tempHome } from "../test/support/broker.js";
import { ROOT } from "../test/support/paths.js";
import { claudeSandbox, ensureClaude, runClaude, type ClaudeRun } from "../test/support/claude.js";
import { metric, targetSummary } from "./lib/report.js";
import { rssMb } from "./lib/procs.js";
import { benchLife } from "./lib/life.js";
import { startAutoReviewer } from "./lib/reviewer.js";
import { round, summarize } from "./lib/stats.js";

const exec = promisify(execFile);
const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const CALLS = Number(argv.find((a) => a.startsWith("--calls="))?.split("=")[1] ?? (QUICK ? 8 : 20));
const ROUNDS = Number(argv.find((a) => a.startsWith("--rounds="))?.split("=")[1] ?? (QUICK ? 2 : 4));
const TARGET_MS = 100;
const life = benchLife("bench:claude");
const log = life.log;

/** Per tool call: tool_use read -> tool_result read, with the tool_use id. */
function callTimes(run: ClaudeRun): { id: string; ms: number }[] {
  const started = new Map<string, number>();
  const out: { id: string; ms: number }[] = [];
  run.events.forEach((e, i) => {
    const content = (e.message as { content?: { type?: string; id?: string; tool_use_id?: string }[] } | undefined)?.content;
    if (!Array.isArray(content)) return;
    for (const c of content) {
      if (e.type === "assistant" && c.type === "tool_use" && c.id) started.set(c.id, run.times[i]!);
      if (e.type === "user" && c.type === "tool_result" && c.tool_use_id && started.has(c.tool_use_id))
        out.push({ id: c.tool_use_id, ms: run.times[i]! - started.get(c.tool_use_id)! });
    }
  });
  return out;
}

async function main() {
  ensureClaude();
  const started = Date.now();
  const home = await tempHome("sb-bench-claude-");
  const broker = await startBroker(home.home);
  const fake = await startFakeAnthropic();
  const plainBox = await claudeSandbox();
  const hookedBox = await claudeSandbox();
  // Claude Code with a do-nothing PreToolUse hook (sh answering allow at once): what any command hook costs inside Claude.
  const trivialBox = await claudeSandbox();
  await mkdir(join(trivialBox.project, ".claude"), { recursive: true });
  const allow = JSON.stringify({ hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: "allow" } });
  await writeFile(
    join(trivialBox.project, ".claude", "settings.local.json"),
    JSON.stringify({
      hooks: { PreToolUse: [{ matcher: "Bash|Write|Edit|MultiEdit|NotebookEdit", hooks: [{ type: "command", command: `cat > /dev/null; printf '%s' '${allow}'` }] }] },
    }),
  );
  await exec(process.execPath, [CLI_ENTRY, "install", "claude", "--project", hookedBox.project], { env: { PATH: process.env.PATH ?? "" } });

  const reviewer = await startAutoReviewer({ home: home.home, api: broker.api, log });
  const decided = reviewer.decided;

  const plain: number[] = [];
  const trivial: number[] = [];
  const hooked: number[] = [];
  const reviewerMs: number[] = [];
  const peak: { rss: ReturnType<typeof rssMb> } = { rss: null };
  const script = () => fake.enqueue(...Array.from({ length: CALLS }, () => ({ toolUses: [{ name: "Bash", input: { command: "true", description: "bench" } }] })), { text: "done" });
  try {
    for (let r = 0; r < ROUNDS; r++) {
      script();
      const p = await runClaude(
        { cwd: plainBox.project, home: plainBox.home, baseUrl: fake.baseUrl, prompt: "bench", env: { SWITCHBOARD_HOME: home.home }, args: ["--allowedTools", "Bash"] },
        300_000,
      );
      const pt = callTimes(p);
      if (pt.length !== CALLS) throw new Error(`plain run made ${pt.length} calls, not ${CALLS}: ${p.stderr().slice(0, 500)}`);
      plain.push(...pt.slice(1).map((t) => t.ms)); // the first call of a session warms Claude's shell up

      script();
      const tr = await runClaude(
        { cwd: trivialBox.project, home: trivialBox.home, baseUrl: fake.baseUrl, prompt: "bench", env: { SWITCHBOARD_HOME: home.home }, args: ["--allowedTools", "Bash"] },
        300_000,
      );
      const tt = callTimes(tr);
      if (tt.length !== CALLS) throw new Error(`trivial-hook run made ${tt.length} calls, not ${CALLS}: ${tr.stderr().slice(0, 500)}`);
      trivial.push(...tt.slice(1).map((t) => t.ms));

      script();
      const before = decided.length;
      const sampler = setInterval(async () => {
        const ep = (await broker.api.endpoints().catch(() => [])).find((e) => e.kind === "claude-code");
        const m = ep ? rssMb(ep.plugin_pid) : null;
        if (m && (!peak.rss || m.rss > peak.rss.rss)) peak.rss = m;
      }, 200);
      const h = await runClaude(
        { cwd: hookedBox.project, home: hookedBox.home, baseUrl: fake.baseUrl, prompt: "bench", env: { SWITCHBOARD_HOME: home.home }, args: ["--allowedTools", "Bash"] },
        300_000,
      ).finally(() => clearInterval(sampler));
      const ht = callTimes(h);
      if (ht.length !== CALLS) throw new Error(`hooked run made ${ht.length} calls, not ${CALLS}: ${h.stderr().slice(0, 500)}`);
      await new Promise((res) => setTimeout(res, 100)); // the last decisions' answers
      const mine = decided.slice(before).sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
      if (mine.length !== CALLS) throw new Error(`${mine.length} approvals for ${CALLS} calls`);
      ht.forEach((t, i) => {
        if (i === 0) return;
        const a = mine[i]!;
        const rv = Date.parse(a.decided_at!) - Date.parse(a.created_at);
        reviewerMs.push(rv);
        hooked.push(t.ms - rv);
      });
      log(`round ${r + 1}/${ROUNDS}: plain p50 ${round(summarize(pt.map((t) => t.ms)).p50)} ms, hooked p50 ${round(summarize(ht.map((t) => t.ms)).p50)} ms`);
    }
  } finally {
    await reviewer.close();
    await broker.stop();
    await fake.close();
    await plainBox.cleanup();
    await hookedBox.cleanup();
    await trivialBox.cleanup();
    await home.cleanup();
  }

  // A bare Node process holding a timer: the floor for any resident helper process on this machine.
  const bare = await new Promise<ReturnType<typeof rssMb>>((resolve) => {
    const child = execFile(process.execPath, ["-e", "setInterval(() => {}, 1000)"]);
    setTimeout(() => {
      const m = rssMb(child.pid!);
      child.kill("SIGKILL");
      resolve(m);
    }, 500);
  });

  // The floor of any command hook: starting a Node process that does nothing (Claude Code starts one per hook call).
  const nodeStart: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    await exec(process.execPath, ["-e", ""]);
    nodeStart.push(performance.now() - t0);
  }
  // The process cost of the fast path's curl variant (plain sh): sh starting curl, which posts to a local server that answers at once.
  const floorServer = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end("{}"));
  });
  await new Promise<void>((r) => floorServer.listen(0, "127.0.0.1", () => r()));
  const floorPort = (floorServer.address() as AddressInfo).port;
  const shCurl: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    await exec("/bin/sh", ["-c", `printf '{}' | curl -sS --fail --data-binary @- http://127.0.0.1:${floorPort}/`]);
    shCurl.push(performance.now() - t0);
  }
  // What the PostToolUse hook costs per call on its fast path: bash running claude-hook.sh, which hands
  // the event to the companion (here the same do-nothing server) on a /dev/tcp descriptor.
  const hookHome = await tempHome("sb-bench-claude-hook-");
  const sid = "bench-post-hook";
  await mkdir(join(hookHome.home, "claude", sid), { recursive: true });
  await writeFile(join(hookHome.home, "claude", sid, "companion.addr"), `${floorPort} bench-token\n`);
  const postEvent = JSON.stringify({ session_id: sid, hook_event_name: "PostToolUse", tool_name: "Bash", tool_use_id: "t1", tool_response: { stdout: "", stderr: "" } });
  const hookArgs = [join(ROOT, "dist/claude-hook.js"), "--hook-timeout", "900", "--home", hookHome.home];
  const runHookOnce = (cmd: string, args: string[], input: string) =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      const child = execFile(cmd, args, { env: { PATH: process.env.PATH ?? "" } }, (err) => (err ? reject(err) : resolve(performance.now() - t0)));
      child.stdin!.end(input);
    });
  const postHook: number[] = [];
  const nodeHook: number[] = [];
  const nodeBare: number[] = [];
  const cliHook: number[] = [];
  for (let i = 0; i < 15; i++) {
    postHook.push(await runHookOnce("/bin/bash", [join(ROOT, "dist/claude-hook.sh"), process.execPath, ...hookArgs], postEvent));
    // The Node hook alone (what runs without the fast path), for an event it answers without a companion.
    nodeHook.push(await runHookOnce(process.execPath, hookArgs, JSON.stringify({ session_id: sid, hook_event_name: "SessionEnd" })));
    // The same through the whole CLI (`switchboard hook claude`), to show what loading the CLI would cost.
    cliHook.push(
      await runHookOnce(
        process.execPath,
        [CLI_ENTRY, "hook", "claude", "--hook-timeout", "900", "--home", hookHome.home],
        JSON.stringify({ session_id: sid, hook_event_name: "SessionEnd" }),
      ),
    );
    // Its floor in the same loop (the machine's load changes between loops): node doing nothing.
    nodeBare.push(await runHookOnce(process.execPath, ["-e", ""], ""));
  }
  await hookHome.cleanup();
  floorServer.close();
  const companionRss = peak.rss;
  const plainS = summarize(plain);
  const trivialS = summarize(trivial);
  const hookedS = summarize(hooked);
  const overheadP50 = round(hookedS.p50 - plainS.p50);
  const metrics = {
    hook_overhead_p50_ms: metric(overheadP50, "ms", TARGET_MS, "<", { floor: round(plainS.p50), floor_name: "Claude Code without hooks: one Bash call, p50" }),
    sh_curl_p50_ms: metric(round(summarize(shCurl).p50), "ms", null, null, {
      note: "sh + curl posting to a local server that answers at once: the process cost of the fast path's curl variant (under bash it uses /dev/tcp and starts no process)",
    }),
    post_hook_fast_path_p50_ms: metric(round(summarize(postHook).p50), "ms", null, null, {
      note: "bash claude-hook.sh handing a PostToolUse event to a companion that answers at once (/dev/tcp): the extra process each approved Bash call costs for its output stream",
    }),
    node_hook_p50_ms: metric(round(summarize(nodeHook).p50), "ms", null, null, {
      floor: round(summarize(nodeBare).p50),
      floor_name: "node -e '' from spawn to exit, measured in the same loop",
      note: "node dist/claude-hook.js (the hook bundle alone, not the CLI) for an event it answers without a companion: what the Node path costs when the fast path cannot be used",
    }),
    cli_hook_p50_ms: metric(round(summarize(cliHook).p50), "ms", null, null, {
      floor: round(summarize(nodeHook).p50),
      floor_name: "node dist/claude-hook.js, the same hook without the CLI, same loop",
      note: "node dist/cli.js hook claude: the hook through the whole CLI (what a hand-wired `switchboard hook claude` costs)",
    }),
    node_start_p50_ms: metric(round(summarize(nodeStart).p50), "ms", null, null, { note: "node -e '' from spawn to exit: what one hook process costs before it does anything" }),
    switchboard_beyond_a_trivial_hook_p50_ms: metric(round(hookedS.p50 - trivialS.p50), "ms", null, null, {
      floor: round(trivialS.p50 - plainS.p50),
      floor_name: "what a do-nothing command hook (sh answering allow) adds to a Bash call inside Claude Code, p50",
    }),
    hook_overhead_p90_ms: metric(round(hookedS.p90 - plainS.p90), "ms", null, null, { floor: round(plainS.p90), floor_name: "Claude Code without hooks: one Bash call, p90" }),
    companion_rss_mb: metric(companionRss?.rss ?? null, "MB", null, null, {
      floor: bare?.rss ?? null,
      floor_name: "a bare node process with a timer",
      note: companionRss ? `anon ${companionRss.anon} MB, file-backed (shared node binary) ${companionRss.file} MB` : "not sampled",
    }),
  };
  const report = {
    bench: "claude-adapter",
    duration_s: round((Date.now() - started) / 1000, 1),
    calls_per_run: CALLS,
    rounds: ROUNDS,
    method:
      "call = Claude's tool_use -> tool_result on its stream-json stdout; hooked calls minus reviewer time (decided_at - created_at, broker clock, 1 ms resolution); overhead = p50(hooked - reviewer) - p50(plain); the first call of each run is left out (shell warm-up); companion RSS = peak VmRSS sampled every 200 ms",
    machine: { cpus: os.cpus().length, node: process.version, loadavg: os.loadavg().map((x) => round(x, 2)) },
    plain_call_ms: plainS,
    trivial_hook_call_ms: trivialS,
    hooked_call_minus_reviewer_ms: hookedS,
    reviewer_ms: summarize(reviewerMs),
    metrics,
    summary: targetSummary(metrics),
  };
  await life.publish("claude", report);
}

life.run(main, 900_000);
