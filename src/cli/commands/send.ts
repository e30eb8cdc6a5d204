// `switchboard send`: send a message to a session, or to the inbox when no session is named.
import { BrokerApi } from "../../client/api.js";
import { UsageError, connect, out, json, type CommandSpec, type Ctx } from "../context.js";

async function send(ctx: Ctx): Promise<number> {
  const text = ctx.args.join(" ");
  if (!text) throw new UsageError("send needs the message text: switchboard send [--to SESSION] TEXT");
  const api = new BrokerApi((await connect(ctx)).record);
  const res = await api.ingress({
    from: (ctx.values.from as string | undefined) ?? "cli",
    content: text,
    ...(ctx.values.to ? { to: ctx.values.to as string } : {}),
  });
  if (ctx.json) return json(res);
  const where =
    res.status === "undispatched"
      ? `waits in the inbox; route it from the Switchboard sidebar or with: switchboard inbox route ${res.undispatched_id} SESSION`
      : res.status === "delivered"
        ? `was delivered to ${res.target_endpoint_id}`
        : `is stored for ${res.target_endpoint_id} until it reconnects`;
  out(`Message ${res.messageId} ${where}.`);
  return 0;
}

export const spec: CommandSpec = {
  name: "send",
  usage: `  send [--to SESSION] TEXT         Send a message; without --to it waits in the inbox`,
  options: { to: { type: "string" }, from: { type: "string" } },
  run: send,
};
