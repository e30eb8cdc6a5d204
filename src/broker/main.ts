// Entry point of the broker daemon (dist/broker.js).
import { parseArgs } from "node:util";
import { stateHome } from "../platform/paths.js";
import { startDaemon } from "./daemon.js";
import { storageError } from "./storage-errors.js";
import { limitsFromEnv } from "./limits.js";

const { values } = parseArgs({
  options: {
    foreground: { type: "boolean", default: false },
    home: { type: "string" },
    port: { type: "string" },
    "idle-exit-minutes": { type: "string" },
  },
  strict: true,
});

const num = (v: string | undefined) => (v === undefined || v === "" ? undefined : Number(v));
const env = process.env;

// Signal handlers go in before the daemon starts: its discovery record and /health answer before
// startDaemon returns, and a SIGTERM in that window would otherwise end the process at once (no
// final compaction, the record and the spawn lock left behind). A signal that early stops it once it is up.
let stopDaemon: ((sig: string) => void) | undefined;
let earlySignal: string | undefined;
const onSignal = (sig: string) => (stopDaemon ? stopDaemon(sig) : (earlySignal ??= sig));
process.on("SIGTERM", () => onSignal("SIGTERM"));
process.on("SIGINT", () => onSignal("SIGINT"));
process.on("SIGHUP", () => {}); // a detached broker outlives the terminal that started it

try {
  const result = await startDaemon({
    home: values.home ?? stateHome(),
    port: num(values.port ?? env.SWITCHBOARD_PORT),
    idleExitMinutes: num(values["idle-exit-minutes"] ?? env.SWITCHBOARD_IDLE_EXIT_MINUTES),
    spawnNonce: env.SWITCHBOARD_SPAWN_NONCE || undefined,
    admission: {
      ...(num(env.SWITCHBOARD_UNAUTH_MAX) !== undefined ? { max: num(env.SWITCHBOARD_UNAUTH_MAX) } : {}),
      ...(num(env.SWITCHBOARD_UNAUTH_TIMEOUT_MS) !== undefined ? { deadlineMs: num(env.SWITCHBOARD_UNAUTH_TIMEOUT_MS) } : {}),
    },
    unixSocket: env.SWITCHBOARD_UNIX_SOCKET !== "0",
    limits: limitsFromEnv(env),
    logToStderr: values.foreground,
    ...(num(env.SWITCHBOARD_STREAM_CAP_BYTES) !== undefined ? { streamLimits: { fileCapBytes: num(env.SWITCHBOARD_STREAM_CAP_BYTES)! } } : {}),
    config: {
      ...(num(env.SWITCHBOARD_GRACE_MS) !== undefined ? { graceMs: num(env.SWITCHBOARD_GRACE_MS) } : {}),
      ...(num(env.SWITCHBOARD_INBOX_MAX) !== undefined ? { inboxMax: num(env.SWITCHBOARD_INBOX_MAX) } : {}),
    },
  });
  if (result.kind === "already_running") {
    process.stdout.write(`A broker is already running at ${result.record.ipcUrl} (pid ${result.record.pid}).\n`);
    process.exit(0);
  }
  const { daemon } = result;
  stopDaemon = (sig) => void daemon.stop(sig);
  if (earlySignal) stopDaemon(earlySignal);
  process.on("uncaughtException", (err) => process.stderr.write(`uncaught: ${err?.stack ?? err}\n`));
  process.on("unhandledRejection", (err) => process.stderr.write(`unhandled rejection: ${String(err)}\n`));
  process.stdout.write(`Broker listening at ${daemon.record.ipcUrl} (pid ${process.pid}, home ${daemon.paths.home}).\n`);
  await daemon.stopped;
  process.exit(0);
} catch (err) {
  // A state folder that takes no writes is the usual reason; say so in words, then the details.
  const storage = storageError(err);
  const why = storage
    ? `cannot start: ${storage.code === "storage_full" ? "the state folder is full" : storage.code === "storage_read_only" ? "the state folder is read-only" : "the state folder cannot be written"} (${(err as Error).message})`
    : (err as Error).message;
  process.stderr.write(`switchboard broker: ${why}\n`);
  process.exit(1);
}
