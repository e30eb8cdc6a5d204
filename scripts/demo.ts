// `npm start`: the whole product on this machine. Builds and packages the extension, installs a real
// VS Code (code-server) if needed, starts the broker, starts VS Code on 127.0.0.1 with the VSIX
// installed, and starts a demo agent session that raises an approval (its command streams output
// when approved) and sends an unaddressed message. Prints the URL; Ctrl+C stops everything it started.
//
//   npm start [-- --workspace DIR]   demo folder (default $SWITCHBOARD_DEMO_WORKSPACE, else ~/switchboard-demo)
//   npm start -- --check             the same from nothing, then proves it: a fresh VS Code cache (unless
//                                    SWITCHBOARD_VSCODE_CACHE names one), a throwaway broker folder and demo
//                                    folder; approves the demo request in the real VS Code, waits for its
//                                    output in the terminal, stops everything, exits 0 (1 with a sentence)
//
// A failure prints what failed and what to do, never a stack trace, and exits 1.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stateHome } from "../src/platform/paths.js";
import { brokerApiAt, stopBroker } from "./broker-home.js";
import { CHECK_SETTINGS, checkInWorkbench } from "./vscode/check.js";
import { startServer, vscodeCacheDir, type VsCodeServer } from "./vscode/server.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DEMO_SUMMARY = "Run the demo build";
const DEMO_SCRIPT = "for i in 1 2 3 4 5; do echo building step $i; sleep 1; done; echo warning: demo warning >&2; echo done";
const DEMO_LINES = ["building step 1", "building step 5", "warning: demo warning", "done"];
const USAGE = `Usage: npm start [-- --workspace DIR] [-- --check]
  --workspace DIR  the demo folder VS Code opens (default: $SWITCHBOARD_DEMO_WORKSPACE, else ~/switchboard-demo)
  --check          run everything from nothing, approve the demo request in the real VS Code, check its
                   output in the terminal, stop everything; exit 0 if all of it worked`;

/** A failure the user can act on: what failed, and what to do about it. */
class Failure extends Error {
  constructor(
    message: string,
    readonly hint: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const bold = (text: string) => (process.stderr.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const say = (text: string) => process.stderr.write(`${bold(`▸ ${text}`)}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const timings: Array<[string, number]> = [];

/** Runs one step; a throw becomes a Failure that names the step and says what to do. */
async function step<T>(name: string, detail: string, hint: string, fn: () => T | Promise<T>): Promise<T> {
  say(detail ? `${name} (${detail})` : name);
  const t = Date.now();
  try {
    return await fn();
  } catch (e) {
    if (e instanceof Failure) throw e;
    throw new Failure(`${name} failed: ${(e as Error)?.message ?? String(e)}`, hint);
  } finally {
    timings.push([name, Date.now() - t]);
  }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: "inherit", env });
  if (r.error) throw new Error(`${cmd} could not be started (${r.error.message})`);
  if (r.status !== 0) throw new Error(`\`${cmd} ${args.join(" ")}\` exited with ${r.status ?? r.signal}; its output is above`);
}

// ---- options --------------------------------------------------------------------------------------

function options(argv: string[]): { check: boolean; workspace: string | undefined } {
  const spec = { check: { type: "boolean" }, workspace: { type: "string" }, help: { type: "boolean", short: "h" } } as const;
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof spec; strict: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: spec, strict: true });
  } catch (e) {
    throw new Failure((e as Error).message, USAGE, 2);
  }
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const workspace = parsed.values.workspace ?? (process.env.SWITCHBOARD_DEMO_WORKSPACE?.trim() || undefined);
  checkMode = parsed.values.check === true;
  return { check: checkMode, workspace: workspace ? resolve(workspace) : undefined };
}

// ---- what was started, stopped whatever happens -------------------------------------------------------

let checkMode = false;
const started: { server?: VsCodeServer; agent?: ChildProcess; brokerHome?: string; temp: string[] } = { temp: [] };

