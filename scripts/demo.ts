// `npm start`: the whole product on this machine. Builds and packages the extension, installs a real
// VS Code (code-server) if needed, starts the broker, starts VS Code on 127.0.0.1 with the VSIX
// installed, and starts a demo agent session that raises an approval (its command streams output
// when approved) and sends an unaddressed message. Prints the URL; Ctrl+C stops everything it started.
import { spawn, spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stateHome } from "../src/platform/paths.js";
import { startServer } from "./vscode/server.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const step = (text: string) => process.stderr.write(`\x1b[1m▸ ${text}\x1b[0m\n`);
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) => {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: "inherit", env });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status})`);
};

const home = stateHome();
const env = { ...process.env, SWITCHBOARD_HOME: home };
const cli = (args: string[]) => run(process.execPath, [join(ROOT, "dist/cli.js"), ...args], env);

step("Packaging the extension (npm run package)");
run("npm", ["run", "--silent", "package"]);
step("Making sure a real VS Code is installed (scripts/vscode/install.sh; the first time takes a few minutes)");
run("bash", [join(ROOT, "scripts/vscode/install.sh")]);
step(`Starting the broker (state in ${home})`);
cli(["broker"]);

const workspace = join(homedir(), "switchboard-demo");
await mkdir(workspace, { recursive: true });
await writeFile(join(workspace, "README.md"), "# Switchboard demo workspace\n\nApprove the demo agent's request in the Switchboard sidebar.\n");
step("Starting VS Code (code-server) with the extension");
const server = await startServer({
  flavor: "code-server",
  workspace,
  vsix: join(ROOT, "agent-switchboard.vsix"),
  env: { SWITCHBOARD_HOME: home },
  startTimeoutMs: 60_000,
});

step("Starting a demo agent session");
const agent = spawn(
  process.execPath,
  [join(ROOT, "dist/cli.js"), "run", "--session", "demo-agent", "--summary", "Run the demo build", "--", "sh", "-c", "for i in 1 2 3 4 5; do echo building step $i; sleep 1; done; echo warning: demo warning >&2; echo done"],
  { cwd: workspace, env, stdio: ["ignore", "inherit", "inherit"] },
);
cli(["send", "--from", "demo-agent", "Please review the flaky test in router.test.ts (routed from the inbox)."]);

process.stdout.write(`
Agent Switchboard is running.

  Open VS Code:   ${server.workbenchUrl({ folder: workspace })}
  Broker:         node dist/cli.js status   (SWITCHBOARD_HOME=${home})

In the Switchboard sidebar (activity bar), approve "Run the demo build" to watch its output in a
terminal, and route the inbox message to a session. Try \`node dist/cli.js run -- ls\` yourself.
Press Ctrl+C to stop VS Code and the demo agent (the broker keeps running; stop it with
\`kill $(node -e "console.log(require('${join(home, "broker", "discovery.json")}').pid)")\`).
`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  agent.kill("SIGINT");
  await server.stop();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
agent.on("exit", (code) => process.stderr.write(`demo agent finished (exit ${code}); VS Code keeps running.\n`));
await new Promise(() => {});
