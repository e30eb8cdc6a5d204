// `switchboard acp` benchmark: the latency the ACP client adds to a permission request, and its memory.
//
//   npm run build && node --import tsx bench/acp.ts [--trials=N] [--long=N] [--quick]
//
// A scripted ACP agent (test/fixtures/acp-agent/script-agent.ts) asks N permissions one after the other
// and records, in its own process, when it sent each request and when the answer came. This process
// reviews on the observer feed: it notes when each approval becomes visible there and approves it at
// once, noting when it called decide. All times are epoch ms from performance.timeOrigin + now()
// (µs resolution, one machine clock), so:
//   request → visible  = visible (feed, here) - sent (agent)
//   decision → answer  = answered (agent) - decide called (here)
// The floors, in the same run, are the same two paths without `switchboard acp`: this process asks an
// approval itself (POST /v1/approvals → visible on the feed) and waits for its decision as a requester
// does (decide → the approval_resolved push on its own stream). What the ACP client adds = the p50 of the
// total minus the p50 of its floor; the target is < 20 ms for each. Also the resident memory of
// the `switchboard acp` process after the run as VS Code starts it (`node ACP_NODE_FLAGS dist/acp.js`,
// target < 60 MB), beside an idle `node` and the same load started the other ways (from a shell with
// dist/cli.js and Node's defaults; dist/acp.js with Node's defaults; dist/acp.js without each one of
// its flags), and again after a long session (--long approvals in all, default 2000).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ACP_NODE_FLAGS } from "../src/adapters/acp/node-flags.js";
import type { Approval } from "../src/protocol/index.js";
import { sandbox, startAcp, waitFor, type AgentSetup } from "../test/support/acp.js";
import { ROOT, startBroker, tempHome } from "../test/support/broker.js";
import { benchLife } from "./lib/life.js";
import { startAutoReviewer } from "./lib/reviewer.js";
import { rssMb } from "./lib/procs.js";
import { metric, targetSummary } from "./lib/report.js";
import { round, summarize } from "./lib/stats.js";

const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const TRIALS = Number(argv.find((a) => a.startsWith("--trials="))?.split("=")[1] ?? (QUICK ? 40 : 200));
/** Approvals in all before the long session's memory is read. */
const LONG = Number(argv.find((a) => a.startsWith("--long="))?.split("=")[1] ?? (QUICK ? 500 : 2000));
const TARGET_MS = 20;
const TARGET_RSS_MB = 60;
const ACP_ENTRY = join(ROOT, "dist/acp.js");
const life = benchLife("bench:acp");
const now = () => performance.timeOrigin + performance.now();

