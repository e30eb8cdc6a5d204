// Commands approved with execute: "editor" run here, in this window's workspace, with this window's
// endpoint as the stream's producer. If the window closes or reloads mid-run, the process is stopped
// and the stream is aborted with that reason.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import * as vscode from "vscode";
import { StreamWriter } from "../client/index.js";
import { execCommand, type ExecHandle } from "../exec/index.js";
import type { Approval, StreamView } from "../protocol/index.js";
import type { BrokerLink } from "./broker-link.js";
import { log } from "./log.js";

interface Run {
  handle: ExecHandle;
  writer: StreamWriter;
  aborted?: string;
}

export class EditorRunner implements vscode.Disposable {
  private readonly runs = new Map<string, Run>();
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly sb: BrokerLink,
    private readonly onStarted: (stream: StreamView) => void,
  ) {
    this.subscription = sb.onFrame((f) => {
      if (f.event === "stream_cancelled" && typeof f.stream_id === "string") this.stop(f.stream_id, typeof f.reason === "string" ? f.reason : "cancelled");
    });
  }

  isRunning(streamId: string): boolean {
    return this.runs.has(streamId);
  }

  async run(a: Approval): Promise<void> {
    const self = this.sb.selfEndpointId;
    if (!self) throw new Error("this window has no endpoint yet");
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const cwd = a.cwd && existsSync(a.cwd) ? a.cwd : (folder ?? homedir());
    const command = a.command ?? a.summary;
    const writer = await StreamWriter.start(
      { endpoint_id: self, action: a.action === "env" ? "env" : "sh", command, cwd, approval_id: a.approval_id },
      {
        api: () => this.sb.api("output_streams_v1"),
        pluginPid: process.pid,
        frames: (frame, done) => this.sb.sendStreamFrame(frame, done),
        onError: (e) => log().warn(`stream ${a.approval_id}: ${e.message}`),
      },
    );
    const handle = execCommand({ command, cwd, stopGraceMs: 1000, onOutput: (ch, text) => writer.write(ch, text) });
    writer.onDrain(function resume() {
      handle.resume();
      writer.onDrain(resume);
    });
    const run: Run = { handle, writer };
    this.runs.set(writer.streamId, run);
    log().info(`running approved command in this window: ${command} (stream ${writer.streamId})`);
    this.onStarted(writer.stream);
    try {
      const result = await handle.done;
      if (run.aborted) await writer.abort(run.aborted);
      else await writer.complete({ exit_code: result.exit_code, signal: result.signal, duration_ms: result.duration_ms });
    } catch (err) {
      await writer.abort(`could not run: ${(err as Error).message}`);
      throw err;
    } finally {
      this.runs.delete(writer.streamId);
    }
  }

  /** Stops an editor-run command with escalation; false if it is not running here. */
  stop(streamId: string, reason: string): boolean {
    const run = this.runs.get(streamId);
    if (!run) return false;
    log().info(`stopping ${streamId}: ${reason}`);
    void run.handle.stop(reason).catch(() => {});
    return true;
  }

  async dispose(): Promise<void> {
    this.subscription.dispose();
    await Promise.all(
      [...this.runs.values()].map(async (run) => {
        run.aborted = "the VS Code window that ran it closed or reloaded";
        await run.handle.stop(run.aborted).catch(() => {});
        await run.writer.abort(run.aborted);
      }),
    );
  }
}
