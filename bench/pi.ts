// pi adapter benchmark: what the adapter adds to a pi `bash` tool call (the approval gate plus the
// output stream), excluding the reviewer's time, against pi without the adapter, in the same run.
//
//   npm run build && node --import tsx bench/pi.ts [--trials=N] [--quick]
//
// Two real pi processes (RPC mode, fake model) run the same trivial commands, interleaved: one with
// dist/pi-extension.js against the real broker, one without. A reviewer process-side (this process,
// on the observer feed) approves every request the moment it appears. For each trial:
//   tool time     = pi's tool_execution_start -> tool_execution_end (as read from pi's stdout)
//   reviewer time = approval.decided_at - approval.created_at (the broker's own clock): how long the
//                   request sat pending, which a human would fill with thinking
//   overhead      = tool time (adapter) - reviewer time - tool time (plain pi, same command, the
//                   trial right after); its median over the trials is the headline figure
// Prints one JSON object to stdout (progress on stderr) and writes .bench-out/pi.json.
import os from "node:os";
import type { Approval } from "../src/protocol/index.js";
import { startFakeModel } from "../test/support/fake-model/openai.js";
import { startBroker, tempHome } from "../test/support/broker.js";
import { ensurePiExtension, piSandbox, startPi, type RpcPi } from "../test/support/pi.js";
import { benchLife } from "./lib/life.js";
import { startAutoReviewer } from "./lib/reviewer.js";
import { round, summarize } from "./lib/stats.js";
import { waitFor } from "../test/support/wait.js";

const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const TRIALS = Number(argv.find((a) => a.startsWith("--trials="))?.split("=")[1] ?? (QUICK ? 10 : 60));
const WARMUP = QUICK ? 2 : 5;
const COMMANDS = ["true", "echo hi"];
const TARGET_MS = 20;
const life = benchLife("bench:pi");
const log = life.log;

interface Trial {
  tool_ms: number;
  reviewer_ms: number | null;
  is_error: boolean;
}

/** One prompt `bash: CMD`; the tool window from pi's events. */
async function trial(pi: RpcPi, command: string): Promise<{ toolMs: number; isError: boolean }> {
  const from = pi.events.length;
  await pi.command({ type: "prompt", message: `bash: ${command}` }, 30_000);
  const start = await pi.waitFor((e) => e.type === "tool_execution_start", 30_000, from);
  const end = await pi.waitFor((e) => e.type === "tool_execution_end", 30_000, from);
  await pi.waitFor((e) => e.type === "agent_end", 30_000, from);
  const i0 = pi.events.indexOf(start);
  const i1 = pi.events.indexOf(end);
  return { toolMs: pi.times[i1]! - pi.times[i0]!, isError: end.isError === true };
}

async function main() {
  const extension = await ensurePiExtension();
  const home = await tempHome("sb-bench-pi-");
  const broker = await startBroker(home.home);
  const fake = await startFakeModel();
  const sandbox = await piSandbox(fake.baseUrl);
  const waiting = new Map<string, (a: Approval) => void>();
  const reviewer = await startAutoReviewer({ home: home.home, api: broker.api, log, onDecided: (a) => waiting.get(a.command ?? "")?.(a) });

  const withAdapter = startPi({ agentDir: sandbox.agentDir, cwd: sandbox.cwd, extension, env: { SWITCHBOARD_HOME: home.home } });
  const plain = startPi({ agentDir: sandbox.agentDir, cwd: sandbox.cwd });
  const results: Record<string, { adapter: Trial[]; plain: Trial[] }> = {};
  try {
    await Promise.all([withAdapter.command({ type: "get_state" }, 60_000), plain.command({ type: "get_state" }, 60_000)]);
    await waitFor(async () => (await broker.api.endpoints()).some((e) => e.plugin_pid === withAdapter.proc.pid), 20_000, "pi with the adapter to register", 20);
    for (const command of COMMANDS) {
      results[command] = { adapter: [], plain: [] };
      for (let i = 0; i < WARMUP + TRIALS; i++) {
        const approval = new Promise<Approval>((resolve) => waiting.set(command, resolve));
        const a = await trial(withAdapter, command);
        const ap = await Promise.race([approval, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
        waiting.delete(command);
        const p = await trial(plain, command);
        if (i < WARMUP) continue;
        const reviewerMs = ap?.decided_at ? Date.parse(ap.decided_at) - Date.parse(ap.created_at) : null;
        results[command]!.adapter.push({ tool_ms: round(a.toolMs), reviewer_ms: reviewerMs, is_error: a.isError });
        results[command]!.plain.push({ tool_ms: round(p.toolMs), reviewer_ms: null, is_error: p.isError });
      }
      log(`${command}: ${TRIALS} trials done`);
    }
  } finally {
    await Promise.all([withAdapter.stop(5000), plain.stop(5000)]);
    await reviewer.close();
    await broker.stop();
    await fake.close();
    await sandbox.cleanup();
    await home.cleanup();
  }

  const report: Record<string, unknown> = {
    bench: "pi-adapter",
    trials_per_command: TRIALS,
    warmup: WARMUP,
    target_overhead_ms: TARGET_MS,
    method:
      "tool = pi tool_execution_start->tool_execution_end as read from pi's RPC stdout; reviewer = decided_at - created_at of the approval (broker clock, 1 ms resolution); paired overhead = per trial (adapter tool - reviewer) - plain tool of the interleaved plain trial; overhead_p50_ms = the worst command's median paired overhead; overhead_ms = difference of the percentiles",
    machine: { cpus: os.cpus().length, node: process.version, loadavg: os.loadavg().map((x) => round(x, 2)) },
    commands: {} as Record<string, unknown>,
  };
  let worstP50 = -Infinity;
  for (const [command, r] of Object.entries(results)) {
    const adapter = summarize(r.adapter.map((t) => t.tool_ms));
    const reviewerS = summarize(r.adapter.map((t) => t.reviewer_ms ?? NaN).filter(Number.isFinite));
    const net = summarize(r.adapter.map((t) => t.tool_ms - (t.reviewer_ms ?? 0)));
    const base = summarize(r.plain.map((t) => t.tool_ms));
    const overhead = { p50: round(net.p50 - base.p50), p90: round(net.p90 - base.p90) };
    // Trials are interleaved (adapter, then plain, same command): the per-trial difference cancels
    // most of the drift in machine load, so its median is the headline figure.
    const paired = summarize(r.adapter.map((t, i) => t.tool_ms - (t.reviewer_ms ?? 0) - r.plain[i]!.tool_ms));
    worstP50 = Math.max(worstP50, paired.p50);
    (report.commands as Record<string, unknown>)[command] = {
      plain_tool_ms: base,
      adapter_tool_ms: adapter,
      reviewer_ms: reviewerS,
      adapter_minus_reviewer_ms: net,
      overhead_ms: overhead,
      paired_overhead_ms: paired,
      errors: { adapter: r.adapter.filter((t) => t.is_error).length, plain: r.plain.filter((t) => t.is_error).length },
      missing_approvals: r.adapter.filter((t) => t.reviewer_ms === null).length,
    };
  }
  report.overhead_p50_ms = round(worstP50);
  report.pass = worstP50 < TARGET_MS;
  await life.publish("pi", report);
}

life.run(main, 600_000);
