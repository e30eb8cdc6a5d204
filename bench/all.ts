// `npm run bench`: every benchmark in one run, one after the other (they share two cores, so never at
// once), then one summary: .bench-out/summary.json and the table in docs/performance.md. Each bench
// measures its figures beside a physical floor in the same run; this file only runs them and collects.
//
//   node --import tsx bench/all.ts [--quick] [--only=broker,client,streams,scale,webview,extension,usable,pi,claude,policy] [--no-write-docs]
//
// The extension bench needs a real VS Code (scripts/vscode/install.sh) and packages the VSIX first for
// its size; the pi bench needs pi from npm (a devDependency). A bench that fails is reported as such and
// the others still run; the exit code is 1 if any failed to run.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { machineInfo } from "./lib/machine.js";
import { BROKER_ENTRY, ROOT } from "./lib/servers.js";

const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const WRITE_DOCS = !argv.includes("--no-write-docs");
const ALL = ["broker", "client", "streams", "scale", "webview", "extension", "usable", "pi", "claude", "acp", "policy"] as const;
type BenchName = (typeof ALL)[number];
const only = argv
  .find((a) => a.startsWith("--only="))
  ?.slice(7)
  .split(",");
for (const a of argv) if (a !== "--quick" && a !== "--no-write-docs" && !a.startsWith("--only=")) fail(`unknown argument ${a}`);
for (const o of only ?? []) if (!ALL.includes(o as BenchName)) fail(`--only: unknown bench ${o}; use ${ALL.join(",")}`);
const RUN: BenchName[] = only ? (only as BenchName[]) : [...ALL];
const OUT = join(ROOT, ".bench-out");

function fail(msg: string): never {
  process.stderr.write(`[bench] ${msg}\n`);
  process.exit(2);
}

/** One row of the summary table. */
export interface Row {
  area: string;
  figure: string;
  value: number | string | null;
  unit: string;
  floor?: number | null;
  floor_name?: string;
  target?: string;
  pass?: boolean | null;
}

interface Metric {
  value: number | null;
  unit: string;
  target: number | null;
  op: string | null;
  pass: boolean | null;
  floor?: number | null;
  floor_name?: string;
}

const PLAN: Record<BenchName, { args: string[]; prepare?: string[][]; file: string; timeoutS: number }> = {
  broker: { args: ["bench/broker.ts", ...(QUICK ? ["--quick"] : [])], file: "broker.json", timeoutS: 240 },
  client: { args: ["bench/client.ts", ...(QUICK ? ["--trials", "4", "--messages", "5000", "--rounds", "1"] : [])], file: "client.json", timeoutS: 240 },
  streams: { args: ["bench/streams.ts", ...(QUICK ? ["--quick"] : [])], file: "streams.json", timeoutS: 300 },
  scale: { args: ["bench/scale.ts", ...(QUICK ? ["--quick"] : [])], file: "scale.json", timeoutS: 300 },
  webview: { args: ["bench/webview.ts"], file: "webview.json", timeoutS: 180 },
  extension: { args: ["bench/extension.ts"], prepare: [["npm", "run", "--silent", "package"]], file: "extension.json", timeoutS: 420 },
  usable: { args: ["bench/time-to-usable.ts", ...(QUICK ? ["--windows", "2"] : [])], file: "time-to-usable.json", timeoutS: 600 },
  pi: { args: ["bench/pi.ts", ...(QUICK ? ["--quick"] : [])], file: "pi.json", timeoutS: 300 },
  claude: { args: ["bench/claude.ts", ...(QUICK ? ["--quick"] : [])], file: "claude.json", timeoutS: 600 },
  acp: { args: ["bench/acp.ts", ...(QUICK ? ["--quick"] : [])], file: "acp.json", timeoutS: 300 },
  policy: { args: ["bench/policy.ts", ...(QUICK ? ["--iterations", "500"] : [])], file: "policy.json", timeoutS: 300 },
};