async function stopAll(): Promise<void> {
  if (started.agent && started.agent.exitCode === null && started.agent.signalCode === null) started.agent.kill("SIGINT");
  await started.server?.stop().catch(() => {});
  if (started.brokerHome) await stopBroker(started.brokerHome).catch(() => {});
  for (const dir of started.temp) await rm(dir, { recursive: true, force: true }).catch(() => {});
}

// ---- the demo ------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const t0 = Date.now();
  if (opts.check) say("Check mode: everything npm start does, from an empty VS Code cache, then the demo in the real VS Code");

  // Check mode proves the README from nothing: a VS Code cache that starts empty (unless the caller
  // names one), a broker folder and a demo folder of its own, all removed at the end.
  if (opts.check && !process.env.SWITCHBOARD_VSCODE_CACHE) {
    const cache = await mkdtemp(join(tmpdir(), "sb-check-vscode-"));
    started.temp.push(cache);
    process.env.SWITCHBOARD_VSCODE_CACHE = cache;
  }
  const cache = vscodeCacheDir();
  if (opts.check) {
    const empty = !existsSync(cache) || readdirSync(cache).length === 0;
    say(`VS Code cache: ${cache} (${empty ? "empty: a cold install" : "not empty: this run does not prove a cold install"})`);
  }
  const home = opts.check ? await mkdtemp(join(tmpdir(), "sb-check-home-")) : stateHome();
  if (opts.check) started.temp.push(home);
  const env = { ...process.env, SWITCHBOARD_HOME: home };
  const cli = (args: string[]) => run(process.execPath, [join(ROOT, "dist/cli.js"), ...args], env);

  await step("Packaging the extension", "npm run package", "Run `npm install` first; if it still fails, the error above says which file did not build.", () =>
    run("npm", ["run", "--silent", "package"]),
  );
  await step(
    "Making sure a real VS Code is installed",
    `scripts/vscode/install.sh into ${cache}; the first time takes a few minutes`,
    "install.sh needs the npm registry and, the first time, root for apt-get (Debian's chromium and libkrb5-dev). " +
      "Fix what its output above says and run npm start again; it continues where it stopped.",
    () => run("bash", [join(ROOT, "scripts/vscode/install.sh")]),
  );
  await step("Starting the broker", `state in ${home}`, `See the broker's log in ${join(home, "broker", "log")}.`, () => {
    cli(["broker"]);
    started.brokerHome = opts.check ? home : undefined; // npm start leaves the user's broker running
  });

  const workspace = opts.workspace ?? (opts.check ? await mkdtemp(join(tmpdir(), "sb-check-demo-")) : join(homedir(), "switchboard-demo"));
  if (opts.check && !opts.workspace) started.temp.push(workspace);
  const server = await step(
    "Starting VS Code",
    `code-server with the extension, on ${workspace}`,
    "Its server log is named above. Run `bash scripts/vscode/install.sh` to repair the VS Code install, or set SWITCHBOARD_VSCODE_CACHE to another folder.",
    async () => {
      await mkdir(workspace, { recursive: true });
      await writeFile(join(workspace, "README.md"), "# Switchboard demo workspace\n\nApprove the demo agent's request in the Switchboard sidebar.\n");
      return (started.server = await startServer({
        flavor: "code-server",
        workspace,
        vsix: join(ROOT, "agent-switchboard.vsix"),
        env: { SWITCHBOARD_HOME: home },
        ...(opts.check ? { settings: { ...CHECK_SETTINGS } } : {}),
        startTimeoutMs: 60_000,
      }));
    },
  );

  const approvalId = await step("Starting a demo agent session", "", `See the broker's log in ${join(home, "broker", "log")}.`, async () => {
    const agent = spawn(process.execPath, [join(ROOT, "dist/cli.js"), "run", "--session", "demo-agent", "--summary", DEMO_SUMMARY, "--", "sh", "-c", DEMO_SCRIPT], {
      cwd: workspace,
      env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    started.agent = agent;
    cli(["send", "--from", "demo-agent", "Please review the flaky test in router.test.ts (routed from the inbox)."]);
    return opts.check ? await demoApproval(home, agent) : undefined;
  });

  if (opts.check) {
    const agent = started.agent!;
    const agentExit = new Promise<number | null>((r) => (agent.exitCode !== null ? r(agent.exitCode) : agent.once("exit", (code) => r(code))));
    await step(
      "Approving the demo request in the real VS Code",
      "Playwright + Chromium: sidebar, Approve, then its output in the terminal",
      "A screenshot of the moment is named above when there is one; the VS Code server log is in the message.",
      async () => {
        try {
          await checkInWorkbench({
            url: server.workbenchUrl({ folder: workspace }),
            approvalId: approvalId!,
            lines: DEMO_LINES,
            footer: /\bexit 0 after \d/,
            log: (t) => say(`  ${t}`),
          });
        } catch (e) {
          throw new Error(`${(e as Error).message}; server log at ${server.logFile}`);
        }
        const code = await Promise.race([agentExit, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 30_000))]);
        if (code !== 0)
          throw new Error(`the demo agent (switchboard run) ${code === "timeout" ? "did not exit within 30 s" : `exited with ${code}`} after its request was approved`);
      },
    );
    await step("Stopping everything", "VS Code, the demo agent, the broker; removing the throwaway folders", "", stopAll);
    process.stdout.write(`\nCheck passed in ${secs(Date.now() - t0)}: ${timings.map(([w, ms]) => `${w} ${secs(ms)}`).join("; ")}.\n`);
    return;
  }

  process.stdout.write(`
Agent Switchboard is running.

  Open VS Code:   ${server.workbenchUrl({ folder: workspace })}
  Broker:         node dist/cli.js status   (SWITCHBOARD_HOME=${home})

In the Switchboard sidebar (activity bar), approve "${DEMO_SUMMARY}" to watch its output in a
terminal, and route the inbox message to a session. Try \`node dist/cli.js run -- ls\` yourself.
Press Ctrl+C to stop VS Code and the demo agent (the broker keeps running; stop it with
\`kill $(node -e "console.log(require('${join(home, "broker", "discovery.json")}').pid)")\`).
`);
  started.agent!.on("exit", (code) => process.stderr.write(`demo agent finished (exit ${code}); VS Code keeps running.\n`));
  await new Promise(() => {});
}

