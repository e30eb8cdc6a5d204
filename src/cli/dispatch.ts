// Parses a `switchboard` command line and dispatches to its command (src/cli/commands/<command>.ts),
// then exits with its code. Shared by the entries: main.ts (every command, dist/cli.js) and
// acp-main.ts (`switchboard acp` alone, dist/acp.js). Every command finds (or starts) the broker the
// way any client does, prints sentences on failure and exits non-zero.
import { parseArgs } from "node:util";
import { SWITCHBOARD_VERSION, visibleText } from "../protocol/index.js";
import { BrokerError, BrokerUnreachableError, DiscoveryError } from "../client/errors.js";
import { stateHome } from "../platform/paths.js";
import { CliError, UsageError, err, out, type CommandSpec, type Ctx, type OptionSpecs } from "./context.js";

/** Options every command takes. */
const GLOBAL_OPTIONS: OptionSpecs = {
  json: { type: "boolean" },
  home: { type: "string" },
  "no-start": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
};

const usage = (commands: readonly CommandSpec[]) => `Usage: switchboard <command> [options]

Commands:
${commands.map((c) => c.usage).join("\n")}

Options:
  --json         Machine-readable output
  --home DIR     State folder (default: $SWITCHBOARD_HOME or the per-user data folder)
  --no-start     Fail instead of starting a broker when none is running
  --from NAME    Sender name for send (default: cli)
  -h, --help     Show this help
  -v, --version  Show the version`;

/** The broker's limit for an approval's timeout. */
const MAX_TIMEOUT_S = 7 * 24 * 3600;

async function main(argv: string[], commands: readonly CommandSpec[]): Promise<number> {
  const USAGE = usage(commands);
  // One parse with every command's options, so an option may come before or after the command; each
  // command is then held to its own options (checkOptions).
  const options: OptionSpecs = { ...GLOBAL_OPTIONS };
  for (const c of commands) Object.assign(options, c.options);
  const { values, positionals, tokens } = parseArgs({ args: argv, allowPositionals: true, strict: true, tokens: true, options });
  if (values.version) return (out(SWITCHBOARD_VERSION), 0);
  const [command, ...args] = positionals;
  if (values.help) return (out(USAGE), 0);
  // No command: a usage error like any other, on stderr, with the usage to pick one from.
  if (!command) return (err(`switchboard: no command given.\n\n${USAGE}`), 2);
  for (const [name, value] of Object.entries(values)) if (typeof value === "string" && !value.trim()) throw new UsageError(`--${name} needs a value.`);
  if (values.timeout !== undefined && !(/^\d+(\.\d+)?$/.test(String(values.timeout)) && Number(values.timeout) <= MAX_TIMEOUT_S))
    throw new UsageError(`--timeout must be a number of seconds, at most ${MAX_TIMEOUT_S} (a week), not "${values.timeout}".`);
  const spec = commands.find((c) => c.name === command);
  if (!spec) throw new UsageError(`Unknown command "${command}".`);
  checkArity(spec, args);
  checkOptions(spec, tokens);
  const ctx: Ctx = { json: !!values.json, home: (values.home as string | undefined) ?? stateHome(), start: !values["no-start"], values: values as Ctx["values"], args };
  return spec.run(ctx);
}

/** An option the command does not take is a usage error, not something to ignore. */
function checkOptions(spec: CommandSpec, tokens: ReadonlyArray<{ kind: string; name?: string }>): void {
  const own = Object.keys(spec.options ?? {});
  for (const t of tokens) {
    if (t.kind !== "option" || !t.name || t.name in GLOBAL_OPTIONS || own.includes(t.name)) continue;
    throw new UsageError(`--${t.name} does not apply to ${spec.name}${own.length ? `, which takes ${own.map((o) => `--${o}`).join(", ")}` : ""}.`);
  }
}

/** More arguments than a command (or its subcommand) takes is a usage error, not something to ignore. */
function checkArity(spec: CommandSpec, args: string[]): void {
  const max = spec.maxArgs;
  if (typeof max === "number") {
    if (args.length > max) throw new UsageError(`${spec.name} takes no arguments; "${args.join(" ")}" is not understood.`);
    return;
  }
  const [sub, ...rest] = args;
  const m = sub === undefined || max === undefined ? undefined : max[sub];
  if (m !== undefined && rest.length > m)
    throw new UsageError(`${spec.name} ${sub} takes ${m ? `at most ${m} argument${m === 1 ? "" : "s"}` : "no arguments"}; "${rest.slice(m).join(" ")}" is not understood.`);
}

/** Runs the command line with `commands` and exits the process with its code. */
export function runCli(argv: string[], commands: readonly CommandSpec[]): void {
  main(argv, commands).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof UsageError || (e as { code?: string })?.code?.startsWith?.("ERR_PARSE_ARGS")) {
        err(`switchboard: ${(e as Error).message}\nRun "switchboard --help" for usage.`);
        process.exit(2);
      }
      // A broker's sentence can quote what a client sent (a session name, an id): shown, not obeyed.
      if (e instanceof BrokerError) err(`switchboard: ${visibleText(e.message)} (${visibleText(e.code)})`);
      else if (e instanceof DiscoveryError || e instanceof BrokerUnreachableError || e instanceof CliError) err(`switchboard: ${e.message}`);
      // A file system or network failure (EACCES, ENOTDIR, …) explains itself; its stack would not help.
      else if (typeof (e as NodeJS.ErrnoException)?.syscall === "string") err(`switchboard: ${(e as Error).message}.`);
      else err(`switchboard: unexpected error: ${(e as Error)?.stack ?? String(e)}`);
      process.exit(1);
    },
  );
}
