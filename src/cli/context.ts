// What every CLI command shares: parsed options, output helpers, error types, and finding the broker.
import { BrokerApi } from "../client/api.js";
import { discover, type Discovered } from "../client/discover.js";

export interface Ctx {
  json: boolean;
  home: string;
  start: boolean;
  values: Record<string, string | boolean | undefined>;
  args: string[];
}

export type Command = (ctx: Ctx) => Promise<number>;

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

export function json(value: unknown): number {
  out(JSON.stringify(value, null, 2));
  return 0;
}
