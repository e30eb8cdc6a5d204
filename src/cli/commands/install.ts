// `switchboard install TARGET`: connects an agent to Switchboard. Each target lives in src/cli/install/.
import { UsageError, type Command, type CommandSpec, type Ctx } from "../context.js";
import { installClaude } from "../install/claude.js";
import { installPi } from "../install/pi.js";

/** Install targets by name; each takes the arguments after its name. */
const TARGETS: Record<string, Command> = { pi: installPi, claude: installClaude };

async function install(ctx: Ctx): Promise<number> {
  const [target] = ctx.args;
  const names = Object.keys(TARGETS).join(", ");
  if (!target) throw new UsageError(`install needs a target: ${names}. Usage: switchboard install TARGET [options]`);
  const handler = TARGETS[target];
  if (!handler) throw new UsageError(`Unknown install target "${ctx.args.join(" ")}"; the targets are ${names}.`);
  return handler(ctx);
}

export const spec: CommandSpec = {
  name: "install",
  usage: [
    `  install pi [--dir DIR] [--uninstall]  Add (or remove) the Switchboard extension to pi's extensions folder`,
    `  install claude (--project DIR | --user) [--uninstall]  Merge (or remove) Switchboard's hooks in Claude Code's settings`,
  ].join("\n"),
  options: { dir: { type: "string" }, uninstall: { type: "boolean" }, project: { type: "string" }, user: { type: "boolean" } },
  run: install,
};
