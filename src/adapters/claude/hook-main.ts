// dist/claude-hook.js: what `switchboard install claude` puts in Claude Code's settings. The same as
// `switchboard hook claude`, in a bundle without the rest of the CLI, because it runs for every tool call.
//   node dist/claude-hook.js [--home DIR] [--hook-timeout SECONDS]
import { hookMain } from "./hook.js";

const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const timeout = Number(arg("hook-timeout"));
// hookMain never rejects; it chooses the exit code (2 only ever for PreToolUse).
void hookMain({ home: arg("home"), hookTimeoutS: Number.isFinite(timeout) && timeout > 0 ? timeout : undefined }).then((code) => process.exit(code));
