// `switchboard broker`: start the broker (detached, or in the foreground with --foreground) and show its status.
import { err, out, type CommandSpec, type Ctx } from "../context.js";
import { spec as statusSpec } from "./status.js";

async function broker(ctx: Ctx): Promise<number> {
  if (ctx.values.foreground) {
    const { startDaemon } = await import("../../broker/daemon.js");
    const result = await startDaemon({ home: ctx.home, logToStderr: true });
    if (result.kind === "already_running") {
      err(`switchboard: A broker is already running at ${result.record.ipcUrl} (pid ${result.record.pid}); stop it first to run one in the foreground.`);
      return 1;
    }
    out(`Broker listening at ${result.daemon.record.ipcUrl} (pid ${process.pid}). Press Ctrl+C to stop.`);
    const stop = (sig: string) => void result.daemon.stop(sig);
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
    await result.daemon.stopped;
    return 0;
  }
  return statusSpec.run({ ...ctx, start: true });
}

export const spec: CommandSpec = {
  name: "broker",
  usage: `  broker [--foreground]            Start the broker (detached unless --foreground) and show its status`,
  options: { foreground: { type: "boolean" } },
  maxArgs: 0,
  run: broker,
};
