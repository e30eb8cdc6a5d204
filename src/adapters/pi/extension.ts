// The Switchboard extension for pi (`pi -e dist/pi-extension.js`, or installed with
// `switchboard install pi`). It makes a pi session an endpoint of kind `pi` on the local broker:
//
// - session_start: discover (or spawn) the broker and register the endpoint (connection.ts);
//   session_shutdown: unregister. input: the task hint follows the first line of the current prompt.
// - tool_call: `bash`, `write` and `edit` ask for approval and a rejection blocks the tool (gate.ts).
// - the `bash` tool is pi's own with its execution replaced: an approved command runs through src/exec
//   and streams its output to the broker; a cancel from VS Code stops it (bash-tool.ts, bash.ts).
// - message pushes: a routed message becomes a pi user message, and pi's answer goes back to the
//   sender when the turn ends (routed-messages.ts).
//
// If no broker can be reached, pi keeps working: gated tools are blocked (default) or run without
// approval (SWITCHBOARD_PI_OFFLINE=allow), and the adapter says so once (offline.ts).
import type { ExtensionAPI, ExtensionContext } from "@mariozechner/pi-coding-agent";
import type { StreamEventFrame } from "../../client/client.js";
import { errText } from "../shared/failures.js";
import { bounded } from "../shared/waits.js";
import { PiBashTool, builtinBashDisabled, type PiShell } from "./bash-tool.js";
import { PiConnection } from "./connection.js";
import { PiGate } from "./gate.js";
import { PiOffline } from "./offline.js";
import { loadPiRuntime, type PiRuntime } from "./pi-runtime.js";
import { RoutedMessages } from "./routed-messages.js";
import type { NoticeLevel, PiSession, SwitchboardPiOptions } from "./session.js";
import { readPiSettingsFiles, resolveSettings, type AdapterSettings } from "./settings.js";

export type { SwitchboardPiOptions } from "./session.js";
export { builtinBashDisabled } from "./bash-tool.js";
export { firstLine } from "../shared/task-hint.js";

/** Set while an instance of the adapter is active in this process. */
const ACTIVE = Symbol.for("agent-switchboard.pi-adapter.active");

class PiAdapter implements PiSession {
  ctx: ExtensionContext | undefined;
  stopped = false;
  readonly conn: PiConnection;
  readonly gate: PiGate;
  readonly bash: PiBashTool;
  readonly messages: RoutedMessages;
  private readonly background = new Set<Promise<unknown>>();
  private readonly debug = !!process.env.SWITCHBOARD_PI_DEBUG;

  constructor(
    readonly pi: ExtensionAPI,
    readonly settings: AdapterSettings,
    private readonly runtime: PiRuntime | undefined,
    shell: PiShell,
    readonly options: SwitchboardPiOptions,
    private readonly startupNotes: string[],
  ) {
    const offline = new PiOffline(this);
    this.conn = new PiConnection(this, offline, { message: (m) => this.messages.onMessage(m), frame: (f) => this.onFrame(f) });
    this.gate = new PiGate(this, this.conn, offline);
    this.bash = new PiBashTool(this, this.conn, this.gate, shell);
    this.messages = new RoutedMessages(this, this.conn);
  }

  start(ctx: ExtensionContext): void {
    this.ctx = ctx;
    if (this.runtime && builtinBashDisabled(process.argv.slice(2))) {
      try {
        this.pi.setActiveTools(this.pi.getActiveTools().filter((t) => t !== "bash"));
      } catch (err) {
        this.log(`could not switch the bash tool off again: ${errText(err)}`);
      }
    }
    for (const note of this.startupNotes) this.notify(note, "warning");
    void this.conn.connect();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.messages.close();
    this.bash.cancelAll("the pi session ended");
    if (this.background.size) await bounded(Promise.allSettled([...this.background]), 3000);
    // A connection still being made closes itself when it sees `stopped`.
    await this.conn.close();
  }

  private onFrame(f: StreamEventFrame): void {
    if (this.gate.decisions.onFrame(f)) return;
    this.bash.onFrame(f);
  }

  track(p: Promise<unknown>): void {
    const t = p.catch((err: unknown) => this.log(`background work failed: ${errText(err)}`)).finally(() => this.background.delete(t));
    this.background.add(t);
  }

  notify(text: string, level: NoticeLevel): void {
    const ctx = this.ctx;
    try {
      if (ctx?.hasUI) return ctx.ui.notify(`Switchboard: ${text}`, level);
    } catch {
      // fall through to stderr
    }
    process.stderr.write(`[switchboard] ${text}\n`);
  }

  log(msg: string): void {
    if (this.debug) process.stderr.write(`[switchboard ${new Date().toISOString()}] ${msg}\n`);
  }
}

/** The extension factory, with options (used by the stub `switchboard install pi` writes). */
export function createSwitchboardExtension(options: SwitchboardPiOptions = {}) {
  return async function switchboard(pi: ExtensionAPI): Promise<void> {
    const files = readPiSettingsFiles(process.cwd());
    const { settings, warnings } = resolveSettings(process.env, [
      {
        source: "extension options",
        layer: {
          home: options.home,
          offline: options.offline,
          spawn: options.spawn,
          approvalTimeoutSeconds: options.approvalTimeoutSeconds,
          sessionName: options.sessionName,
        },
      },
      ...files.layers,
    ]);
    if (!settings.enabled) return;
    // Loaded twice (installed and also given with -e): the first copy does the work.
    const g = globalThis as { [ACTIVE]?: boolean };
    if (g[ACTIVE]) {
      if (process.env.SWITCHBOARD_PI_DEBUG) process.stderr.write("[switchboard] the pi extension is loaded twice; this copy stays inactive\n");
      return;
    }
    g[ACTIVE] = true;
    const notes = [...files.warnings, ...warnings].map((w) => `setting ignored: ${w}`);
    const loaded = await loadPiRuntime();
    if (!loaded.runtime) notes.push(`pi's bash tool could not be loaded (${loaded.error}); approved commands run without streaming their output to VS Code.`);
    const adapter = new PiAdapter(pi, settings, loaded.runtime, { path: files.shellPath, prefix: files.shellCommandPrefix }, options, notes);

    pi.on("session_start", (_event, ctx) => adapter.start(ctx));
    pi.on("session_shutdown", async () => {
      await adapter.stop();
      g[ACTIVE] = false;
    });
    pi.on("input", (event) => {
      adapter.conn.setTaskHint(event.text);
      return undefined;
    });
    pi.on("tool_call", (event, ctx) => adapter.gate.onToolCall(event, ctx));
    pi.on("tool_execution_end", (event) => adapter.gate.forget(event.toolCallId));
    pi.on("message_end", (event) => {
      const m = event.message as { role?: string; content?: unknown; stopReason?: string; errorMessage?: string };
      if (m.role === "user") adapter.messages.onUserMessage(m.content);
      else if (m.role === "assistant") adapter.messages.onAssistantMessage(m);
      return undefined;
    });
    pi.on("agent_end", () => adapter.messages.onAgentEnd());
    if (loaded.runtime) adapter.bash.register(loaded.runtime);
  };
}

export default createSwitchboardExtension();
