// `switchboard acp [--session NAME] -- CMD ARGS…`: run an ACP agent as a Switchboard session in this
// terminal (src/adapters/acp). Exit codes: 0 after a normal exit, 1 when the agent or the broker
// failed, 130 after Ctrl+C.
import { CliError, UsageError, type CommandSpec, type Ctx } from "../context.js";

const USAGE = "Usage: switchboard acp [--session NAME] -- CMD ARGS…  (e.g. switchboard acp -- gemini --acp)";

async function run(ctx: Ctx): Promise<number> {
  const [command, ...args] = ctx.args;
  if (!command) throw new UsageError(USAGE);
  const interactive = process.stdin.isTTY === true;
  // Loaded on use: the other commands of dist/cli.js do not evaluate the ACP SDK and its schemas.
  const { AcpHost } = await import("../../adapters/acp/host.js");
  const host = new AcpHost({
    command,
    args,
    cwd: process.cwd(),
    env: process.env,
    sessionName: ctx.values.session as string | undefined,
    home: ctx.home,
    spawnBroker: ctx.start,
    input: process.stdin,
    output: { write: (t) => void process.stdout.write(t), color: process.stdout.isTTY === true && !process.env.NO_COLOR },
    interactive,
    debug: !!process.env.SWITCHBOARD_ACP_DEBUG,
  });
  // Ctrl+C: the first cancels the running turn, the next exits. SIGTERM and SIGHUP exit.
  const onInt = () => host.interrupt();
  const onTerm = () => void host.stop(143);
  const onHup = () => void host.stop(129);
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  process.on("SIGHUP", onHup);
  try {
    try {
      await host.start();
    } catch (e) {
      await host.stop(1);
      throw new CliError((e as Error).message);
    }
    return await host.done;
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    process.off("SIGHUP", onHup);
  }
}

export const spec: CommandSpec = {
  name: "acp",
  usage: `  acp [--session NAME] -- CMD ARGS…  Run an ACP agent (gemini --acp, opencode acp, codex-acp, claude-agent-acp) as a session:
                                   its approvals, output and messages go through Switchboard`,
  options: { session: { type: "string" } },
  run,
};
