// Where things are in this repository, for tests and benches alike (one place, not one per file).
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root folder (with a trailing slash). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The bundled broker daemon and CLI, built by `npm run build`. */
export const BROKER_ENTRY = join(ROOT, "dist/broker.js");
export const CLI_ENTRY = join(ROOT, "dist/cli.js");
/** The packaged extension, made by `npm run package`. */
export const VSIX = join(ROOT, "agent-switchboard.vsix");
