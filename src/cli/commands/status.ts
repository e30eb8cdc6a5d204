// `switchboard status`: the broker's address, version and counts (starting it unless --no-start).
import { BrokerApi } from "../../client/api.js";
import { connect, err, out, json, type CommandSpec, type Ctx } from "../context.js";
import { SWITCHBOARD_VERSION } from "../../protocol/index.js";
import { ago, shown } from "../format.js";

async function status(ctx: Ctx): Promise<number> {
  const found = await connect(ctx);
  const api = new BrokerApi(found.record);
  const [endpoints, inbox, init] = await Promise.all([api.endpoints(), api.undispatched(process.pid), api.initialize("switchboard-cli", SWITCHBOARD_VERSION)]);
  // Problems the broker wants the user to hear about (a broken audit chain): loudly, on stderr too.
  const warnings = init.warnings ?? [];
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
    warnings,
  };
  for (const w of warnings) err(`switchboard: WARNING: ${shown(w.message)}`);
  if (ctx.json) return json(status);
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
