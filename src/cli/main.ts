// The `switchboard` command. Every subcommand finds (or starts) the broker the way any client does,
// prints sentences on failure and exits non-zero.
import { parseArgs } from "node:util";
import { SWITCHBOARD_VERSION } from "../protocol/index.js";
import { BrokerApi } from "../client/api.js";
import { CliError, UsageError, connect, err, out, type Command, type Ctx } from "./context.js";
import { HITL_COMMANDS } from "./hitl.js";
import { run } from "./run.js";
import { install } from "./install.js";
import { BrokerError, BrokerUnreachableError, DiscoveryError } from "../client/errors.js";
import { stateHome } from "../platform/paths.js";
import { ago, preview, table, workspaceLabel } from "./format.js";

const USAGE = `Usage: switchboard <command> [options]

Commands:
  run [options] -- CMD ARGS…       Ask for approval, then run CMD with its output streamed to VS Code
      --env                        Read-only command (asks as env instead of sh)
      --session NAME               Session name shown in VS Code
      --summary TEXT               What the approver sees (default: the command)
      --execute agent|editor       Run it here (default) or in the approving VS Code window
      --timeout S                  Give up if nobody decides within S seconds
  broker [--foreground]            Start the broker (detached unless --foreground) and show its status
  status                           Show the broker's address, version and counts
  sessions                         List open sessions (endpoints)
  send [--to SESSION] TEXT         Send a message; without --to it waits in the inbox
  inbox [list]                     List undispatched messages
  inbox route ID SESSION           Route an inbox item to an open session (name or endpoint id)
  inbox dismiss ID [--reason R]    Remove an inbox item
  approvals [list|history]         Pending (or decided) approvals
  approvals show ID                One approval with its whole command, detail and diff
  approvals approve ID             Approve a pending request
  approvals reject ID [--reason R] Reject it, telling the agent why
  streams [list]                   Running and recent output streams
  streams show ID                  Print a stream's output (replay, then live) until it ends
  streams cancel ID [--reason R]   Ask the producer to stop the command
  audit verify [--file PATH]       Check the approval audit log's SHA-256 chain
  install pi [--dir DIR] [--uninstall]  Add (or remove) the Switchboard extension to pi's extensions folder

Options:
  --json         Machine-readable output
  --home DIR     State folder (default: $SWITCHBOARD_HOME or the per-user data folder)
  --no-start     Fail instead of starting a broker when none is running
  --from NAME    Sender name for send (default: cli)
  -h, --help     Show this help
  -v, --version  Show the version`;


async function main(argv: string[]): Promise<number> {
  const { values, positionals, tokens } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    tokens: true,
    options: {
      json: { type: "boolean", default: false },
      home: { type: "string" },
      "no-start": { type: "boolean", default: false },
      foreground: { type: "boolean", default: false },
      to: { type: "string" },
      from: { type: "string" },
      reason: { type: "string" },
      file: { type: "string" },
      env: { type: "boolean", default: false },
      session: { type: "string" },
      summary: { type: "string" },
      execute: { type: "string" },
      timeout: { type: "string" },
      dir: { type: "string" },
      uninstall: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
      version: { type: "boolean", short: "v", default: false },
    },
  });
  if (values.version) return out(SWITCHBOARD_VERSION), 0;
  const [command, ...args] = positionals;
  if (values.help) return out(USAGE), 0;
  // No command: a usage error like any other, on stderr, with the usage to pick one from.
  if (!command) return err(`switchboard: no command given.\n\n${USAGE}`), 2;
  for (const [name, value] of Object.entries(values)) if (typeof value === "string" && !value.trim()) throw new UsageError(`--${name} needs a value.`);
  if (values.timeout !== undefined && !(/^\d+(\.\d+)?$/.test(values.timeout) && Number(values.timeout) <= MAX_TIMEOUT_S))
    throw new UsageError(`--timeout must be a number of seconds, at most ${MAX_TIMEOUT_S} (a week), not "${values.timeout}".`);
  const ctx: Ctx = { json: !!values.json, home: values.home ?? stateHome(), start: !values["no-start"], values, args };
  const run = COMMANDS[command];
  if (!run) throw new UsageError(`Unknown command "${command}".`);
  checkArity(command, args);
  checkOptions(command, tokens);
  return run(ctx);
}

