// `switchboard inbox`: the undispatched messages: list them, route one to a session, dismiss one.
import { BrokerApi } from "../../client/api.js";
import { UsageError, connect, out, resolveSession, json, type CommandSpec, type Ctx } from "../context.js";
import { ago, preview, shown, table } from "../format.js";

async function inbox(ctx: Ctx): Promise<number> {
  const [sub = "list", ...rest] = ctx.args;
  const api = new BrokerApi((await connect(ctx)).record);
  if (sub === "list") {
    const items = await api.undispatched(process.pid);
    if (ctx.json) return json(items);
    if (!items.length) return (out("The inbox is empty."), 0);
    out(
      table(
        items.map((i) => [preview(i.id, 40), preview(i.sender_address, 30), ago(i.arrived_at), i.reason, preview(i.content)]),
        ["ID", "FROM", "ARRIVED", "REASON", "MESSAGE"],
      ),
    );
    return 0;
  }
  if (sub === "route") {
    const [id, session] = rest;
    if (!id || !session) throw new UsageError("Usage: switchboard inbox route ID SESSION");
    const target = resolveSession(await api.endpoints(), session);
    const res = await api.dispatch(id, target.endpoint_id);
    if (ctx.json) return json(res);
    out(
      `Routed ${shown(id)} to ${shown(target.label)} (${target.endpoint_id})${res.status === "delivered" ? "; it was delivered" : "; it will be delivered when the session reconnects"}.`,
    );
    return 0;
  }
  if (sub === "dismiss") {
    const [id] = rest;
    if (!id) throw new UsageError("Usage: switchboard inbox dismiss ID [--reason TEXT]");
    await api.dismiss(id, ctx.values.reason as string | undefined);
    if (ctx.json) return json({ ok: true, id });
    out(`Dismissed ${id}.`);
    return 0;
  }
  throw new UsageError(`Unknown inbox command "${sub}"; use list, route or dismiss.`);
}

export const spec: CommandSpec = {
  name: "inbox",
  usage: `  inbox [list]                     List undispatched messages
  inbox route ID SESSION           Route an inbox item to an open session (name or endpoint id)
  inbox dismiss ID [--reason R]    Remove an inbox item`,
  options: { reason: { type: "string" } },
  maxArgs: { list: 0, route: 2, dismiss: 1 },
  run: inbox,
};
