// `switchboard sessions`: the open sessions (endpoints) the broker knows.
import { BrokerApi } from "../../client/api.js";
import { connect, out, json, type CommandSpec, type Ctx } from "../context.js";
import { ago, preview, table, workspaceLabel } from "../format.js";

/** A connected session is there now; only one that is away has a "last seen". */
function seen(e: { state: string; last_seen_at: string }): string {
  return e.state === "active" ? "now" : ago(e.last_seen_at);
}

async function sessions(ctx: Ctx): Promise<number> {
  const api = new BrokerApi((await connect(ctx)).record);
  const endpoints = await api.endpoints();
  if (ctx.json) return json(endpoints);
  if (!endpoints.length) return (out("No open sessions. Start an agent with the Switchboard adapter, or open a VS Code window with the extension."), 0);
  out(
    table(
      endpoints.map((e) => [preview(e.label, 40), preview(e.kind, 20), e.state, workspaceLabel(e.workspace), e.task_hint ? preview(e.task_hint, 40) : "-", seen(e), e.endpoint_id]),
      ["SESSION", "KIND", "STATE", "WORKSPACE", "TASK", "SEEN", "ID"],
    ),
  );
  return 0;
}

export const spec: CommandSpec = {
  name: "sessions",
  usage: `  sessions                         List open sessions (endpoints)`,
  maxArgs: 0,
  run: sessions,
};
