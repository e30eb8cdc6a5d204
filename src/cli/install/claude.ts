// `switchboard install claude [--project DIR | --user] [--uninstall]`: merges Switchboard's hooks into
// Claude Code's settings (`DIR/.claude/settings.local.json`, or `~/.claude/settings.json`), so that every
// `claude` started there is a Switchboard session. Idempotent; --uninstall removes only Switchboard's
// entries. --home bakes a broker state folder into the hook command.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hookCommand, installClaudeHooks, settingsPath } from "../../adapters/claude/install.js";
import { CliError, UsageError, json, out, type Command } from "../context.js";

export const USAGE = "Usage: switchboard install claude [--project DIR | --user] [--home DIR] [--uninstall]";

declare const __filename: string | undefined;

/** dist/claude-hook.js: beside this bundle (dist/cli.js), or the repository's dist when run from source. */
export function claudeHookEntry(): string {
  const here = dirname(typeof __filename === "string" ? __filename : fileURLToPath(import.meta.url));
  const candidates = [join(here, "claude-hook.js"), join(here, "..", "..", "..", "dist", "claude-hook.js")];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new CliError(`The Claude Code hook bundle is missing (looked for ${candidates.join(" and ")}); build Switchboard with npm run build.`);
  return found;
}

export const installClaude: Command = async (ctx) => {
  if (ctx.args.length > 1) throw new UsageError(USAGE);
  const project = typeof ctx.values.project === "string" ? ctx.values.project : undefined;
  if (project !== undefined && ctx.values.user) throw new UsageError(`--project and --user exclude each other. ${USAGE}`);
  if (project === undefined && !ctx.values.user) throw new UsageError(`Say where: --project DIR (DIR/.claude/settings.local.json) or --user (~/.claude/settings.json). ${USAGE}`);
  const file = settingsPath(project !== undefined ? { project } : { user: true });
  const home = typeof ctx.values.home === "string" ? ctx.values.home : undefined;
  const uninstall = !!ctx.values.uninstall;
  const hookEntry = uninstall ? "" : claudeHookEntry();
  const shellEntry = join(dirname(hookEntry), "claude-hook.sh");
  const command = uninstall ? "" : hookCommand({ hookEntry, home, ...(process.platform !== "win32" && existsSync(shellEntry) ? { shellEntry } : {}) });
  const res = await installClaudeHooks(file, command, { uninstall }).catch((e: Error) => Promise.reject(new CliError(e.message)));
  if (ctx.json) return json({ ...res, command: command || undefined });
  if (uninstall) out(res.changed ? `Removed Switchboard's hooks from ${file}.` : `${file} holds no Switchboard hooks; nothing to remove.`);
  else
    out(
      [
        res.changed ? `${res.created ? "Created" : "Updated"} ${file} with Switchboard's hooks.` : `${file} already has Switchboard's hooks; nothing changed.`,
        `Every claude started ${project !== undefined ? `in ${project}` : "as this user"} is now a Switchboard session: Bash, Write and Edit calls wait for approval in VS Code.`,
        `Without a broker those calls are denied; set SWITCHBOARD_CLAUDE_OFFLINE=allow to let them run unreviewed instead.`,
      ].join("\n"),
    );
  return 0;
};
