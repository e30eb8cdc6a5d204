// `switchboard run -- CMD ARGS…`: the universal gate. Ask for approval, then run the command here
// (--execute agent) with its output streamed to the broker and mirrored to this terminal, or let the
// approving VS Code window run it (--execute editor) and relay its output. Exit codes: the command's
// own, 128+signal when it was killed, 126 when the request was not approved, 130 on Ctrl+C.
import { BrokerClient } from "../../client/client.js";
import { BrokerError } from "../../client/errors.js";
import { followStream } from "../../client/follow.js";
import { StreamWriter } from "../../client/stream-writer.js";
import { execCommand, shellQuote, signalNumber } from "../../exec/index.js";
import { MESSAGES_CAPABILITY, SWITCHBOARD_VERSION, approvalOutcome, type Approval, type StreamView } from "../../protocol/index.js";
import { UsageError, err, type CommandSpec, type Ctx } from "../context.js";
import { shown, streamStatus } from "../format.js";

export const EXIT_NOT_APPROVED = 126;
export const EXIT_INTERRUPTED = 130;

export { shellQuote };

/**
 * The session name of a run without --session: what it runs (first line, spaces squashed, cut at 40
 * characters), so that sessions, cards and terminal tabs can be told apart; " (2)", " (3)"… when an
 * open session already has that name.
 */
export function runSessionName(command: string, taken: readonly string[]): string {
  const flat = (command.split("\n", 1)[0] ?? "").replace(/\s+/g, " ").trim() || "run";
  const base = flat.length > 40 ? `${flat.slice(0, 39)}…` : flat;
  const used = new Set(taken);
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) if (!used.has(`${base} (${n})`)) return `${base} (${n})`;
}

async function run(ctx: Ctx): Promise<number> {
  if (!ctx.args.length) throw new UsageError("Usage: switchboard run [--env] [--session NAME] [--summary TEXT] [--execute agent|editor] [--timeout S] -- CMD ARGS…");
  const command = ctx.args.length === 1 ? ctx.args[0]! : ctx.args.map(shellQuote).join(" ");
  const action = ctx.values.env ? "env" : "sh";
  const execute = (ctx.values.execute as string | undefined) ?? "agent";
  if (execute !== "agent" && execute !== "editor") throw new UsageError(`--execute must be agent or editor, not "${execute}".`);
  const timeoutS = ctx.values.timeout === undefined ? 0 : Number(ctx.values.timeout);
  if (!(timeoutS >= 0)) throw new UsageError("--timeout must be a number of seconds.");
  const cwd = process.cwd();

  const client = await BrokerClient.create({
    discover: { home: ctx.home, spawn: ctx.start, timeoutMs: 5000 },
    clientKind: "switchboard-cli",
    clientVersion: SWITCHBOARD_VERSION,
  });
  let interrupted = false;
  let onInterrupt = () => {};
  // Each phase installs what Ctrl+C does in it; a Ctrl+C that came before the phase began acts at once.
  const setInterrupt = (stop: () => void) => {
    onInterrupt = stop;
    if (interrupted) stop();
  };
  const sigint = () => {
    interrupted = true;
    onInterrupt();
  };
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigint);
  try {
    const given = ctx.values.session as string | undefined;
    const taken = given
      ? []
      : await (await client.brokerApi()).endpoints().then(
          (eps) => eps.map((e) => e.label),
          () => [],
        );
    const ep = await client.registerEndpoint({
      kind: "cli",
      session_name: given ?? runSessionName(command, taken),
      workspace: { root: cwd, cwd },
      task_hint: command,
      // It runs one command and reads no messages: the broker refuses to route any to it.
      runtime_capabilities: { [MESSAGES_CAPABILITY]: false },
    });
    const api = () => client.brokerApi("approvals_v1");
    const requested = await (await api()).requestApproval({
      endpoint_id: ep.endpointId,
      action,
      // Without --summary the command is the summary (notifications and the CLI show it); the
      // sidebar does not repeat it under the command.
      summary: (ctx.values.summary as string | undefined) ?? command,
      command,
      cwd,
      execute,
      ...(timeoutS ? { timeout_ms: Math.round(timeoutS * 1000) } : {}),
    });
    if (requested.state === "pending") {
      err(`switchboard: waiting for approval of ${action} \`${shown(command)}\` (${requested.approval_id}).`);
      err(`switchboard: approve it in the VS Code sidebar, or run: switchboard approvals approve ${requested.approval_id}`);
    }

    const decided = requested.state === "pending" ? await waitForDecision(requested, api, setInterrupt) : requested;
    // The approval policy decided it (before or while waiting): say which rule.
    if (decided?.state === "approved" && decided.decided_by?.startsWith("rule ")) err(`switchboard: approved by ${shown(decided.decided_by)}.`);
    if (!decided) {
      await (await api()).withdrawApproval(requested.approval_id, client.pluginPid).catch(() => {});
      err("switchboard: interrupted; the approval request was withdrawn.");
      return EXIT_INTERRUPTED;
    }
    if (decided.state !== "approved") {
      err(`switchboard: not run: the request was ${shown(approvalOutcome(decided).text)}.`);
      return EXIT_NOT_APPROVED;
    }
    if (interrupted) return EXIT_INTERRUPTED;
    return execute === "agent" ? await runHere(client, ep.endpointId, decided, command, cwd, setInterrupt) : await relayEditorRun(client, decided, api, setInterrupt);
  } finally {
    process.off("SIGINT", sigint);
    process.off("SIGTERM", sigint);
    await client.close();
  }
}

