// `switchboard acp -- CMD ARGS…`: an ACP client that makes any ACP agent a Switchboard session.
//
// One process per agent session: it starts the agent (agent-process.ts: own process group, reaped
// however we end), initializes it, opens one ACP session in the current folder and registers an
// open session with the broker (kind and title from the agent's agentInfo). Then:
// - the terminal is a chat: typed lines are prompts, the agent's text, tool calls and plans are shown
//   (chat-view.ts); Ctrl+C cancels the running turn (session/cancel), a second Ctrl+C exits;
// - routed messages become prompt turns (turns.ts), one at a time in arrival order; the reply goes
//   back to the sender with in_reply_to, and only then is the push acknowledged (durable);
// - session/request_permission becomes a broker approval (permission.ts) and its decision selects
//   the agent's option by kind; executed tool calls become output streams (tool-streams.ts);
// - terminal/* and fs/* requests are served by client-ops.ts (src/exec, approvals for writes).
import { basename } from "node:path";
import { Readable, Writable } from "node:stream";
import * as acp from "@agentclientprotocol/sdk";
import type { RequestPermissionRequest, RequestPermissionResponse, SessionNotification, ToolCallUpdate } from "@agentclientprotocol/sdk";
import { BrokerClient, type ClientMessage, type StreamEventFrame } from "../../client/client.js";
import { StreamWriter } from "../../client/stream-writer.js";
import { SWITCHBOARD_VERSION, type StreamStartRequest } from "../../protocol/index.js";
import { classifyCommand } from "../shared/classify.js";
import { Decisions } from "../shared/decisions.js";
import { type Activity, firstLine, hintText } from "./activity.js";
import { AgentProcess } from "./agent-process.js";
import { askBroker } from "./ask.js";
import { ChatView, type ChatOutput } from "./chat-view.js";
import { ClientOps } from "./client-ops.js";
import { errText } from "../shared/failures.js";
import { agentEnd, openSession } from "./handshake.js";
import { approvalRequestFor, commandOf, mergeToolCall, permissionOutcome, type AcpGateRequest, type Verdict } from "./permission.js";
import { routedMessageOf, sendReply } from "./replies.js";
import { ToolStreams } from "./tool-streams.js";
import { AnswerText, TurnQueue, replyText, type RoutedMessage, type Turn } from "./turns.js";

const { methods } = acp;

export interface AcpHostOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  /** The agent's environment (complete). */
  env: NodeJS.ProcessEnv;
  sessionName?: string | undefined;
  home?: string | undefined;
  spawnBroker: boolean;
  brokerEntry?: string | undefined;
  input: NodeJS.ReadableStream;
  output: ChatOutput;
  /** stdin is a terminal: readline with echo. */
  interactive: boolean;
  /** How long initialize + session/new may take; default 120 s (first starts of some agents are slow). */
  startTimeoutMs?: number;
  debug?: boolean;
}

export type { Activity } from "./activity.js";

interface PendingPermission {
  approvalId: string | undefined;
  abort: AbortController;
}

export class AcpHost {
  private client: BrokerClient | undefined;
  private agent: AgentProcess | undefined;
  private conn: acp.ClientConnection | undefined;
  private sessionId: string | undefined;
  private endpointId: string | undefined;
  private agentName = "agent";
  private agentTitle = "agent";
  private readonly view: ChatView;
  private readonly queue = new TurnQueue();
  private answer = new AnswerText();
  private readonly toolCalls = new Map<string, ToolCallUpdate>();
  private streams: ToolStreams | undefined;
  private ops: ClientOps | undefined;
  private readonly pending = new Set<PendingPermission>();
  private readonly decisions = new Decisions();
  private readonly background = new Set<Promise<unknown>>();
  private cancelling = false;
  private asked = 0;
  private activity: Activity = "starting";
  private hintSent: string | undefined;
  private stopping: Promise<number> | undefined;
  private exitCode = 0;
  private finished!: (code: number) => void;
  readonly done: Promise<number>;

  /** Resolved once the endpoint is registered (replies need its id). */
  private readonly registered: Promise<void>;
  private registeredNow!: () => void;

