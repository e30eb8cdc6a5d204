// `switchboard status`: the broker's address, version and counts (starting it unless --no-start).
import { BrokerApi } from "../../client/api.js";
import { connect, out, type CommandSpec, type Ctx } from "../context.js";
import { ago } from "../format.js";

async function status(ctx: Ctx): Promise<number> {
  const found = await connect(ctx);
  const api = new BrokerApi(found.record);
  const [endpoints, inbox] = await Promise.all([api.endpoints(), api.undispatched(process.pid)]);
  const status = {
    ipcUrl: found.record.ipcUrl,
    pid: found.record.pid,
    startedAt: found.record.startedAt,
    version: found.health.version,
    protocolVersion: found.health.protocol_version,
    spawned: found.spawned,
    sessions: endpoints.length,
    inbox: inbox.length,
    home: ctx.home,
    discoveryFile: found.discoveryFile,
    logFile: found.logFile ?? null,
  };
  if (ctx.json) return out(JSON.stringify(status, null, 2)), 0;
  out(
    [
      `Broker ${found.spawned ? "started" : "running"} at ${status.ipcUrl} (pid ${status.pid}, up since ${ago(status.startedAt)})`,
      `Version ${status.version}, protocol ${status.protocolVersion}`,
      `${status.sessions} open session${status.sessions === 1 ? "" : "s"}, ${status.inbox} message${status.inbox === 1 ? "" : "s"} in the inbox`,
      `State folder ${status.home}`,
      ...(status.logFile ? [`Log ${status.logFile}`] : []),
    ].join("\n"),
  );
  return 0;
}

export const spec: CommandSpec = {
  name: "status",
  usage: `  status                           Show the broker's address, version and counts`,
  maxArgs: 0,
  run: status,
};