/** The demo agent's pending approval, as the broker lists it (bounded). */
async function demoApproval(home: string, agent: ChildProcess): Promise<string> {
  const api = await brokerApiAt(home);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const a = (await api.approvals("pending")).find((x) => x.summary === DEMO_SUMMARY);
    if (a) return a.approval_id;
    if (agent.exitCode !== null) throw new Error(`the demo agent exited with ${agent.exitCode} before asking for approval`);
    if (Date.now() > deadline) throw new Error("the demo agent's approval request did not reach the broker within 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

let stopping = false;
const interrupt = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`\nStopping (${signal})…\n`);
  // Interrupted, a check has not passed.
  void stopAll().then(() => process.exit(checkMode ? 130 : 0));
};
process.on("SIGINT", () => interrupt("SIGINT"));
process.on("SIGTERM", () => interrupt("SIGTERM"));

main().catch(async (e: unknown) => {
  const f = e instanceof Failure ? e : new Failure(`npm start failed: ${(e as Error)?.message ?? String(e)}`, "");
  const [first, ...rest] = f.message.split("\n");
  process.stderr.write(`\n✖ ${first}\n${rest.length ? `${rest.slice(0, 30).join("\n")}\n` : ""}${f.hint ? `\n${f.hint}\n` : ""}`);
  await stopAll();
  process.exit(f.exitCode);
});
