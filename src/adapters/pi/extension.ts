// The Switchboard extension for pi (`pi -e dist/pi-extension.js`, or installed with
// `switchboard install pi`). It makes a pi session an endpoint of kind `pi` on the local broker:
//
// - session_start: discover (or spawn) the broker through src/client and register the endpoint
//   (session name, workspace, task hint); session_shutdown: unregister.
// - input: the task hint follows the first line of the current prompt.
// - tool_call: every `bash` call asks for approval, as `env` when the command is read-only
//   (classify.ts) and as `sh` otherwise; `write` and `edit` ask as `edit` with a unified diff. A
//   rejection blocks the tool with the reviewer's reason.
// - the `bash` tool is pi's own (createBashToolDefinition) with its execution replaced: an approved
//   command runs through src/exec and streams stdout/stderr to the broker (bash.ts), so pi's result,
//   truncation and errors are unchanged; a cancel from VS Code stops it and pi is told so.
// - message pushes: a routed message becomes a pi user message (a new turn when idle, a follow-up when
//   busy); pi's answer goes back to the sender with metadata.in_reply_to when the turn ends.
//
// If no broker can be reached, pi keeps working: gated tools are blocked (default) or run without
// approval (SWITCHBOARD_PI_OFFLINE=allow), and the adapter says so once.
import type { ExtensionAPI, ExtensionContext, ToolCallEvent, ToolCallEventResult } from "@mariozechner/pi-coding-agent";
import { basename } from "node:path";
import { BrokerClient, type ClientMessage, type StreamEventFrame } from "../../client/client.js";
import { CapabilityMissingError, ClientClosedError, NotConnectedError, ProtocolMismatchError } from "../../client/client-errors.js";
import { BrokerError, BrokerUnreachableError, DiscoveryError } from "../../client/errors.js";
import { SWITCHBOARD_VERSION, TIMED_OUT_NOT_RUN, type Approval } from "../../protocol/index.js";
import { streamingBashOperations, type StreamedRun } from "./bash.js";
import { loadPiRuntime, type PiRuntime } from "./pi-runtime.js";
import { ReplyTracker, contentText, type DueReply } from "./replies.js";
import { offlineDenial } from "../shared/offline.js";
import { bashRequest, fileToolRequest, type GateRequest } from "../shared/requests.js";
import { readPiSettingsFiles, resolveSettings, type AdapterSettings, type OfflinePolicy } from "./settings.js";
import { Decisions } from "../shared/decisions.js";

export interface SwitchboardPiOptions {
  home?: string;
  offline?: OfflinePolicy;
  spawn?: boolean;
  approvalTimeoutSeconds?: number;
  sessionName?: string;
  /** dist/broker.js to spawn; default: broker.js beside this bundle. */
  brokerEntry?: string;
  /** How long a gated call waits for a lost broker to come back before the offline policy applies; default 15 s. */
  lostGraceMs?: number;
  /** How long a gated call waits for the first connection; default 8 s. */
  connectWaitMs?: number;
}

type Grant = { kind: "approved"; approval: Approval; action: "sh" | "env"; command: string } | { kind: "unsupervised" };

type Outcome =
  | { kind: "approved"; approval: Approval }
  | { kind: "rejected"; approval: Approval }
  | { kind: "expired"; approval: Approval }
  | { kind: "aborted" }
  | { kind: "offline"; why: string }
  | { kind: "failed"; why: string };

const RETRY_CONNECT_MS = 5000;
/** While waiting for a decision, how often the approval is also fetched (pushes bring it at once). */
const DECISION_POLL_MS = 2000;
/** Set while an instance of the adapter is active in this process. */
const ACTIVE = Symbol.for("agent-switchboard.pi-adapter.active");
const TASK_HINT_MAX = 200;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/** Resolves with `p`, or with undefined once `signal` aborts or `ms` pass. */
function bounded<T>(p: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => (stop(), resolve(undefined));
    const timer = setTimeout(() => (stop(), resolve(undefined)), ms);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => (stop(), resolve(v)),
      (e: unknown) => (stop(), reject(e)),
    );
  });
}

