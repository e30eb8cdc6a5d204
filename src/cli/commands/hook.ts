// `switchboard hook claude`: the command Claude Code runs for each hook event (stdin: the event JSON;
// stdout: the answer). `switchboard install claude` writes dist/claude-hook.js into the settings
// instead, which is the same code without the rest of the CLI; this spelling is for people who wire
// the hooks by hand. See src/adapters/claude/README.md.
import { hookMain } from "../../adapters/claude/hook.js";
import { UsageError, type CommandSpec, type Ctx } from "../context.js";

async function hook(ctx: Ctx): Promise<number> {
  const [agent] = ctx.args;
  if (agent !== "claude") throw new UsageError(agent ? `Unknown hook "${agent}"; the only one is claude.` : "hook needs an agent: switchboard hook claude");
  const raw = ctx.values["hook-timeout"];
  const timeout = raw === undefined ? undefined : Number(raw);
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) throw new UsageError(`--hook-timeout must be a number of seconds, not "${String(raw)}".`);
  return hookMain({ home: typeof ctx.values.home === "string" ? ctx.values.home : undefined, hookTimeoutS: timeout });
}

export const spec: CommandSpec = {
  name: "hook",
  usage: `  hook claude [--hook-timeout S]   Handle one Claude Code hook event (stdin JSON → stdout JSON); installed by install claude`,
  options: { "hook-timeout": { type: "string" } },
  maxArgs: { claude: 0 },
  run: hook,
};