/** Options every command takes. */
const GLOBAL_OPTIONS = new Set(["json", "home", "no-start", "help", "version"]);
/** The options each command understands besides those; any other is a usage error, not something to ignore. */
const COMMAND_OPTIONS: Record<string, string[]> = {
  run: ["env", "session", "summary", "execute", "timeout"],
  broker: ["foreground"],
  send: ["to", "from"],
  inbox: ["reason"],
  approvals: ["reason"],
  streams: ["reason"],
  audit: ["file"],
  install: ["dir", "uninstall"],
};

function checkOptions(command: string, tokens: ReadonlyArray<{ kind: string; name?: string }>): void {
  const own = COMMAND_OPTIONS[command] ?? [];
  for (const t of tokens) {
    if (t.kind !== "option" || !t.name || GLOBAL_OPTIONS.has(t.name) || own.includes(t.name)) continue;
    throw new UsageError(`--${t.name} does not apply to ${command}${own.length ? `, which takes ${own.map((o) => `--${o}`).join(", ")}` : ""}.`);
  }
}

/** The broker's limit for an approval's timeout. */
const MAX_TIMEOUT_S = 7 * 24 * 3600;

/** How many arguments a command (or each of its subcommands) takes; more is a usage error, not something to ignore. */
const MAX_ARGS: Record<string, number | Record<string, number>> = {
  status: 0,
  sessions: 0,
  broker: 0,
  inbox: { list: 0, route: 2, dismiss: 1 },
  approvals: { list: 0, history: 0, show: 1, approve: 1, reject: 1 },
  streams: { list: 0, show: 1, cancel: 1 },
  audit: { verify: 0, list: 0 },
};

function checkArity(command: string, args: string[]): void {
  const max = MAX_ARGS[command];
  if (typeof max === "number") {
    if (args.length > max) throw new UsageError(`${command} takes no arguments; "${args.join(" ")}" is not understood.`);
    return;
  }
  const [sub, ...rest] = args;
  const m = sub === undefined || max === undefined ? undefined : max[sub];
  if (m !== undefined && rest.length > m) throw new UsageError(`${command} ${sub} takes ${m ? `at most ${m} argument${m === 1 ? "" : "s"}` : "no arguments"}; "${rest.slice(m).join(" ")}" is not understood.`);
}