function errText(err: unknown): string {
  if (err instanceof BrokerError) return `${err.message} (${err.code})`;
  return (err as Error)?.message ?? String(err);
}

/** Failures that mean "no broker right now" (as opposed to the broker refusing something). */
function isUnreachable(err: unknown): boolean {
  return (
    err instanceof BrokerUnreachableError ||
    err instanceof NotConnectedError ||
    err instanceof DiscoveryError ||
    err instanceof ClientClosedError ||
    (err instanceof BrokerError && (err.code === "unknown_endpoint" || err.code === "endpoint_not_active" || err.code === "shutting_down" || err.code === "unauthorized"))
  );
}

/**
 * pi started with `--no-builtin-tools` (and no `--tools` list naming bash): its bash tool was off, and
 * the adapter's replacement, being an extension tool, must not switch it back on.
 */
export function builtinBashDisabled(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (
      (a === "--tools" || a === "-t") &&
      argv[i + 1] !== undefined &&
      argv[i + 1]!.split(",")
        .map((s) => s.trim())
        .includes("bash")
    )
      return false;
    if (
      a.startsWith("--tools=") &&
      a
        .slice(8)
        .split(",")
        .map((s) => s.trim())
        .includes("bash")
    )
      return false;
  }
  return argv.includes("--no-builtin-tools") || argv.includes("-nbt");
}

export function firstLine(text: string): string {
  const line = text.split("\n").find((l) => l.trim()) ?? "";
  return [...line.trim()].slice(0, TASK_HINT_MAX).join("");
}

class PiAdapter {
  private ctx: ExtensionContext | undefined;
  private client: BrokerClient | undefined;
  private endpointId: string | undefined;
  private connecting: Promise<boolean> | undefined;
  private lastAttempt = 0;
  private offlineSaid = false;
  private stopped = false;
  private taskHint: string | undefined;
  private readonly grants = new Map<string, Grant>();
  private readonly runs = new Map<string, StreamedRun>();
  /** approval_resolved pushes not yet waited for, and the waits in progress, by approval id. */
  private readonly decisions = new Decisions();
  private readonly background = new Set<Promise<unknown>>();
  private readonly replies = new ReplyTracker();
  private readonly debug = !!process.env.SWITCHBOARD_PI_DEBUG;

  constructor(
    private readonly pi: ExtensionAPI,
    private readonly settings: AdapterSettings,
    private readonly runtime: PiRuntime | undefined,
    private readonly shell: { path: string | undefined; prefix: string | undefined },
    private readonly opts: SwitchboardPiOptions,
    private readonly startupNotes: string[],
  ) {}

