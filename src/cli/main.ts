// The `switchboard` command (dist/cli.js): every command, parsed and dispatched by dispatch.ts.
import { COMMANDS } from "./commands/index.js";
import { runCli } from "./dispatch.js";

runCli(process.argv.slice(2), COMMANDS);