const COMMANDS: Record<string, Command> = {
  ...HITL_COMMANDS,
  run,
  install,
  async broker(ctx) {
    if (ctx.values.foreground) {
      const { startDaemon } = await import("../broker/daemon.js");
      const result = await startDaemon({ home: ctx.home, logToStderr: true });
      if (result.kind === "already_running") {
        err(`switchboard: A broker is already running at ${result.record.ipcUrl} (pid ${result.record.pid}); stop it first to run one in the foreground.`);
        return 1;
      }
      out(`Broker listening at ${result.daemon.record.ipcUrl} (pid ${process.pid}). Press Ctrl+C to stop.`);
      const stop = (sig: string) => void result.daemon.stop(sig);
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGTERM", () => stop("SIGTERM"));
      await result.daemon.stopped;
      return 0;
    }
    return COMMANDS.status!({ ...ctx, start: true });
  },

  async status(ctx) {
    const found = await connect(ctx);
    const api = new BrokerApi(found.record);
    const [endpoints, inbox] = await Promise.all([api.endpoints(), api.undispatched(process.pid)]);
    const status = {
      ipcUrl: found.record.ipcUrl,
      pid: found.record.pid,
      startedAt: found.record.startedAt,
      version: found.health.version,
      protocolVersion: found.health.protocol_version,
      spawned: found.spawned,
      sessions: endpoints.length,
      inbox: inbox.length,
      home: ctx.home,
      discoveryFile: found.discoveryFile,
      logFile: found.logFile ?? null,
    };
    if (ctx.json) return out(JSON.stringify(status, null, 2)), 0;
    out(
      [
        `Broker ${found.spawned ? "started" : "running"} at ${status.ipcUrl} (pid ${status.pid}, up since ${ago(status.startedAt)})`,
        `Version ${status.version}, protocol ${status.protocolVersion}`,
        `${status.sessions} open session${status.sessions === 1 ? "" : "s"}, ${status.inbox} message${status.inbox === 1 ? "" : "s"} in the inbox`,
        `State folder ${status.home}`,
        ...(status.logFile ? [`Log ${status.logFile}`] : []),
      ].join("\n"),
    );
    return 0;
  },

  async sessions(ctx) {
    const api = new BrokerApi((await connect(ctx)).record);
    const endpoints = await api.endpoints();
    if (ctx.json) return out(JSON.stringify(endpoints, null, 2)), 0;
    if (!endpoints.length) return out("No open sessions. Start an agent with the Switchboard adapter, or open a VS Code window with the extension."), 0;
    out(
      table(
        endpoints.map((e) => [e.label, e.kind, e.state, workspaceLabel(e.workspace), e.task_hint ? preview(e.task_hint, 40) : "-", ago(e.last_seen_at), e.endpoint_id]),
        ["SESSION", "KIND", "STATE", "WORKSPACE", "TASK", "SEEN", "ID"],
      ),
    );
    return 0;
  },

  async send(ctx) {
    const text = ctx.args.join(" ");
    if (!text) throw new UsageError("send needs the message text: switchboard send [--to SESSION] TEXT");
    const api = new BrokerApi((await connect(ctx)).record);
    const res = await api.ingress({
      from: (ctx.values.from as string | undefined) ?? "cli",
      content: text,
      ...(ctx.values.to ? { to: ctx.values.to as string } : {}),
    });
    if (ctx.json) return out(JSON.stringify(res, null, 2)), 0;
    const where =
      res.status === "undispatched"
        ? `waits in the inbox as ${res.undispatched_id}`
        : res.status === "delivered"
          ? `was delivered to ${res.target_endpoint_id}`
          : `is stored for ${res.target_endpoint_id} until it reconnects`;
    out(`Message ${res.messageId} ${where}.`);
    return 0;
  },

  async inbox(ctx) {
    const [sub = "list", ...rest] = ctx.args;
    const api = new BrokerApi((await connect(ctx)).record);
    if (sub === "list") {
      const items = await api.undispatched(process.pid);
      if (ctx.json) return out(JSON.stringify(items, null, 2)), 0;
      if (!items.length) return out("The inbox is empty."), 0;
      out(table(items.map((i) => [i.id, i.sender_address, ago(i.arrived_at), i.reason, preview(i.content)]), ["ID", "FROM", "ARRIVED", "REASON", "MESSAGE"]));
      return 0;
    }
    if (sub === "route") {
      const [id, session] = rest;
      if (!id || !session) throw new UsageError("Usage: switchboard inbox route ID SESSION");
      const target = resolveSession(await api.endpoints(), session);
      const res = await api.dispatch(id, target.endpoint_id);
      if (ctx.json) return out(JSON.stringify(res, null, 2)), 0;
      out(`Routed ${id} to ${target.label} (${target.endpoint_id})${res.status === "delivered" ? "; it was delivered" : "; it will be delivered when the session reconnects"}.`);
      return 0;
    }
    if (sub === "dismiss") {
      const [id] = rest;
      if (!id) throw new UsageError("Usage: switchboard inbox dismiss ID [--reason TEXT]");
      await api.dismiss(id, ctx.values.reason as string | undefined);
      if (ctx.json) return out(JSON.stringify({ ok: true, id }, null, 2)), 0;
      out(`Dismissed ${id}.`);
      return 0;
    }
    throw new UsageError(`Unknown inbox command "${sub}"; use list, route or dismiss.`);
  },
};

function resolveSession<T extends { endpoint_id: string; label: string; session_name: string | null }>(endpoints: T[], name: string): T {
  const byId = endpoints.find((e) => e.endpoint_id === name);
  if (byId) return byId;
  const matches = endpoints.filter((e) => e.session_name === name || e.label === name);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new CliError(`${matches.length} open sessions are named "${name}"; use an endpoint id: ${matches.map((m) => m.endpoint_id).join(", ")}.`);
  throw new CliError(`No open session is named "${name}". List them with: switchboard sessions`);
}


main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError || (e as { code?: string })?.code?.startsWith?.("ERR_PARSE_ARGS")) {
      err(`switchboard: ${(e as Error).message}\nRun "switchboard --help" for usage.`);
      process.exit(2);
    }
    if (e instanceof BrokerError) err(`switchboard: ${e.message} (${e.code})`);
    else if (e instanceof DiscoveryError || e instanceof BrokerUnreachableError || e instanceof CliError) err(`switchboard: ${e.message}`);
    // A file system or network failure (EACCES, ENOTDIR, …) explains itself; its stack would not help.
    else if (typeof (e as NodeJS.ErrnoException)?.syscall === "string") err(`switchboard: ${(e as Error).message}.`);
    else err(`switchboard: unexpected error: ${(e as Error)?.stack ?? String(e)}`);
    process.exit(1);
  },
);