  // ---- lifecycle -----------------------------------------------------------------------------------

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
    void this.connect();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const due of this.replies.close()) this.sendReply(due);
    for (const run of this.runs.values()) run.cancel("the pi session ended");
    if (this.background.size) await bounded(Promise.allSettled([...this.background]), 3000);
    // A connection still being made closes itself when it sees `stopped`.
    if (this.connecting) await bounded(this.connecting, 2000).catch(() => false);
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => {});
  }

  private track(p: Promise<unknown>): void {
    const t = p.catch((err: unknown) => this.log(`background work failed: ${errText(err)}`)).finally(() => this.background.delete(t));
    this.background.add(t);
  }

  private sessionName(): string {
    if (this.settings.sessionName) return this.settings.sessionName;
    let name: string | undefined;
    try {
      name = this.pi.getSessionName();
    } catch {
      name = undefined;
    }
    const cwd = this.ctx?.cwd ?? process.cwd();
    return name?.trim() || `pi: ${basename(cwd) || cwd}`;
  }

  // ---- the broker connection -----------------------------------------------------------------------

  private connect(): Promise<boolean> {
    if (this.client) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return (this.connecting ??= this.doConnect().finally(() => (this.connecting = undefined)));
  }

  private async doConnect(): Promise<boolean> {
    this.lastAttempt = Date.now();
    const cwd = this.ctx?.cwd ?? process.cwd();
    let client: BrokerClient | undefined;
    try {
      client = await BrokerClient.create({
        discover: {
          spawn: this.settings.spawn,
          timeoutMs: 5000,
          ...(this.settings.home ? { home: this.settings.home } : {}),
          ...(this.opts.brokerEntry ? { brokerEntry: this.opts.brokerEntry } : {}),
        },
        clientKind: "pi",
        clientVersion: SWITCHBOARD_VERSION,
      });
      client.requireCapability("approvals_v1", "Approving pi's tool calls");
      client.on("message", (m) => this.onRoutedMessage(m));
      client.on("frame", (f) => this.onFrame(f));
      const hint = this.taskHint;
      const ep = await client.registerEndpoint({
        kind: "pi",
        session_name: this.sessionName(),
        workspace: { root: cwd, cwd },
        runtime_capabilities: {},
        ...(hint ? { task_hint: hint } : {}),
      });
      if (this.stopped) {
        await client.close();
        return false;
      }
      client.on("endpoint_replaced", (r) => this.log(`endpoint re-registered: ${r.oldId} -> ${r.newId} (${r.reason})`));
      client.on("connection", (c) => {
        this.log(`broker connection: ${c.phase}${c.reason ? ` (${c.reason})` : ""}`);
        if (c.phase === "connected" && this.offlineSaid) {
          this.offlineSaid = false;
          this.notify("the broker is back; pi's bash, write and edit calls ask for approval in VS Code again.", "info");
        }
      });
      client.on("error", (e) => this.log(`client: ${e.message}`));
      this.client = client;
      this.endpointId = ep.endpointId;
      // A prompt that arrived while registering.
      if (this.taskHint && this.taskHint !== hint) this.track(client.setTaskHint(ep.endpointId, this.taskHint));
      this.log(`registered ${ep.endpointId} as "${this.sessionName()}" at ${client.serverInfo.brokerUrl}`);
      if (this.offlineSaid) {
        this.offlineSaid = false;
        this.notify("connected to the broker; pi's bash, write and edit calls ask for approval in VS Code.", "info");
      }
      return true;
    } catch (err) {
      await client?.close({ unregister: false }).catch(() => {});
      const why =
        err instanceof CapabilityMissingError
          ? "the broker has no approvals (is it a MASONS runtime broker?)"
          : err instanceof ProtocolMismatchError || err instanceof DiscoveryError
            ? err.message
            : errText(err);
      this.sayOffline(why);
      return false;
    }
  }

  /** Connected (or reconnecting: calls then wait), else one bounded attempt to connect. */
  private async ensureClient(signal: AbortSignal | undefined): Promise<BrokerClient | undefined> {
    if (this.client) return this.client;
    if (!this.connecting && Date.now() - this.lastAttempt < RETRY_CONNECT_MS) return undefined;
    const ok = await bounded(this.connect(), this.opts.connectWaitMs ?? 8000, signal);
    return ok ? this.client : undefined;
  }

  private sayOffline(why: string): void {
    this.offlineReason = why;
    if (this.offlineSaid) return;
    this.offlineSaid = true;
    this.notify(
      this.settings.offline === "block"
        ? `no broker (${why}). pi's bash, write and edit calls are BLOCKED until it is reachable; set SWITCHBOARD_PI_OFFLINE=allow to run them without approval.`
        : `no broker (${why}). Approvals are OFF: pi's bash, write and edit calls run without review (SWITCHBOARD_PI_OFFLINE=allow).`,
      "warning",
    );
  }

  private offlineReason = "not connected yet";

  // ---- approvals -----------------------------------------------------------------------------------

  async onToolCall(event: ToolCallEvent, ctx: ExtensionContext): Promise<ToolCallEventResult | undefined> {
    const name = event.toolName;
    if (name !== "bash" && name !== "write" && name !== "edit") return undefined;
    this.log(`tool_call ${name} ${event.toolCallId}`);
    this.ctx = ctx;
    const input = event.input as Record<string, unknown>;
    const command = typeof input.command === "string" ? input.command : "";
    const request: GateRequest =
      name === "bash" ? bashRequest(command, ctx.cwd, typeof input.timeout === "number" ? input.timeout : undefined) : await fileToolRequest(name, input, ctx.cwd);
    const outcome = await this.ask(request, event.toolCallId, ctx.signal);
    switch (outcome.kind) {
      case "approved":
        if (name === "bash") this.grants.set(event.toolCallId, { kind: "approved", approval: outcome.approval, action: request.action === "env" ? "env" : "sh", command });
        return undefined;
      case "rejected": {
        const a = outcome.approval;
        const by = a.decided_by ? ` by ${a.decided_by}` : "";
        return { block: true, reason: `Rejected in Switchboard${by}: ${a.reason?.trim() || "no reason given"}` };
      }
      case "expired":
        return { block: true, reason: TIMED_OUT_NOT_RUN };
      case "aborted":
        return { block: true, reason: "Not run: stopped while waiting for approval in Switchboard." };
      case "failed":
        return { block: true, reason: `Not run: Switchboard could not ask for approval (${outcome.why}).` };
      case "offline":
        this.sayOffline(outcome.why);
        if (this.settings.offline === "allow") {
          if (name === "bash") this.grants.set(event.toolCallId, { kind: "unsupervised" });
          return undefined;
        }
        return {
          block: true,
          reason: offlineDenial(outcome.why, "SWITCHBOARD_PI_OFFLINE"),
        };
    }
  }

  /** Asks and waits for the decision; survives a broker restart (the approval is journaled). */
  private async ask(req: GateRequest, toolCallId: string, signal: AbortSignal | undefined): Promise<Outcome> {
    const client = await this.ensureClient(signal);
    if (signal?.aborted) return { kind: "aborted" };
    if (!client || !this.endpointId) return { kind: "offline", why: this.offlineReason };
    // Already found the broker gone, and it is not back: do not make every call wait again.
    if (this.offlineSaid && client.phase !== "connected") return { kind: "offline", why: this.offlineReason };
    const lostGrace = this.opts.lostGraceMs ?? 15_000;
    let approval: Approval | undefined;
    let attempt = 0;
    let unreachableSince: number | undefined;
    for (;;) {
      if (signal?.aborted) {
        if (approval) this.withdraw(client, approval.approval_id);
        return { kind: "aborted" };
      }
      try {
        const api = await client.brokerApi("approvals_v1");
        if (!approval) {
          approval = await api.requestApproval({
            endpoint_id: client.resolveEndpointId(this.endpointId),
            action: req.action,
            summary: req.summary,
            cwd: req.cwd,
            execute: "agent",
            idempotency_key: `pi-${process.pid}-${toolCallId}-${attempt}`,
            ...(req.command !== undefined ? { command: req.command } : {}),
            ...(req.detail !== undefined ? { detail: req.detail } : {}),
            ...(req.diff !== undefined ? { diff: req.diff } : {}),
            ...(req.path !== undefined ? { path: req.path } : {}),
            ...(this.settings.approvalTimeoutMs ? { timeout_ms: this.settings.approvalTimeoutMs } : {}),
          });
          this.log(`asked ${approval.approval_id} (${req.action}): ${req.summary}`);
        } else {
          // The decision comes as an approval_resolved push on the client's stream (queued and re-sent
          // by the broker like a message, so also after a reconnect); it may even have come before our
          // request was answered. A plain GET every few seconds covers a push that cannot come, and
          // notices a broker that went away.
          const id = approval.approval_id;
          let next = await this.decisions.next(id, DECISION_POLL_MS, signal);
          if (!next && signal?.aborted) continue;
          next ??= await api.approval(id);
          approval = next;
        }
        unreachableSince = undefined;
      } catch (err) {
        if (err instanceof CapabilityMissingError) return { kind: "offline", why: "the broker has no approvals" };
        if (err instanceof BrokerError && err.code === "approval_unknown") {
          // The broker lost it (its state was reset): ask again.
          approval = undefined;
          if (++attempt > 3) return { kind: "failed", why: errText(err) };
          continue;
        }
        if (!isUnreachable(err) && err instanceof BrokerError) return { kind: "failed", why: errText(err) };
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > lostGrace) return { kind: "offline", why: `lost the broker while waiting for a decision: ${errText(err)}` };
        await sleep(250, signal);
        continue;
      }
      if (approval.state !== "pending") this.log(`${approval.approval_id} ${approval.state}`);
      switch (approval.state) {
        case "pending":
          continue;
        case "approved":
          return { kind: "approved", approval };
        case "rejected":
          return { kind: "rejected", approval };
        case "expired":
          return { kind: "expired", approval };
        case "cancelled":
          // Not by us (we return right after withdrawing): our endpoint was closed during an outage.
          approval = undefined;
          if (++attempt > 3) return { kind: "failed", why: "the approval request was cancelled by the broker" };
          continue;
      }
    }
  }

  private withdraw(client: BrokerClient, approvalId: string): void {
    this.track(client.brokerApi("approvals_v1").then((api) => api.withdrawApproval(approvalId, client.pluginPid)));
  }

  forgetToolCall(toolCallId: string): void {
    this.grants.delete(toolCallId);
  }

  // ---- the bash tool ---------------------------------------------------------------------------------

  registerBashTool(runtime: PiRuntime): void {
    const shellOpts = { ...(this.shell.prefix ? { commandPrefix: this.shell.prefix } : {}), ...(this.shell.path ? { shellPath: this.shell.path } : {}) };
    const base = runtime.createBashToolDefinition(process.cwd(), shellOpts);
    let shellFile: string | undefined;
    try {
      shellFile = runtime.getShellConfig?.(this.shell.path).shell;
    } catch {
      shellFile = undefined;
    }
    type Exec = typeof base.execute;
    const execute: Exec = async (toolCallId, params, signal, onUpdate, ctx) => {
      const grant = this.grants.get(toolCallId);
      this.grants.delete(toolCallId);
      if (!grant) throw new Error("Not run: this bash call was not approved through Switchboard.");
      if (grant.kind === "unsupervised") return runtime.createBashToolDefinition(ctx.cwd, shellOpts).execute(toolCallId, params, signal, onUpdate, ctx);
      if (params.command !== grant.command) throw new Error("Not run: the command was changed after it was approved.");
      const client = this.client;
      if (!client || !this.endpointId) return runtime.createBashToolDefinition(ctx.cwd, shellOpts).execute(toolCallId, params, signal, onUpdate, ctx);
      const endpointId = this.endpointId;
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
        track: (p) => this.track(p),
        log: (m) => this.log(m),
      });
      try {
        this.log(`running ${toolCallId} for ${grant.approval.approval_id}`);
        return await runtime.createBashToolDefinition(ctx.cwd, { ...shellOpts, operations }).execute(toolCallId, params, signal, onUpdate, ctx);
      } catch (err) {
        if (run.cancelReason !== undefined && err instanceof Error && /Command aborted$/.test(err.message))
          throw new Error(err.message.replace(/Command aborted$/, `Command cancelled from Switchboard: ${run.cancelReason}`));
        throw err;
      }
    };
    this.pi.registerTool({ ...base, execute });
  }

  private onFrame(f: StreamEventFrame): void {
    if (this.decisions.onFrame(f)) return;
    if (f.event !== "stream_cancelled" || typeof f.stream_id !== "string") return;
    const reason = typeof f.reason === "string" && f.reason ? f.reason : "cancelled from VS Code";
    this.runs.get(f.stream_id)?.cancel(reason);
  }

  // ---- routed messages -------------------------------------------------------------------------------

  private onRoutedMessage(m: ClientMessage): void {
    const text = m.content;
    if (!text.trim()) return this.log(`ignored an empty message ${m.sourceMessageId} from ${m.from}`);
    const source = typeof m.metadata.source_endpoint_id === "string" ? m.metadata.source_endpoint_id : undefined;
    const correlation = typeof m.metadata.correlation_id === "string" ? m.metadata.correlation_id : undefined;
    const routed = {
      messageId: m.sourceMessageId,
      text,
      from: m.from,
      replyTo: source ?? m.from,
      replyToEndpoint: source !== undefined,
      inReplyTo: correlation ?? m.sourceMessageId,
    };
    // Acknowledged by the client once this returns, so it is answered rather than dropped.
    if (this.stopped) return this.sendReply({ message: routed, text: "(The pi session ended before it took up this message.)" });
    for (const due of this.replies.delivered(routed)) this.sendReply(due);
    this.log(`message ${m.sourceMessageId} from ${m.from} handed to pi`);
    // Starts a turn when pi is idle; queued as a follow-up while it works.
    this.pi.sendUserMessage(text, { deliverAs: "followUp" });
  }

  onUserMessage(content: unknown): void {
    for (const due of this.replies.userMessage(contentText(content))) this.sendReply(due);
  }

  onAssistantMessage(message: { content?: unknown; stopReason?: string; errorMessage?: string }): void {
    this.replies.assistantMessage({ text: contentText(message.content), stopReason: message.stopReason, errorMessage: message.errorMessage });
  }

  onAgentEnd(): void {
    for (const due of this.replies.agentEnd()) this.sendReply(due);
  }

  private sendReply(due: DueReply): void {
    const client = this.client;
    const endpointId = this.endpointId;
    const m = due.message;
    if (!client || !endpointId) return this.log(`reply to ${m.messageId} dropped: not connected to a broker`);
    this.track(
      client
        .send({ endpoint_id: endpointId, to: m.replyTo, content: due.text, metadata: { in_reply_to: m.inReplyTo, reply_to_message_id: m.messageId } })
        .then((res) => this.log(`replied to ${m.messageId}: ${res.status}`))
        .catch((err: unknown) => {
          if (err instanceof BrokerError && err.code === "recipient_unknown" && !m.replyToEndpoint)
            this.log(`reply to ${m.messageId} skipped: the sender "${m.from}" is not a session`);
          else this.log(`reply to ${m.messageId} failed: ${errText(err)}`);
        }),
    );
  }

  // ---- task hint ---------------------------------------------------------------------------------------

  onInput(text: string): void {
    const hint = firstLine(text);
    if (!hint || hint === this.taskHint) return;
    this.taskHint = hint;
    const client = this.client;
    if (client && this.endpointId) this.track(client.setTaskHint(this.endpointId, hint));
  }

  // ---- output ------------------------------------------------------------------------------------------

  private notify(text: string, level: "info" | "warning" | "error"): void {
    const ctx = this.ctx;
    try {
      if (ctx?.hasUI) return ctx.ui.notify(`Switchboard: ${text}`, level);
    } catch {
      // fall through to stderr
    }
    process.stderr.write(`[switchboard] ${text}\n`);
  }

  private log(msg: string): void {
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
      adapter.onInput(event.text);
      return undefined;
    });
    pi.on("tool_call", (event, ctx) => adapter.onToolCall(event, ctx));
    pi.on("tool_execution_end", (event) => adapter.forgetToolCall(event.toolCallId));
    pi.on("message_end", (event) => {
      const m = event.message as { role?: string; content?: unknown; stopReason?: string; errorMessage?: string };
      if (m.role === "user") adapter.onUserMessage(m.content);
      else if (m.role === "assistant") adapter.onAssistantMessage(m);
      return undefined;
    });
    pi.on("agent_end", () => adapter.onAgentEnd());
    if (loaded.runtime) adapter.registerBashTool(loaded.runtime);
  };
}

export default createSwitchboardExtension();