  constructor(private readonly opts: AcpHostOptions) {
    this.view = new ChatView(opts.output);
    this.done = new Promise((r) => (this.finished = r));
    this.registered = new Promise((r) => (this.registeredNow = r));
  }

  // ---- start ---------------------------------------------------------------------------------------

  /** Connects to the broker, starts the agent and its session, registers the endpoint. */
  async start(): Promise<void> {
    const o = this.opts;
    this.client = await BrokerClient.create({
      discover: { spawn: o.spawnBroker, timeoutMs: 5000, ...(o.home ? { home: o.home } : {}), ...(o.brokerEntry ? { brokerEntry: o.brokerEntry } : {}) },
      clientKind: "switchboard-acp",
      clientVersion: SWITCHBOARD_VERSION,
      manualMessageAck: true,
    });
    const client = this.client;
    client.requireCapability("approvals_v1", "Approving the agent's tool calls");
    client.on("error", (e) => this.log(`broker client: ${e.message}`));
    client.on("frame", (f) => this.onFrame(f));
    client.on("connection", (c) => {
      if (c.phase === "reconnecting") this.log(`lost the broker (${c.reason ?? "?"}); reconnecting`);
    });

    this.agent = await AgentProcess.start({ command: o.command, args: o.args, cwd: o.cwd, env: o.env });
    const agent = this.agent;
    void agent.exited.then((exit) => {
      // While starting, start() itself reports it.
      if (this.stopping || !this.endpointId) return;
      const { how, tail } = agentEnd(agent, exit);
      this.view.note(`the agent ${how}.${tail ? `\n${tail}` : ""}`, exit.code === 0 ? "info" : "error");
      void this.stop(exit.code === 0 ? 0 : 1);
    });

    this.ops = new ClientOps({
      cwd: o.cwd,
      ask: (req, key, signal, created) => this.ask(req, key, signal, created),
      terminalFor: (approvalId) => this.streams?.skipApproval(approvalId),
      startStream: (req) => this.startStream(req),
      log: (m) => this.log(m),
      note: (m) => this.view.note(m),
    });
    const agentId = () => ({ name: this.agentName, title: this.agentTitle });
    this.streams = new ToolStreams({ start: (req) => this.startStream(req), agent: agentId, log: (m) => this.log(m), track: (p) => this.track(p) }, o.cwd);

    const app = acp
      .client({ name: "agent-switchboard" })
      .onRequest(methods.client.session.requestPermission, ({ params, signal }) => this.onPermission(params, signal))
      .onNotification(methods.client.session.update, ({ params }) => this.onUpdate(params))
      .onRequest(methods.client.fs.readTextFile, ({ params }) => this.ops!.readTextFile(params))
      .onRequest(methods.client.fs.writeTextFile, ({ params, signal }) => this.ops!.writeTextFile(params, signal))
      .onRequest(methods.client.terminal.create, ({ params }) => this.ops!.createTerminal(params))
      .onRequest(methods.client.terminal.output, ({ params }) => this.ops!.terminalOutput(params))
      .onRequest(methods.client.terminal.waitForExit, ({ params, signal }) => this.ops!.waitForExit(params, signal))
      .onRequest(methods.client.terminal.kill, ({ params }) => this.ops!.killTerminal(params))
      .onRequest(methods.client.terminal.release, ({ params }) => this.ops!.releaseTerminal(params));
    this.conn = app.connect(acp.ndJsonStream(Writable.toWeb(agent.child.stdin!) as WritableStream<Uint8Array>, Readable.toWeb(agent.child.stdout!) as ReadableStream<Uint8Array>));
    void this.conn.closed.then(() => {
      if (!this.stopping) this.log("the agent closed its ACP connection");
    });

    const session = await openSession(this.conn, agent, { command: o.command, cwd: o.cwd, timeoutMs: o.startTimeoutMs ?? 120_000 });
    const info = session.agentInfo;
    this.agentName = info?.name?.trim() || basename(o.command);
    this.agentTitle = info?.title?.trim() || this.agentName;
    this.sessionId = session.sessionId;

    // Listening before registering: the broker may push a message for the new endpoint before the
    // answer to the registration arrives here.
    client.on("message", (m) => this.onMessage(m));
    const ep = await client.registerEndpoint({
      kind: this.agentName.slice(0, 64),
      session_name: (o.sessionName ?? `${this.agentTitle}: ${basename(o.cwd) || o.cwd}`).slice(0, 200),
      workspace: { root: o.cwd, cwd: o.cwd },
      agent_id: `${this.agentName}${info?.version ? `@${info.version}` : ""}`.slice(0, 256),
      task_hint: "idle",
    });
    this.endpointId = ep.endpointId;
    this.hintSent = "idle";
    if (this.activity === "starting") this.activity = "idle";
    this.registeredNow();
    // A message that came before the answer started a turn already: show it.
    if (this.queue.busy) this.refreshHint();
    this.view.note(`${this.agentTitle}${info?.version ? ` ${info.version}` : ""} is session "${ep.registration.session_name}". Type a prompt; Ctrl+C cancels a turn, twice exits.`);
    this.readInput();
  }

