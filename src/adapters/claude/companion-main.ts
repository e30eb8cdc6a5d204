// dist/claude-companion.js: started detached by the first hook of a Claude Code session (see companion.ts).
//   node claude-companion.js --session ID --claude-pid PID --home DIR --cwd DIR
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stateHome } from "../../platform/paths.js";
import { Companion } from "./companion.js";

const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const companion = new Companion({
  home: arg("home") ?? stateHome(),
  sessionId: arg("session") ?? "",
  claudePid: Number(arg("claude-pid")),
  cwd: arg("cwd") ?? process.cwd(),
  spawn: !["0", "false", "no", "off"].includes((process.env.SWITCHBOARD_CLAUDE_SPAWN ?? "").trim().toLowerCase()),
  brokerEntry: join(dirname(fileURLToPath(import.meta.url)), "broker.js"),
  sessionName: process.env.SWITCHBOARD_CLAUDE_SESSION?.trim() || undefined,
});
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(sig, () => void companion.stop(sig));
companion.start().catch((err: unknown) => {
  companion.log(`could not start: ${(err as Error)?.message ?? String(err)}`);
  process.exit(1);
});
