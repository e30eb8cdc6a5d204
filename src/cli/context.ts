// What every CLI command shares: parsed options, output helpers, error types, and finding the broker.
import { BrokerApi } from "../client/api.js";
import { discover, type Discovered } from "../client/discover.js";
import { visibleJson } from "../protocol/visible-text.js";

export interface Ctx {
  json: boolean;
  home: string;
  start: boolean;
  values: Record<string, string | boolean | undefined>;
  args: string[];
}

export type Command = (ctx: Ctx) => Promise<number>;

/** The options a command takes, as node:util parseArgs spells them. */
export type OptionSpecs = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;

/** One `switchboard` command: its help text, options and argument counts beside its handler. */
export interface CommandSpec {
  name: string;
  /** Lines for `switchboard --help`, each "  usage    what it does". */
  usage: string;
  /** Options this command takes besides the global ones (--json, --home, --no-start). */
  options?: OptionSpecs;
  /** How many arguments it takes, or per subcommand how many follow the subcommand; more is a usage error. */
  maxArgs?: number | Record<string, number>;
  run: Command;
}

/** Wrong usage: printed with a hint to --help, exit 2. */
export class UsageError extends Error {}
/** A user-facing failure that is not about usage: printed as a sentence, exit 1. */
export class CliError extends Error {}

export async function connect(ctx: Ctx): Promise<Discovered> {
  try {
    return await discover({ home: ctx.home, spawn: ctx.start, timeoutMs: 5000 });
  } catch (e) {
    // The state folder cannot be used (it is a file, or not writable): say which, without a stack trace.
    if (typeof (e as NodeJS.ErrnoException)?.syscall === "string") throw new CliError(`The state folder ${ctx.home} cannot be used: ${(e as Error).message}.`);
    throw e;
  }
}

export async function api(ctx: Ctx): Promise<BrokerApi> {
  return new BrokerApi((await connect(ctx)).record);
}

export function out(text: string): void {
  process.stdout.write(text + "\n");
}

export function err(text: string): void {
  process.stderr.write(text + "\n");
}

/** JSON for the terminal: the same value, with C1, bidi and invisible characters escaped too (visibleJson). */
export function json(value: unknown): number {
  out(visibleJson(value, 2));
  return 0;
}

/** An open session by endpoint id, or by a name that only one session has. */
export function resolveSession<T extends { endpoint_id: string; label: string; session_name: string | null }>(endpoints: T[], name: string): T {
  const byId = endpoints.find((e) => e.endpoint_id === name);
  if (byId) return byId;
  const matches = endpoints.filter((e) => e.session_name === name || e.label === name);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new CliError(`${matches.length} open sessions are named "${name}"; use an endpoint id: ${matches.map((m) => m.endpoint_id).join(", ")}.`);
  throw new CliError(`No open session is named "${name}". List them with: switchboard sessions`);
}
