// The output streams of approved Bash calls. Claude Code runs its Bash commands itself, in one shell
// that keeps `cd` and `export` between calls, so Switchboard does not touch them: when a call is
// approved a stream opens (linked to the approval, so VS Code shows its terminal at once), and when
// Claude's PostToolUse(Failure) hook reports how the call ended, the output Claude got and its exit
// status are published (tool-outcome.ts). The stream is `cancellable: false`: nothing here can stop
// a command Claude runs, and the broker refuses a Stop instead of pretending.
import { type FileHandle, open } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import type { BrokerClient } from "../../client/client.js";
import type { Approval } from "../../protocol/index.js";
import type { ClaudeHookEvent } from "./protocol.js";
import { bashOutcome } from "./tool-outcome.js";

const CHUNK_CHARS = 64 * 1024;

/** What the terminal header says: this output is not live, and how Claude Code hands it over. */
export const STREAM_NOTE =
  "Claude Code runs this command itself: its output appears here when the call ends, as Claude Code reports it (it gives stdout and stderr as one text, shown as stdout). Stop it in Claude Code (Esc).";

interface OpenStream {
  /** The stream's id once the broker made it (undefined if it could not). */
  stream: Promise<string | undefined>;
  startedAt: number;
}

export interface StreamHost {
  client(): BrokerClient | undefined;
  endpointId(): string | undefined;
  log(msg: string): void;
}

export class BashStreams {
  private readonly open = new Map<string, OpenStream>();

  constructor(private readonly host: StreamHost) {}

  /** Opens the approved call's stream without making Claude wait for it: the output waits for the stream instead. */
  start(client: BrokerClient, approval: Approval, action: "sh" | "env", command: string, cwd: string, toolUseId: string): void {
    const stream = client
      .brokerApi("output_streams_v1")
      .then((api) =>
        api.startStream({
          endpoint_id: client.resolveEndpointId(this.host.endpointId()!),
          action,
          command: command || "(empty command)",
          cwd,
          approval_id: approval.approval_id,
          note: STREAM_NOTE,
          output_merged: true,
          cancellable: false,
        }),
      )
      .then(
        (view) => view.stream_id,
        (err: unknown) => {
          this.host.log(`no stream for ${toolUseId}: ${(err as Error)?.message ?? String(err)}`);
          return undefined;
        },
      );
    this.open.set(toolUseId, { stream, startedAt: Date.now() });
  }

  /** PostToolUse(Failure) of a Bash call: the output Claude got, then how the call ended. Never throws. */
  async finish(e: ClaudeHookEvent): Promise<void> {
    const id = typeof e.tool_use_id === "string" ? e.tool_use_id : "";
    const open = this.open.get(id);
    const client = this.host.client();
    if (!open || !client) return;
    this.open.delete(id);
    const streamId = await open.stream;
    if (!streamId) return;
    const pid = client.pluginPid;
    const { chunks, end, fullOutput } = bashOutcome(e);
    const duration_ms = typeof e.duration_ms === "number" && e.duration_ms >= 0 ? e.duration_ms : Date.now() - open.startedAt;
    try {
      const api = await client.brokerApi("output_streams_v1");
      const append = (channel: 1 | 2, data: string) => api.appendChunks(streamId, [{ channel, data }], pid);
      // The whole output Claude saved, rather than the part it kept in the result (the cut stdout stays the fallback).
      const sent = fullOutput ? await sendFile(fullOutput, (data) => append(1, data)) : false;
      for (const c of chunks) {
        if (sent && c.channel === 1) continue;
        for (let i = 0; i < c.data.length; i += CHUNK_CHARS) await append(c.channel, c.data.slice(i, i + CHUNK_CHARS));
      }
      if (end.kind === "complete") await api.completeStream(streamId, { exit_code: end.exitCode, duration_ms, ...(end.reason ? { reason: end.reason } : {}) }, pid);
      else await api.abortStream(streamId, end.reason, pid, { duration_ms, ...(end.exitCode !== undefined ? { exit_code: end.exitCode } : {}) });
    } catch (err) {
      this.host.log(`publishing ${streamId} failed: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  /** Ends every stream still open (Claude's turn or session ended without a result for it). */
  endAll(reason: string): void {
    const client = this.host.client();
    for (const [id, s] of this.open) {
      this.open.delete(id);
      if (client)
        void s.stream
          .then(async (streamId) => {
            if (streamId) await (await client.brokerApi("output_streams_v1")).abortStream(streamId, reason, client.pluginPid);
          })
          .catch(() => {});
    }
  }
}

/** Streams a file's text in pieces cut on character boundaries, ending with a newline; false if it cannot be opened. */
async function sendFile(path: string, send: (data: string) => Promise<unknown>): Promise<boolean> {
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch {
    return false;
  }
  try {
    const decoder = new StringDecoder("utf8");
    let last = "";
    for await (const buf of file.createReadStream({ highWaterMark: CHUNK_CHARS, autoClose: false })) {
      const text = decoder.write(buf as Buffer);
      if (text) await send((last = text));
    }
    const rest = decoder.end();
    if (rest) await send((last = rest));
    if (last && !last.endsWith("\n")) await send("\n");
    return true;
  } finally {
    await file.close().catch(() => {});
  }
}