export const spec: CommandSpec = {
  name: "run",
  usage: `  run [options] -- CMD ARGS…       Ask for approval, then run CMD with its output streamed to VS Code
      --env                        Read-only command (asks as env instead of sh)
      --session NAME               Session name shown in VS Code
      --summary TEXT               What the approver sees (default: the command)
      --execute agent|editor       Run it here (default) or in the approving VS Code window
      --timeout S                  Give up if nobody decides within S seconds`,
  options: { env: { type: "boolean" }, session: { type: "string" }, summary: { type: "string" }, execute: { type: "string" }, timeout: { type: "string" } },
  run,
};

/** Long-polls until decided; resolves undefined if the user pressed Ctrl+C first. */
async function waitForDecision(a: Approval, api: () => Promise<import("../../client/api.js").BrokerApi>, setInterrupt: (f: () => void) => void): Promise<Approval | undefined> {
  let stopped = false;
  let wake: () => void = () => {};
  setInterrupt(() => {
    stopped = true;
    wake();
  });
  while (!stopped) {
    const poll = (async () => {
      try {
        return await (await api()).approval(a.approval_id, 25_000);
      } catch (e) {
        if (e instanceof BrokerError) throw e;
        await new Promise((r) => setTimeout(r, 250)); // the broker is restarting; the client reconnects
        return undefined;
      }
    })();
    const result = await Promise.race([poll, new Promise<undefined>((r) => (wake = () => r(undefined)))]);
    if (result && result.state !== "pending") return result;
  }
  return undefined;
}

async function runHere(client: BrokerClient, endpointId: string, a: Approval, command: string, cwd: string, setInterrupt: (f: () => void) => void): Promise<number> {
  const writer = await StreamWriter.start(
    { endpoint_id: endpointId, action: a.action === "env" ? "env" : "sh", command, cwd, approval_id: a.approval_id },
    {
      api: () => client.brokerApi("output_streams_v1"),
      pluginPid: client.pluginPid,
      frames: (frame, done) => client.sendStreamFrame(frame, done),
      onError: (e) => err(`switchboard: output is no longer streamed to the broker: ${e.message}`),
    },
  );
  let stopReason: "interrupted" | "cancelled" | undefined;
  const handle = execCommand({
    command,
    cwd,
    onOutput: (channel, text) => {
      (channel === 2 ? process.stderr : process.stdout).write(text);
      return writer.write(channel, text);
    },
  });
  writer.onDrain(function resume() {
    handle.resume();
    writer.onDrain(resume);
  });
  setInterrupt(() => {
    stopReason ??= "interrupted";
    void handle.stop("interrupted with Ctrl+C").catch(() => {});
  });
  const onFrame = (f: { event: string; stream_id?: unknown; reason?: unknown }) => {
    if (f.event === "stream_cancelled" && f.stream_id === writer.streamId) {
      stopReason ??= "cancelled";
      err(`switchboard: stopping: ${typeof f.reason === "string" ? shown(f.reason) : "cancelled from VS Code"}`);
      void handle.stop("cancelled by a viewer").catch(() => {});
    }
  };
  client.on("frame", onFrame);
  try {
    const result = await handle.done;
    if (stopReason === "interrupted") await writer.abort("interrupted with Ctrl+C", { exit_code: result.exit_code, signal: result.signal, duration_ms: result.duration_ms });
    else await writer.complete({ exit_code: result.exit_code, signal: result.signal, duration_ms: result.duration_ms });
    if (stopReason === "interrupted") return EXIT_INTERRUPTED;
    return result.code;
  } finally {
    client.off("frame", onFrame);
  }
}

/** --execute editor: the approving window runs the command; relay its stream here. */
async function relayEditorRun(
  client: BrokerClient,
  a: Approval,
  api: () => Promise<import("../../client/api.js").BrokerApi>,
  setInterrupt: (f: () => void) => void,
): Promise<number> {
  err("switchboard: approved; the VS Code window that approved it runs the command.");
  let streamId = a.stream_id;
  const deadline = Date.now() + 30_000;
  while (!streamId && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    streamId = (await (await api()).approval(a.approval_id)).stream_id;
  }
  if (!streamId) {
    err("switchboard: the approving window did not start the command within 30 s.");
    return 1;
  }
  const record = client.discovery!.record;
  const following = followStream(record, streamId, { onChunk: (channel, data) => (channel === 2 ? process.stderr : process.stdout).write(data) });
  setInterrupt(() => {
    void client
      .brokerApi("output_streams_v1")
      .then((x) => x.cancelStream(streamId!, "interrupted with Ctrl+C in the terminal that asked"))
      .catch(() => {});
  });
  const end: StreamView = await following.done;
  if (end.state === "completed") return end.signal ? 128 + (signalNumber(end.signal) ?? 0) : (end.exit_code ?? 1);
  err(`switchboard: the command ended: ${streamStatus(end)}.`);
  return end.signal ? 128 + (signalNumber(end.signal) ?? 0) : EXIT_INTERRUPTED;
}