async function main(): Promise<void> {
  const t0 = Date.now();
  const home = await tempHome("sb-bench-acp-");
  const box = await sandbox("sb-bench-acp-box-");
  const timesDir = await mkdtemp(join(tmpdir(), "sb-bench-acp-times-"));
  const timesFile = join(timesDir, "times.jsonl");
  const broker = await startBroker(home.home);
  const visibleAt = new Map<string, number>();
  const decideAt = new Map<string, number>();
  const order: string[] = [];
  const reviewer = await startAutoReviewer({
    home: home.home,
    api: broker.api,
    log: life.log,
    decidedBy: "bench",
    onPending: (a, approving) => {
      visibleAt.set(a.approval_id, now());
      order.push(a.approval_id);
      if (approving) decideAt.set(a.approval_id, now());
    },
  });

  const tsx = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
  const agent: AgentSetup = {
    name: "claude",
    kind: "script-agent",
    command: process.execPath,
    args: ["--import", tsx, join(ROOT, "test/fixtures/acp-agent/script-agent.ts")],
    // No NODE_OPTIONS: the flags under test are given to `switchboard acp` alone, not to the agent.
    env: { PATH: process.env.PATH, HOME: box.root, SCRIPT_AGENT_TIMES: timesFile, NODE_OPTIONS: "" },
  };
  // Memory first: the same load (TRIALS + 10 approvals) in each way of starting it, then its resident
  // size. Each shows what one step saves; the last is how VS Code starts it (the target).
  const startings: { name: string; how: string; entry?: string; nodeArgs?: readonly string[] }[] = [
    { name: "shell", how: "switchboard acp from a shell: dist/cli.js, Node's defaults" },
    { name: "own-bundle", how: "dist/acp.js (its own minified bundle), Node's defaults", entry: ACP_ENTRY, nodeArgs: [] },
    // What each flag saves: all of them but that one.
    ...ACP_NODE_FLAGS.map((flag) => ({
      name: `without-${flag.replace(/^--/, "").replace(/=.*/, "")}`,
      how: `dist/acp.js with all of ${ACP_NODE_FLAGS.join(" ")} but ${flag}`,
      entry: ACP_ENTRY,
      nodeArgs: ACP_NODE_FLAGS.filter((f) => f !== flag),
    })),
  ];
  const memory: Record<string, { how: string; rss: ReturnType<typeof rssMb> }> = {};
  for (const st of startings) {
    const session = `mem-${st.name}`;
    const times = join(timesDir, `${session}.jsonl`);
    const opts = { session, ...(st.entry ? { entry: st.entry } : {}), ...(st.nodeArgs ? { nodeArgs: st.nodeArgs } : {}) };
    const p = startAcp(home.home, { ...agent, env: { ...agent.env, SCRIPT_AGENT_TIMES: times } }, box.cwd, opts);
    try {
      await waitFor(`the ${session} ACP session`, async () => (await broker.api.endpoints()).find((e) => e.session_name === session), 30_000);
      p.write(`perm: ${TRIALS + 10}`);
      await p.waitForOutput(new RegExp(`outcomes: (yes,){${TRIALS + 9}}yes\n`), 300_000);
      memory[st.name] = { how: st.how, rss: rssMb(p.proc.pid!) };
    } finally {
      p.proc.kill("SIGTERM");
      await p.exited;
    }
  }
  order.length = 0;
  // As VS Code's New Agent Session… starts it (src/extension/agent-session.ts, src/adapters/acp/node-flags.ts).
  const run = startAcp(home.home, agent, box.cwd, { entry: ACP_ENTRY, nodeArgs: ACP_NODE_FLAGS });
  let report: Record<string, unknown>;
  try {
    await waitFor("the ACP session", async () => (await broker.api.endpoints()).find((e) => e.kind === "script-agent"), 30_000);
    // Warm-up, then the measured run.
    run.write("perm: 10");
    await run.waitForOutput(/outcomes: (yes,){9}yes\n/, 60_000);
    const skip = order.length;
    run.write(`perm: ${TRIALS}`);
    await run.waitForOutput(new RegExp(`outcomes: (yes,){${TRIALS - 1}}yes\\n`), 300_000);
    const rss = rssMb(run.proc.pid!);
    // A long session: memory after LONG approvals in all (V8 lets garbage build up in the old generation
    // before it collects it, so this is where the resident size settles).
    run.write(`perm: ${LONG - TRIALS - 10}`);
    await run.waitForOutput(new RegExp(`outcomes: (yes,){${LONG - TRIALS - 11}}yes\n`), 600_000);
    const rssLong = rssMb(run.proc.pid!);
    const lines = readFileSync(timesFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { i: number; sent: number; answered: number });
    const measured = lines.slice(skip, skip + TRIALS);
    const ids = order.slice(skip, skip + TRIALS);
    if (measured.length !== ids.length) throw new Error(`${measured.length} requests but ${ids.length} approvals seen`);
    const toVisible = measured.map((t, k) => visibleAt.get(ids[k]!)! - t.sent);
    const toAnswer = measured.map((t, k) => t.answered - decideAt.get(ids[k]!)!);

    // Floors: the same broker paths without the ACP client, from this process.
    reviewer.approving = false;
    const me = await reviewer.client.registerEndpoint({ kind: "bench-floor", session_name: "floor" });
    const resolved = new Map<string, () => void>();
    reviewer.client.on("frame", (f) => {
      const a = f.approval as Approval | undefined;
      if (f.event === "approval_resolved" && a) resolved.get(a.approval_id)?.();
    });
    const floorVisible: number[] = [];
    const floorAnswer: number[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const sent = now();
      const a = await broker.api.requestApproval({ endpoint_id: me.endpointId, action: "sh", summary: "true", command: "true", execute: "agent" });
      await waitFor("the floor approval on the feed", () => visibleAt.has(a.approval_id), 10_000, 0.5);
      floorVisible.push(visibleAt.get(a.approval_id)! - sent);
      const answered = new Promise<number>((r) => resolved.set(a.approval_id, () => r(now())));
      const decided = now();
      await broker.api.decide(a.approval_id, { decision: "approve", decided_by: "bench" });
      floorAnswer.push((await answered) - decided);
      resolved.delete(a.approval_id);
    }

    const idle = spawnSync(process.execPath, ["-e", "setTimeout(() => process.stdout.write(require('fs').readFileSync('/proc/self/status', 'utf8')), 300)"], {
      encoding: "utf8",
    }).stdout;
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(idle)?.[1] ?? NaN);
    const floorRss = Number.isFinite(kb("VmRSS")) ? { rss: Math.round(kb("VmRSS") / 102.4) / 10 } : null;
    const v = summarize(toVisible);
    const ans = summarize(toAnswer);
    const fv = summarize(floorVisible);
    const fa = summarize(floorAnswer);
    const addedVisible = round(v.p50 - fv.p50);
    const addedAnswer = round(ans.p50 - fa.p50);
    const metrics = {
      request_to_visible_added_p50_ms: metric(addedVisible, "ms", TARGET_MS, "<", {
        floor: round(fv.p50),
        floor_name: "the same approval asked directly (POST → feed)",
        note: `total p50 ${round(v.p50)} ms`,
      }),
      decision_to_answer_added_p50_ms: metric(addedAnswer, "ms", TARGET_MS, "<", {
        floor: round(fa.p50),
        floor_name: "decide → approval_resolved push to a plain requester",
        note: `total p50 ${round(ans.p50)} ms`,
      }),
      acp_client_rss_mb: metric(rss?.rss ?? null, "MB", TARGET_RSS_MB, "<", {
        floor: floorRss?.rss ?? null,
        floor_name: "an idle `node` with nothing loaded",
        note: rss ? `dist/acp.js ${ACP_NODE_FLAGS.join(" ")} (as VS Code starts it): peak ${rss.hwm} MB, anon ${rss.anon} MB, file-backed ${rss.file} MB` : "not measured",
      }),
      acp_client_rss_long_session_mb: metric(rssLong?.rss ?? null, "MB", TARGET_RSS_MB, "<", {
        floor: floorRss?.rss ?? null,
        floor_name: "an idle `node` with nothing loaded",
        note: rssLong ? `the same process after ${LONG} approvals in all: peak ${rssLong.hwm} MB, anon ${rssLong.anon} MB, file-backed ${rssLong.file} MB` : "not measured",
      }),
      ...Object.fromEntries(
        Object.entries(memory).map(([name, m]) => [
          `acp_client_rss_${name.replace(/-/g, "_")}_mb`,
          metric(m.rss?.rss ?? null, "MB", null, null, { note: m.rss ? `${m.how}: anon ${m.rss.anon} MB, file-backed ${m.rss.file} MB` : "not measured" }),
        ]),
      ),
    };
    report = {
      bench: "acp",
      trials: TRIALS,
      method:
        "epoch-ms timestamps (performance.timeOrigin + now()) in the scripted agent and in this reviewer process; floors measured in the same run against the same broker; added = p50(total) - p50(floor)",
      machine: { cpus: os.cpus().length, node: process.version, loadavg: os.loadavg().map((x) => round(x, 2)) },
      request_to_visible_ms: v,
      request_to_visible_floor_ms: fv,
      decision_to_answer_ms: ans,
      decision_to_answer_floor_ms: fa,
      rss_mb: rss,
      rss_long_session_mb: rssLong,
      long_session_approvals: LONG,
      rss_other_startings_mb: memory,
      metrics,
      summary: targetSummary(metrics),
      duration_s: round((Date.now() - t0) / 1000, 1),
    };
  } finally {
    run.proc.kill("SIGTERM");
    await run.exited;
    await reviewer.close();
    await broker.stop();
    await box.cleanup();
    await rm(timesDir, { recursive: true, force: true });
    await home.cleanup();
  }
  await life.publish("acp", report as { duration_s: number; summary: { passed: number; targeted: number } });
}

life.run(main);
