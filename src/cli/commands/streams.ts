// `switchboard streams`: list output streams, show one (replay, then live), cancel one.
import { followStream } from "../../client/follow.js";
import { CliError, UsageError, api, connect, json, out, type CommandSpec, type Ctx } from "../context.js";
import { ago, preview, streamStatus, table } from "../format.js";

async function streams(ctx: Ctx): Promise<number> {
  const [sub = "list", id] = ctx.args;
  if (sub === "list") {
    const all = await (await api(ctx)).streams();
    if (ctx.json) return json(all);
    if (!all.length) return (out("No output streams yet. Run a command with: switchboard run -- CMD"), 0);
    out(
      table(
        all.map((s) => [s.stream_id, s.action, streamStatus(s), preview(s.session, 30), ago(s.created_at), preview(s.command, 50)]),
        ["ID", "ACTION", "STATUS", "SESSION", "STARTED", "COMMAND"],
      ),
    );
    return 0;
  }
  if (sub !== "show" && sub !== "cancel") throw new UsageError(`Unknown streams command "${sub}"; use list, show or cancel.`);
  if (!id) throw new UsageError(`Usage: switchboard streams ${sub} ID`);
  if (sub === "show") {
    const found = await connect(ctx);
    if (ctx.json) return json(await (await api(ctx)).replayStream(id));
    // Replays everything, then follows until the stream ends; stdout and stderr go to ours.
    const following = followStream(found.record, id, {
      onChunk: (channel, data) => (channel === 2 ? process.stderr : process.stdout).write(data),
    });
    // An unknown stream or a lost connection is a sentence, not a stack trace.
    const end = await following.done.catch((e: Error) => Promise.reject(new CliError(e.message)));
    process.stderr.write(`[${streamStatus(end)}]\n`);
    return 0;
  }
  // cancel
  const s = await (await api(ctx)).cancelStream(id, typeof ctx.values.reason === "string" ? ctx.values.reason : "cancelled from the CLI");
  if (ctx.json) return json(s);
  out(`Stream ${id} is ${streamStatus(s)}.`);
  return 0;
}

export const spec: CommandSpec = {
  name: "streams",
  usage: `  streams [list]                   Running and recent output streams
  streams show ID                  Print a stream's output (replay, then live) until it ends
  streams cancel ID [--reason R]   Ask the producer to stop the command`,
  options: { reason: { type: "string" } },
  maxArgs: { list: 0, show: 1, cancel: 1 },
  run: streams,
};
