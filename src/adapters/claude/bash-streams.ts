// The output streams of approved Bash calls. Claude Code runs its Bash commands itself, in one shell
// that keeps `cd` and `export` between calls, so Switchboard does not touch them: when a call is
// approved a stream opens (linked to the approval, so VS Code shows its terminal at once); where the
// command's output file can be followed (live-output.ts, Linux) what it writes is copied as it comes;
// when Claude's PostToolUse(Failure) hook reports how the call ended, the rest of the output and the
// exit status are published (tool-outcome.ts). The stream is `cancellable: false`: nothing here can
// stop a command Claude runs, and the broker refuses a Stop instead of pretending.
import { type FileHandle, open } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import type { BrokerClient } from "../../client/client.js";
import type { Approval } from "../../protocol/index.js";
import { commandShells, OutputTail, runsCommand } from "./live-output.js";
import type { ClaudeHookEvent } from "./protocol.js";
import { bashOutcome } from "./tool-outcome.js";

const CHUNK_CHARS = 64 * 1024;
const FIND_EVERY_MS = 20;

/** What the terminal header says: who runs the command, how its output arrives, and where to stop it. */
export const STREAM_NOTE =
  "Claude Code runs this command itself (stop it there: Esc). Its output appears as it is written when Switchboard can follow it (Linux), else when the call ends.";

interface OpenStream {
  /** The stream's id once the broker made it (undefined if it could not). */
  stream: Promise<string | undefined>;
  startedAt: number;
  command: string;
  /** The session's command output files that existed when the call was approved (not this call's); none: not looking. */
  before?: Set<string>;
  /** Following this call's output file. */
  tail?: Promise<OutputTail | undefined>;
}

export interface StreamHost {
  client(): BrokerClient | undefined;
  endpointId(): string | undefined;
  claudePid: number;
  sessionId: string;
  log(msg: string): void;
}

export class BashStreams {
  private readonly open = new Map<string, OpenStream>();
  private readonly claimed = new Set<string>();
  private finder: NodeJS.Timeout | undefined;

  constructor(private readonly host: StreamHost) {}

  /**
   * Opens the approved call's stream without making Claude wait for it: the output waits for the
   * stream instead. Called before Claude hears "allow", so the command's output file is not there yet.
   */
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
    const before = process.platform === "linux" && this.host.claudePid > 1 && command ? this.shellFiles() : undefined;
    this.open.set(toolUseId, { stream, startedAt: Date.now(), command, ...(before ? { before } : {}) });
    if (before) this.finder ??= setInterval(() => this.find(client), FIND_EVERY_MS);
  }

  private shellFiles(): Set<string> {
    return new Set(commandShells(this.host.claudePid, this.host.sessionId).map((c) => c.file));
  }

  /**
   * Gives each waiting call its output file: a new one whose shell evals exactly that command, when
   * exactly one such file and one such waiting call are there (the same command twice at once: neither).
   */
  private find(client: BrokerClient): void {
    const waiting = [...this.open.values()].filter((o) => o.before && !o.tail);
    if (!waiting.length) return this.stopFinding();
    const shells = commandShells(this.host.claudePid, this.host.sessionId).filter((c) => !this.claimed.has(c.file));
    for (const o of waiting) {
      const mine = shells.filter((c) => !o.before!.has(c.file) && runsCommand(c.cmdline, o.command));
      if (mine.length !== 1 || waiting.some((x) => x !== o && x.command === o.command)) continue;
      const file = mine[0]!.file;
      this.claimed.add(file);
      o.tail = OutputTail.open(file, async (text) => {
        const id = await o.stream;
        if (id) await (await client.brokerApi("output_streams_v1")).appendChunks(id, [{ channel: 1, data: text }], client.pluginPid);
      });
    }
  }

  private stopFinding(): void {
    clearInterval(this.finder);
    this.finder = undefined;
  }

  private forget(toolUseId: string): OpenStream | undefined {
    const o = this.open.get(toolUseId);
    this.open.delete(toolUseId);
    if (![...this.open.values()].some((x) => x.before && !x.tail)) this.stopFinding();
    return o;
  }

  /** PostToolUse(Failure) of a Bash call: the output (what is left of it), then how the call ended. Never throws. */
  async finish(e: ClaudeHookEvent): Promise<void> {
    const id = typeof e.tool_use_id === "string" ? e.tool_use_id : "";
    const client = this.host.client();
    if (!this.open.has(id) || !client) return;
    const open = this.forget(id)!;
    const tail = await open.tail;
    // Followed live: the file holds all the command wrote (more than Claude keeps of a large output).
    const copied = tail ? await tail.finish() : 0;
    const streamId = await open.stream;
    if (!streamId) return;
    const pid = client.pluginPid;
    const { chunks, end, fullOutput } = bashOutcome(e);
    const duration_ms = typeof e.duration_ms === "number" && e.duration_ms >= 0 ? e.duration_ms : Date.now() - open.startedAt;
    try {
      const api = await client.brokerApi("output_streams_v1");
      const append = (channel: 1 | 2, data: string) => api.appendChunks(streamId, [{ channel, data }], pid);
      if (copied > 0) this.host.log(`${id}: ${copied} bytes of output followed live`);
      // Else the whole output Claude saved, rather than the part it kept in the result (the cut stdout stays the fallback).
      const sent = copied > 0 || (fullOutput ? await sendFile(fullOutput, (data) => append(1, data)) : false);
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
    for (const id of [...this.open.keys()]) {
      const s = this.forget(id)!;
      void s.tail?.then((t) => t?.finish());
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
