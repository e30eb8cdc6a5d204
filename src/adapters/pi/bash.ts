// Runs an approved pi `bash` call with src/exec and streams it to the broker: stdout on channel 1,
// stderr on channel 2, linked to its approval, so VS Code shows it live. pi gets what its own local
// backend would give its bash tool: the combined output as it arrives, the exit code, "aborted" or a
// timeout, so pi's tool formats and truncates the result exactly as usual.
//
// The command starts at once; the broker stream is opened in parallel and the output produced before
// it exists is queued (bounded: past 4 MiB the command is paused until the stream is there).
import type { BashOperations } from "@mariozechner/pi-coding-agent";
import type { BrokerApi } from "../../client/api.js";
import { StreamWriter, type FrameSender } from "../../client/stream-writer.js";
import { execCommand, type Channel, type ExecHandle } from "../../exec/index.js";

export interface StreamedRun {
  streamId: string | undefined;
  /** Set when a viewer cancelled the command from VS Code (the stream_cancelled push). */
  cancelReason: string | undefined;
  cancel(reason: string): void;
}

export interface StreamingBashOptions {
  api: () => Promise<BrokerApi>;
  pluginPid: number;
  /** Binary frames on the adapter's /v1/stream socket (BrokerClient.sendStreamFrame). */
  frames?: FrameSender;
  endpointId: () => string;
  approvalId: string;
  action: "sh" | "env";
  /** The command as the reviewer approved it (without pi's command prefix). */
  displayCommand: string;
  /** pi's shell (from its settings); default: what src/exec picks, without a login shell. */
  shell?: string | undefined;
  /** A stream exists: the adapter routes stream_cancelled pushes for this id to `run.cancel`. */
  onStreamStarted: (streamId: string, run: StreamedRun) => void;
  onStreamEnded: (streamId: string) => void;
  /** Background work (finishing the stream) that shutdown should wait for. */
  track: (p: Promise<unknown>) => void;
  log: (msg: string) => void;
}

const PRE_STREAM_LIMIT = 4 * 1024 * 1024;

/** BashOperations for one approved call, plus the run's cancel state for the tool wrapper. */
export function streamingBashOperations(opts: StreamingBashOptions): { operations: BashOperations; run: StreamedRun } {
  let handle: ExecHandle | undefined;
  const run: StreamedRun = {
    streamId: undefined,
    cancelReason: undefined,
    cancel(reason) {
      if (run.cancelReason !== undefined) return;
      run.cancelReason = reason;
      void handle?.stop(`cancelled from Switchboard: ${reason}`).catch(() => {});
    },
  };

  const operations: BashOperations = {
    exec: (command, cwd, { onData, signal, timeout, env }) =>
      new Promise((resolve, reject) => {
        let writer: StreamWriter | undefined;
        let writerFailed = false;
        let queued: [Channel, string][] = [];
        let queuedBytes = 0;
        let waitingForStream = false;
        let timedOut = false;
        let aborted = false;

        const h = execCommand({
          command,
          cwd,
          ...(env ? { env } : {}),
          ...(opts.shell ? { shell: opts.shell } : {}),
          login: false,
          onOutput: (channel, text) => {
            onData(Buffer.from(text, "utf8"));
            if (writer) return writer.write(channel, text);
            if (writerFailed) return true;
            queued.push([channel, text]);
            queuedBytes += text.length;
            if (queuedBytes < PRE_STREAM_LIMIT) return true;
            waitingForStream = true;
            return false;
          },
        });
        handle = h;

        const stream = StreamWriter.start(
          { endpoint_id: opts.endpointId(), action: opts.action, command: opts.displayCommand, cwd, approval_id: opts.approvalId },
          {
            api: opts.api,
            pluginPid: opts.pluginPid,
            frames: opts.frames,
            onError: (e) => opts.log(`output of ${run.streamId ?? "a command"} is no longer streamed: ${e.message}`),
          },
        ).then(
          (w) => {
            writer = w;
            run.streamId = w.streamId;
            opts.log(`stream ${w.streamId} open`);
            opts.onStreamStarted(w.streamId, run);
            for (const [channel, text] of queued) w.write(channel, text);
            queued = [];
            w.onDrain(function resume() {
              h.resume();
              w.onDrain(resume);
            });
            if (waitingForStream) h.resume();
            return w;
          },
          (err: Error) => {
            writerFailed = true;
            queued = [];
            if (waitingForStream) h.resume();
            opts.log(`could not open a broker stream for an approved command (it runs anyway, unstreamed): ${err.message}`);
            return undefined;
          },
        );

        let timer: NodeJS.Timeout | undefined;
        if (timeout !== undefined && timeout > 0) {
          timer = setTimeout(() => {
            timedOut = true;
            void h.stop(`timed out after ${timeout} s`).catch(() => {});
          }, timeout * 1000);
        }
        const onAbort = () => {
          aborted = true;
          void h.stop("aborted in pi").catch(() => {});
        };
        if (signal) {
          if (signal.aborted) onAbort();
          else signal.addEventListener("abort", onAbort, { once: true });
        }

        const cleanup = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        };
        h.done.then(
          (result) => {
            cleanup();
            opts.log(`command ended (${result.exit_code ?? result.signal}) after ${result.duration_ms} ms`);
            if (run.cancelReason !== undefined || aborted) reject(new Error("aborted"));
            else if (timedOut) reject(new Error(`timeout:${timeout}`));
            else resolve({ exitCode: result.exit_code });
            // pi goes on first; the stream's end is sent right after (behind any queued output).
            opts.track(
              new Promise<void>((r) => setImmediate(r)).then(() =>
                stream.then(async (w) => {
                  if (!w) return;
                  try {
                    if (run.cancelReason === undefined && (aborted || timedOut))
                      await w.abort(timedOut ? `timed out after ${timeout} s` : "aborted in pi", {
                        exit_code: result.exit_code,
                        signal: result.signal,
                        duration_ms: Math.round(result.duration_ms),
                      });
                    else await w.complete({ exit_code: result.exit_code, signal: result.signal, duration_ms: Math.round(result.duration_ms) });
                  } finally {
                    opts.onStreamEnded(w.streamId);
                  }
                }),
              ),
            );
          },
          (err: Error) => {
            cleanup();
            opts.track(stream.then((w) => w?.abort(`could not start: ${err.message}`)).catch(() => {}));
            reject(err);
          },
        );
      }),
  };
  return { operations, run };
}