function run(cmd: string, args: string[], timeoutS: number, tag: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => process.stderr.write(d.toString().replace(/^(?=.)/gm, `[${tag}] `)));
    const timer = setTimeout(() => {
      process.stderr.write(`[bench] ${tag}: no result within ${timeoutS} s; stopping it\n`);
      child.kill("SIGINT"); // each bench kills its own children on SIGINT
      setTimeout(() => child.kill("SIGKILL"), 5000).unref();
    }, timeoutS * 1000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

/** The JSON object a bench printed (some print progress lines before it). */
function lastJson(stdout: string): unknown {
  const start = stdout.search(/^\{/m);
  if (start < 0) return undefined;
  try {
    return JSON.parse(stdout.slice(start));
  } catch {
    return undefined;
  }
}

// ---- per-bench rows --------------------------------------------------------------------------------------

const targetText = (m: Metric) => (m.target === null || m.op === null ? undefined : `${m.op} ${m.target}`);

function metricRows(area: string, metrics: Record<string, Metric>, pick?: (key: string) => boolean): Row[] {
  return Object.entries(metrics)
    .filter(([k]) => !pick || pick(k))
    .map(([k, m]) => ({
      area,
      figure: k,
      value: m.value,
      unit: m.unit,
      floor: m.floor ?? null,
      ...(m.floor_name ? { floor_name: m.floor_name } : {}),
      ...(targetText(m) ? { target: targetText(m) } : {}),
      pass: m.pass,
    }));
}

const ROWS: Record<BenchName, (j: any) => Row[]> = {
  broker: (j) => metricRows("routing (broker)", j.metrics),
  streams: (j) => metricRows("approvals and streams", j.metrics),
  scale: (j) => metricRows("scaling", j.metrics),
  client: (j) => [
    {
      area: "reconnect",
      figure: "reconnect_after_kill9_p50",
      value: j.reconnect_after_kill9?.p50_ms ?? null,
      unit: "ms",
      target: "< 1000 (max)",
      pass: (j.reconnect_after_kill9?.max_ms ?? Infinity) < 1000,
    },
    { area: "reconnect", figure: "reconnect_after_kill9_max", value: j.reconnect_after_kill9?.max_ms ?? null, unit: "ms" },
    {
      area: "reconnect",
      figure: "reconnect_after_sigterm_p50",
      value: j.reconnect_after_sigterm?.p50_ms ?? null,
      unit: "ms",
      target: "< 1000 (max)",
      pass: (j.reconnect_after_sigterm?.max_ms ?? Infinity) < 1000,
    },
    { area: "reconnect", figure: "broker_restart_p50", value: j.reconnect_after_kill9?.broker_restart_p50_ms ?? null, unit: "ms" },
    {
      area: "client",
      figure: "messages_via_broker_client",
      value: j.throughput?.via_broker_client?.msgs_per_s ?? null,
      unit: "msg/s",
      floor: j.throughput?.via_broker_bare_ws_consumer?.msgs_per_s ?? null,
      floor_name: "same broker path, bare ws consumer",
    },
    {
      area: "client",
      figure: "client_capacity",
      value: j.throughput?.client_capacity_fake_broker?.msgs_per_s ?? null,
      unit: "msg/s",
      floor: j.throughput?.raw_ws_echo_loopback?.msgs_per_s ?? null,
      floor_name: "raw ws echo on loopback",
    },
  ],
  webview: (j) => [
    {
      area: "sidebar",
      figure: "first_render_1000_items",
      value: j.first_render_ms_1000 ?? null,
      unit: "ms",
      target: "< 100",
      pass: typeof j.first_render_ms_1000 === "number" ? j.first_render_ms_1000 < 100 : null,
    },
    { area: "sidebar", figure: "update_1000_items", value: j.update_ms_1000 ?? null, unit: "ms" },
    { area: "sidebar", figure: "scroll_frame_1000_items", value: j.scroll_frame_ms_1000 ?? null, unit: "ms" },
    { area: "sidebar", figure: "webview_bundle_gzip", value: j.bundle_gzip_bytes ?? null, unit: "bytes" },
  ],
  extension: (j) => {
    const f = j.figures ?? {};
    const ours = f.activation_ext_host_ms?.ours ?? null;
    return [
      { area: "extension", figure: "activation_ext_host_ours", value: ours, unit: "ms", target: "< 50", pass: typeof ours === "number" ? ours < 50 : null },
      { area: "extension", figure: "activation_to_registered_wall", value: f.activation_to_registered_ms ?? null, unit: "ms" },
      { area: "extension", figure: "activation_ext_host_other", value: f.activation_ext_host_ms?.other_extensions_and_host ?? null, unit: "ms" },
      { area: "extension", figure: "terminal_throughput_50mb", value: f.terminal_mb_per_s ?? null, unit: "MB/s" },
      {
        area: "extension",
        figure: "vsix_size",
        value: f.vsix_bytes ?? null,
        unit: "bytes",
        target: "< 500000",
        pass: typeof f.vsix_bytes === "number" ? f.vsix_bytes < 500_000 : null,
      },
    ];
  },
  usable: (j) => metricRows("time to usable", j.metrics),
  policy: (j) => metricRows("approval policy", j.metrics),
  pi: (j) => [
    { area: "pi adapter", figure: "approval_gate_overhead_p50", value: j.overhead_p50_ms ?? null, unit: "ms", target: `< ${j.target_overhead_ms ?? 20}`, pass: j.pass ?? null },
  ],
  claude: (j) => metricRows("Claude Code adapter", j.metrics ?? {}),
  acp: (j) => {
    const m = (j.metrics ?? {}) as Record<string, { value: number | null; floor?: number | null; pass: boolean | null }>;
    const row = (key: string, figure: string, unit: string, target?: string) => ({
      area: "acp client",
      figure,
      value: m[key]?.value ?? null,
      unit,
      ...(m[key]?.floor != null ? { floor: m[key]!.floor } : {}),
      ...(target ? { target, pass: m[key]?.pass ?? null } : {}),
    });
    return [
      row("request_to_visible_added_p50_ms", "permission_request_to_visible_added_p50", "ms", "< 20"),
      row("decision_to_answer_added_p50_ms", "decision_to_agent_answer_added_p50", "ms", "< 20"),
      row("acp_client_rss_mb", "switchboard_acp_rss", "MB", "< 60"),
      row("acp_client_rss_node_defaults_mb", "switchboard_acp_rss_node_defaults", "MB"),
    ];
  },
};

// ---- the Markdown page --------------------------------------------------------------------------------------

function fmt(v: number | string | null | undefined): string {
  if (v === null || v === undefined) return "–";
  if (typeof v === "string") return v;
  return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : String(Math.round(v * 100) / 100);
}

function markdown(rows: Row[], status: Record<string, string>, started: string, machine: ReturnType<typeof machineInfo>): string {
  const lines = [
    "# Performance",
    "",
    `Measured by \`npm run bench\`${QUICK ? " (quick mode)" : ""} on ${started.slice(0, 10)}: ${machine.cpus} cores (${machine.cpu_model}), Node ${machine.node}, commit ${machine.git_commit}.`,
    "Every figure is measured beside its floor in the same run (the floor is what the same work costs without Switchboard:",
    "a raw `ws` echo, a relay without validation or journal, `cat` into `/dev/null`, a bare node process); the ratio is figure / floor.",
    "The machine is shared and noisy: compare ratios more than absolute numbers. The JSON behind this page is in `.bench-out/`.",
    "",
    "| area | figure | measured | floor | ratio | target | met |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const ratio = typeof r.value === "number" && typeof r.floor === "number" && r.floor !== 0 ? fmt(r.value / r.floor) : "–";
    const floor = r.floor === null || r.floor === undefined ? "–" : `${fmt(r.floor)}${r.floor_name ? ` (${r.floor_name})` : ""}`;
    const met = r.pass === true ? "yes" : r.pass === false ? "**no**" : "";
    lines.push(`| ${r.area} | ${r.figure} | ${fmt(r.value)} ${r.unit} | ${floor} | ${ratio} | ${r.target ?? ""} | ${met} |`);
  }
  lines.push(
    "",
    "Benches run: " +
      Object.entries(status)
        .map(([k, v]) => `${k} (${v})`)
        .join(", ") +
      ".",
    "",
  );
  lines.push(GROWTH_MARKER, "");
  return lines.join("\n");
}

/** Hand-written sections after this marker (how costs grow, what each bench measures) are kept. */
const GROWTH_MARKER = "<!-- generated table ends; text below is kept -->";

async function main(): Promise<void> {
  const started = new Date().toISOString();
  await mkdir(OUT, { recursive: true });
  process.stderr.write(`[bench] building\n`);
  if ((await run("npm", ["run", "--silent", "build"], 300, "build")).code !== 0 || !existsSync(BROKER_ENTRY)) fail("the build failed");
  const rows: Row[] = [];
  const status: Record<string, string> = {};
  for (const name of RUN) {
    const plan = PLAN[name];
    if (!existsSync(join(ROOT, plan.args[0]!))) {
      status[name] = "missing";
      continue;
    }
    for (const cmd of plan.prepare ?? []) await run(cmd[0]!, cmd.slice(1), 300, `${name}:prepare`);
    process.stderr.write(`[bench] ${name}\n`);
    const t0 = Date.now();
    const r = await run(process.execPath, ["--import", "tsx", ...plan.args], plan.timeoutS, name);
    const json = lastJson(r.stdout);
    if (!json) {
      status[name] = `failed: exit ${r.code}, no JSON`;
      continue;
    }
    await writeFile(join(OUT, plan.file), JSON.stringify(json, null, 2) + "\n");
    rows.push(...ROWS[name](json));
    status[name] = `${Math.round((Date.now() - t0) / 1000)} s${r.code === 0 ? "" : `, exit ${r.code}`}`;
  }
  const machine = machineInfo(ROOT, BROKER_ENTRY);
  const summary = { bench: "all", quick: QUICK, started_at: started, machine, status, rows };
  await writeFile(join(OUT, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  if (WRITE_DOCS) {
    const page = join(ROOT, "docs/performance.md");
    const kept = existsSync(page) ? (readFileSync(page, "utf8").split(GROWTH_MARKER)[1] ?? "") : "";
    await writeFile(page, markdown(rows, status, started, machine) + kept.replace(/^\n+/, ""));
  }
  console.log(JSON.stringify(summary));
  const missed = rows.filter((r) => r.pass === false).map((r) => r.figure);
  process.stderr.write(
    `[bench] done: ${rows.length} figures, ${missed.length ? `targets missed: ${missed.join(", ")}` : "every target met"}; ${Object.values(status).filter((s) => s.startsWith("failed")).length} benches failed to run\n`,
  );
  if (Object.values(status).some((s) => s.startsWith("failed"))) process.exitCode = 1;
}

await main();
