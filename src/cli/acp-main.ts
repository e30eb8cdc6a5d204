// `switchboard acp` alone (dist/acp.js), the entry VS Code's New Agent Session… starts:
//   node dist/acp.js [--session NAME] -- CMD ARGS…   (= switchboard acp [--session NAME] -- CMD ARGS…)
// A session lives as long as its agent, one process each, so it loads only what `acp` needs: half of
// dist/cli.js (no policy engine, installers or other commands) for less resident memory
// (bench/acp.ts). The same command, options and exit codes as `switchboard acp`.
import { spec } from "./commands/acp.js";
import { runCli } from "./dispatch.js";

// Only for starting VS Code's runtime as Node: not for the agent, which inherits our environment.
// (A broker we start gets it back from discover.ts when it is needed.)
delete process.env.ELECTRON_RUN_AS_NODE;
runCli(["acp", ...process.argv.slice(2)], [spec]);
