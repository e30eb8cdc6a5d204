// `switchboard install pi`: puts the Switchboard extension into pi's extensions folder, so that every
// pi session registers with the broker, asks for approvals and streams its commands.
//   switchboard install pi [--dir EXTENSIONS_DIR] [--home DIR] [--uninstall] [--json]
// --home bakes a broker state folder into the extension (default: $SWITCHBOARD_HOME or the per-user
// data folder, decided when pi starts).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { installPiExtension, uninstallPiExtension } from "../../adapters/pi/install.js";
import { SWITCHBOARD_VERSION } from "../../protocol/index.js";
import { CliError, UsageError, json, out, type Command } from "../context.js";

export const USAGE = "Usage: switchboard install pi [--dir EXTENSIONS_DIR] [--home DIR] [--uninstall]";

/** dist/pi-extension.js: beside this bundle (dist/cli.js), or the repository's dist when run from source. */
export function piExtensionBundle(): string {
  const here = dirname(typeof __filename === "string" ? __filename : fileURLToPath(import.meta.url));
  const candidates = [join(here, "pi-extension.js"), join(here, "..", "..", "..", "dist", "pi-extension.js")];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new CliError(`The pi extension bundle is missing (looked for ${candidates.join(" and ")}); build Switchboard with npm run build.`);
  return found;
}

declare const __filename: string | undefined;

export const installPi: Command = async (ctx) => {
  if (ctx.args.length > 1) throw new UsageError(USAGE);
  const dir = typeof ctx.values.dir === "string" ? ctx.values.dir : undefined;
  if (ctx.values.uninstall) {
    const res = await uninstallPiExtension(dir ? { extensionsDir: dir } : {}).catch((e: Error) => Promise.reject(new CliError(e.message)));
    if (ctx.json) return json(res);
    out(res.removed ? `Removed the Switchboard extension for pi from ${res.folder}.` : `The Switchboard extension for pi is not installed (${res.folder} does not exist).`);
    return 0;
  }
  const home = typeof ctx.values.home === "string" ? ctx.values.home : undefined;
  const res = await installPiExtension({
    bundle: piExtensionBundle(),
    version: SWITCHBOARD_VERSION,
    ...(dir ? { extensionsDir: dir } : {}),
    ...(home ? { options: { home } } : {}),
  }).catch((e: Error) => Promise.reject(new CliError(e.message)));
  if (ctx.json) return json(res);
  out(
    [
      `${res.replaced ? "Updated" : "Installed"} the Switchboard extension for pi in ${res.folder}.`,
      `It loads ${res.bundle}; run this command again after moving or upgrading Switchboard.`,
      `Every new pi session now registers with Switchboard and asks for approval before bash, write and edit calls${home ? ` (broker state folder ${home})` : ""}.`,
      `Without a broker those calls are blocked; set SWITCHBOARD_PI_OFFLINE=allow to let them run unreviewed instead.`,
    ].join("\n"),
  );
  return 0;
};