  // ---- turns ---------------------------------------------------------------------------------------

  private offer(turn: Turn): void {
    const r = this.queue.offer(turn);
    // A line typed into a terminal is already on screen when it starts at once.
    if (r.kind === "start") void this.runTurn(r.turn, !(turn.origin === "user" && this.opts.interactive));
    else if (r.kind === "queued") {
      this.view.note(`${turn.origin === "message" ? `message from ${turn.message.from}` : "prompt"} queued (${r.position} waiting)`);
      this.refreshHint();
    } else if (r.kind === "full") {
      if (turn.origin === "user") return this.view.note(`queue full: ${this.queue.queued.length} prompts are waiting; try again when the agent is done`, "warn");
      this.view.note(`queue full: refused a message from ${turn.message.from}`, "warn");
      const m = turn.message;
      this.track(
        this.reply(m, `(queue full: ${this.agentTitle} already has ${this.queue.queued.length} messages waiting; not taken up. Send it again later.)`).then(() =>
          this.client?.ackMessage({ push_id: m.pushId }),
        ),
      );
    }
  }

  private async runTurn(turn: Turn, echo = true): Promise<void> {
    const conn = this.conn;
    const sessionId = this.sessionId;
    if (!conn || !sessionId) return;
    this.answer = new AnswerText();
    this.cancelling = false;
    this.setActivity("working");
    if (echo) this.view.prompt(turn.origin === "message" ? turn.message.from : "you", turn.text);
    let stopReason: string | undefined;
    let error: string | undefined;
    try {
      const res = await conn.agent.request(methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text: turn.text }] });
      stopReason = res.stopReason;
    } catch (err) {
      error = errText(err);
    }
    if (this.stopping) return;
    this.view.turnEnded(error ? "error" : (stopReason ?? "end_turn"));
    if (error) this.view.note(`the turn failed: ${error}`, "error");
    if (turn.origin === "message") {
      const m = turn.message;
      const text = replyText(this.answer.reply(), stopReason, error, this.agentTitle);
      // Acknowledged only once answered: until then the broker keeps the message.
      this.track(this.reply(m, text).then(() => this.client?.ackMessage({ push_id: m.pushId })));
    }
    const next = this.queue.finish();
    if (next) return this.runTurn(next);
    this.setActivity("idle");
  }

  /** Ctrl+C: cancels the running turn (and withdraws its pending approvals); true if there was one. */
  cancelTurn(): boolean {
    if (!this.queue.busy || !this.conn || !this.sessionId) return false;
    if (this.cancelling) return false;
    this.cancelling = true;
    this.view.note("cancelling the turn (Ctrl+C again to exit)", "warn");
    for (const p of this.pending) p.abort.abort();
    void this.conn.agent.notify(methods.agent.session.cancel, { sessionId: this.sessionId }).catch(() => {});
    return true;
  }

  // ---- routed messages -------------------------------------------------------------------------------

  private onMessage(m: ClientMessage): void {
    this.log(`message ${m.sourceMessageId} from ${m.from} (push ${m.push_id ?? "-"})`);
    const text = m.content;
    if (!text.trim() || this.stopping) {
      this.log(`message ${m.sourceMessageId} from ${m.from} not taken up (${this.stopping ? "stopping" : "empty"})`);
      // Empty: nothing to do, done with it. Stopping: left unacknowledged, so it goes to the inbox.
      if (!this.stopping) this.client?.ackMessage(m);
      return;
    }
    this.offer({ origin: "message", text, message: routedMessageOf(m) });
  }

  private async reply(m: RoutedMessage, content: string): Promise<void> {
    await this.registered;
    const client = this.client;
    const endpointId = this.endpointId;
    if (!client || !endpointId) return;
    await sendReply(client, endpointId, m, content, { stopping: () => !!this.stopping, log: (msg) => this.log(msg) });
  }

  // ---- agent updates -------------------------------------------------------------------------------

  private onUpdate(n: SessionNotification): void {
    if (n.sessionId !== this.sessionId) return;
    const u = n.update;
    if (u.sessionUpdate === "tool_call" || u.sessionUpdate === "tool_call_update") {
      const call = mergeToolCall(this.toolCalls.get(u.toolCallId), u as ToolCallUpdate);
      this.toolCalls.set(u.toolCallId, call);
      if (u.sessionUpdate === "tool_call") this.answer.toolCall();
      this.view.update(u, call);
      const command = commandOf(call) ?? "";
      this.streams?.update(u as ToolCallUpdate, call, command, classifyCommand(command).readOnly ? "env" : "sh");
      if (call.status === "completed" || call.status === "failed") this.toolCalls.delete(u.toolCallId);
      return;
    }
    if (u.sessionUpdate === "agent_message_chunk" && u.content.type === "text") this.answer.chunk(u.content.text);
    this.view.update(u);
  }

  // ---- approvals ------------------------------------------------------------------------------------

  private async onPermission(params: RequestPermissionRequest, signal: AbortSignal): Promise<RequestPermissionResponse> {
    const call = mergeToolCall(this.toolCalls.get(params.toolCall.toolCallId), params.toolCall);
    this.toolCalls.set(call.toolCallId, call);
    const req = approvalRequestFor(call, this.opts.cwd, this.agentTitle);
    if (params.options.some((o) => o.kind === "allow_always")) req.alwaysOffered = true; // the card offers "Allow for this session"
    const pending: PendingPermission = { approvalId: undefined, abort: new AbortController() };
    const onAbort = () => pending.abort.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    if (this.cancelling) pending.abort.abort();
    this.pending.add(pending);
    this.setActivity("waiting for approval", req.summary);
    this.view.note(`waiting for approval (${req.action}): ${req.summary}`);
    let verdict: Verdict;
    try {
      verdict = await this.ask(req, `perm-${++this.asked}-${call.toolCallId}`, pending.abort.signal, (id) => (pending.approvalId = id));
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.pending.delete(pending);
    }
    const { outcome, note } = permissionOutcome(params.options, verdict);
    const approved = verdict.decision === "approve" && outcome.outcome === "selected" && params.options.some((o) => o.optionId === outcome.optionId && o.kind.startsWith("allow"));
    if (req.action === "sh" || req.action === "env") {
      this.streams?.decided(call, pending.approvalId, req.action, req.command ?? "", approved);
      if (approved && pending.approvalId) this.ops?.executeApproved(req.command ?? "", pending.approvalId);
    }
    if (req.action === "edit" && approved) this.ops?.editApproved(call);
    this.view.note(approved ? "approved" : verdict.decision === "cancelled" ? "approval withdrawn" : `rejected${note ? `: ${note}` : ""}`, approved ? "info" : "warn");
    if (this.pending.size === 0 && this.queue.busy) this.setActivity("working");
    return { outcome };
  }

  /** Asks the broker and waits for the decision (ask.ts; fails closed). */
  ask(req: AcpGateRequest, key: string, signal: AbortSignal, created?: (approvalId: string) => void): Promise<Verdict> {
    return askBroker(
      { client: this.client, endpointId: this.endpointId, decisions: this.decisions, track: (p) => this.track(p), log: (m) => this.log(m) },
      req,
      key,
      signal,
      created,
    );
  }

  private onFrame(f: StreamEventFrame): void {
    if (this.decisions.onFrame(f)) return;
    if (f.event === "stream_cancelled" && typeof f.stream_id === "string") {
      const reason = typeof f.reason === "string" && f.reason ? f.reason : "cancelled from VS Code";
      if (this.ops?.cancelStream(f.stream_id, reason)) return;
      // A command the agent runs itself can only be stopped by cancelling the turn.
      this.view.note(`a viewer cancelled a command's stream (${reason}); cancelling the turn`, "warn");
      this.cancelTurn();
    }
  }

  private startStream(req: Omit<StreamStartRequest, "endpoint_id">): Promise<StreamWriter> {
    const client = this.client;
    const endpointId = this.endpointId;
    if (!client || !endpointId) return Promise.reject(new Error("not connected to a broker"));
    return StreamWriter.start(
      { ...req, endpoint_id: client.resolveEndpointId(endpointId) },
      {
        api: () => client.brokerApi("output_streams_v1"),
        pluginPid: client.pluginPid,
        frames: (frame, done) => client.sendStreamFrame(frame, done),
        onError: (e) => this.log(`stream output lost: ${e.message}`),
      },
    );
  }

  // ---- activity (shown in the sidebar as the session's task hint) ------------------------------------

  private setActivity(a: Activity, about?: string): void {
    this.activity = a;
    this.refreshHint(about);
  }

  private refreshHint(about?: string): void {
    const client = this.client;
    const endpointId = this.endpointId;
    if (!client || !endpointId || this.stopping) return;
    const current = this.queue.current;
    const hint = hintText(this.activity, about ?? (current ? firstLine(current.text) : ""), this.queue.queued.length);
    if (hint === this.hintSent) return;
    this.hintSent = hint;
    this.track(client.setTaskHint(endpointId, hint).catch((e: unknown) => this.log(`task hint: ${errText(e)}`)));
  }

  // ---- input ----------------------------------------------------------------------------------------

  private readInput(): void {
    let buf = "";
    const input = this.opts.input;
    input.setEncoding?.("utf8");
    input.on("data", (d: string | Buffer) => {
      buf += typeof d === "string" ? d : d.toString("utf8");
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, "");
        buf = buf.slice(i + 1);
        if (line.trim()) this.offer({ origin: "user", text: line });
      }
    });
    input.on("end", () => {
      this.log("input ended");
      void this.stop(this.exitCode);
    });
  }

  /** Ctrl+C: first cancels a running turn; when idle (or already cancelling), exits. */
  interrupt(): void {
    if (this.cancelTurn()) return;
    void this.stop(130);
  }

  // ---- stop -----------------------------------------------------------------------------------------

  stop(code = 0): Promise<number> {
    return (this.stopping ??= this.doStop(code));
  }

  private async doStop(code: number): Promise<number> {
    this.exitCode = code;
    for (const p of this.pending) p.abort.abort();
    if (this.conn && this.sessionId && this.queue.busy) void this.conn.agent.notify(methods.agent.session.cancel, { sessionId: this.sessionId }).catch(() => {});
    // Queued and running messages stay unacknowledged: the broker moves them to the inbox when the
    // endpoint closes below, so none is lost.
    this.queue.drain();
    await Promise.race([Promise.allSettled([...this.background]), new Promise((r) => setTimeout(r, 3000))]);
    await this.ops?.close().catch(() => {});
    await this.streams?.close().catch(() => {});
    this.conn?.close();
    await this.agent?.stop().catch(() => {});
    const client = this.client;
    if (client) await client.close().catch(() => {});
    this.finished(code);
    return code;
  }

  private track(p: Promise<unknown>): void {
    const t = p.catch((err: unknown) => this.log(`background work failed: ${errText(err)}`)).finally(() => this.background.delete(t));
    this.background.add(t);
  }

  private log(msg: string): void {
    if (this.opts.debug) process.stderr.write(`[switchboard-acp ${new Date().toISOString()}] ${msg}\n`);
  }
}
