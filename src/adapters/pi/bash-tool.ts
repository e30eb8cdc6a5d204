// pi's `bash` tool with its execution replaced: pi's own tool definition (createBashToolDefinition),
// so pi's result, truncation and errors are unchanged, but an approved command runs through src/exec
// and streams stdout/stderr to the broker (bash.ts). A cancel from VS Code (stream_cancelled) stops it
// and pi is told so. A call without a grant from the gate (gate.ts) does not run.
import type { StreamEventFrame } from "../../client/client.js";
import { streamingBashOperations, type StreamedRun } from "./bash.js";
import type { PiConnection } from "./connection.js";
import type { PiGate } from "./gate.js";
import type { PiRuntime } from "./pi-runtime.js";
import type { PiSession } from "./session.js";

/** pi's shell settings (settings.json `shellPath`, `shellCommandPrefix`). */
export interface PiShell {
  path: string | undefined;
  prefix: string | undefined;
}

/**
 * pi started with `--no-builtin-tools` (and no `--tools` list naming bash): its bash tool was off, and
 * the adapter's replacement, being an extension tool, must not switch it back on.
 */
export function builtinBashDisabled(argv: readonly string[]): boolean {
  const namesBash = (list: string) =>
    list
      .split(",")
      .map((s) => s.trim())
      .includes("bash");
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === "--tools" || a === "-t") && argv[i + 1] !== undefined && namesBash(argv[i + 1]!)) return false;
    if (a.startsWith("--tools=") && namesBash(a.slice(8))) return false;
  }
  return argv.includes("--no-builtin-tools") || argv.includes("-nbt");
}

export class PiBashTool {
  /** Streamed commands by stream id, for stream_cancelled. */
  private readonly runs = new Map<string, StreamedRun>();

  constructor(
    private readonly session: PiSession,
    private readonly conn: PiConnection,
    private readonly gate: PiGate,
    private readonly shell: PiShell,
  ) {}

  /** Replaces pi's bash tool. */
  register(runtime: PiRuntime): void {
    const { session, shell } = this;
    const shellOpts = { ...(shell.prefix ? { commandPrefix: shell.prefix } : {}), ...(shell.path ? { shellPath: shell.path } : {}) };
    const base = runtime.createBashToolDefinition(process.cwd(), shellOpts);
    let shellFile: string | undefined;
    try {
      shellFile = runtime.getShellConfig?.(shell.path).shell;
    } catch {
      shellFile = undefined;
    }
    type Exec = typeof base.execute;
    const execute: Exec = async (toolCallId, params, signal, onUpdate, ctx) => {
      const grant = this.gate.takeGrant(toolCallId);
      if (!grant) throw new Error("Not run: this bash call was not approved through Switchboard.");
      if (grant.kind === "unsupervised") return runtime.createBashToolDefinition(ctx.cwd, shellOpts).execute(toolCallId, params, signal, onUpdate, ctx);
      if (params.command !== grant.command) throw new Error("Not run: the command was changed after it was approved.");
      const client = this.conn.client;
      const endpointId = this.conn.endpointId;
      if (!client || !endpointId) return runtime.createBashToolDefinition(ctx.cwd, shellOpts).execute(toolCallId, params, signal, onUpdate, ctx);
      const { operations, run } = streamingBashOperations({
        api: () => client.brokerApi("output_streams_v1"),
        pluginPid: client.pluginPid,
        frames: (frame, done) => client.sendStreamFrame(frame, done),
        endpointId: () => client.resolveEndpointId(endpointId),
        approvalId: grant.approval.approval_id,
        action: grant.action,
        displayCommand: grant.command || "(empty command)",
        shell: shellFile,
        onStreamStarted: (id, r) => this.runs.set(id, r),
        onStreamEnded: (id) => this.runs.delete(id),
        track: (p) => session.track(p),
        log: (m) => session.log(m),
      });
      try {
        session.log(`running ${toolCallId} for ${grant.approval.approval_id}`);
        return await runtime.createBashToolDefinition(ctx.cwd, { ...shellOpts, operations }).execute(toolCallId, params, signal, onUpdate, ctx);
      } catch (err) {
        if (run.cancelReason !== undefined && err instanceof Error && /Command aborted$/.test(err.message))
          throw new Error(err.message.replace(/Command aborted$/, `Command cancelled from Switchboard: ${run.cancelReason}`));
        throw err;
      }
    };
    session.pi.registerTool({ ...base, execute });
  }

  /** A stream_cancelled push stops its command (true); other frames are left alone (false). */
  onFrame(f: StreamEventFrame): boolean {
    if (f.event !== "stream_cancelled" || typeof f.stream_id !== "string") return false;
    const reason = typeof f.reason === "string" && f.reason ? f.reason : "cancelled from VS Code";
    this.runs.get(f.stream_id)?.cancel(reason);
    return true;
  }

  /** The session ends: stop every streamed command. */
  cancelAll(reason: string): void {
    for (const run of this.runs.values()) run.cancel(reason);
  }
}
