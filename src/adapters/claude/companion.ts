// The per-session companion of a Claude Code session (dist/claude-companion.js). Claude Code's hooks
// are short-lived processes; this one lives as long as the `claude` process and holds what must
// outlive a hook call: the broker connection and the session's endpoint (kind `claude-code`), the
// durable queue of routed messages, the approvals and streams in flight, and the replies owed to
// senders. Hooks reach it over HTTP on 127.0.0.1 with the token from `companion.json`.
//
// It watches the `claude` process (its pid comes from the SessionStart hook) and unregisters and exits
// as soon as that process is gone, also after `kill -9` when no SessionEnd hook runs. If the companion
// itself is killed, the broker closes the endpoint (its pid is dead), the next hook starts a new one,
// and the queue on disk is delivered from there.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BrokerClient } from "../../client/client.js";
import type { ClientMessage } from "../../client/client-types.js";
import { BrokerError } from "../../client/errors.js";
import { pidAlive } from "../../platform/process.js";
import { stateHome } from "../../platform/paths.js";
import { SWITCHBOARD_VERSION, TIMED_OUT_NOT_RUN, type Approval } from "../../protocol/index.js";
import { offlineDenial } from "../shared/offline.js";
import { approvalTimeoutMs, formatForClaude, hintText, parseFailure, type HookAnswer, type HookCall } from "./protocol.js";
import { MessageQueue, type QueuedMessage } from "./queue.js";
import { isGatedTool, toolRequest } from "./requests.js";
import { TranscriptTail } from "./transcript.js";
import {
  addrFile,
  companionFile,
  curlConfigFile,
  ensureSessionDir,
  queueDir,
  removeCompanion,
  removeSessionDirIfEmpty,
  writeDurable,
  type CompanionRecord,
} from "./session-files.js";

export interface CompanionOptions {
  home: string;
  sessionId: string;
  claudePid: number;
  cwd: string;
  transcriptPath?: string | undefined;
  /** Start a broker when none runs (SWITCHBOARD_CLAUDE_SPAWN, default on). */
  spawn: boolean;
  brokerEntry?: string | undefined;
  sessionName?: string | undefined;
}

const WATCH_MS = 250;
const LOST_GRACE_MS = 15_000;
const CHUNK_CHARS = 64 * 1024;
/** What the terminal header says: this output is not live. */
export const STREAM_NOTE = "Claude Code runs this command itself: its output appears here when the call ends, as Claude Code reports it (stdout and stderr together).";

interface OpenStream {
  /** The stream's id once the broker made it (undefined if it could not). */
  stream: Promise<string | undefined>;
  startedAt: number;
}

type Status = "working" | "waiting for you" | "idle";

export class Companion {
  private client: BrokerClient | undefined;
  private endpointId: string | undefined;
  private connecting: Promise<BrokerClient | undefined> | undefined;
  private lastConnectError = "not connected yet";
  private readonly queue: MessageQueue;
  private readonly token = randomBytes(24).toString("base64url");
  private readonly streams = new Map<string, OpenStream>();
  /** Messages handed to Claude in the current turn, answered at the next Stop. */
  private active: QueuedMessage[] = [];
  /** Handed to a hook, not yet confirmed printed. */
  private readonly handed = new Map<string, QueuedMessage>();
  private status: Status = "idle";
  private hint = "";
  private hintSent = "";
  private stopping = false;
  private watchTimer: NodeJS.Timeout | undefined;
  private readonly server = createServer((req, res) => void this.onRequest(req, res));
  private readonly waits = new Set<AbortController>();
  private tail: TranscriptTail | undefined;
  private transcriptPath: string | undefined;

  constructor(private readonly opts: CompanionOptions) {
    ensureSessionDir(opts.home, opts.sessionId);
    this.transcriptPath = opts.transcriptPath;
    this.queue = new MessageQueue(queueDir(opts.home, opts.sessionId));
  }

  get sessionName(): string {
    if (this.opts.sessionName) return this.opts.sessionName;
    const folder = basename(this.opts.cwd) || this.opts.cwd;
    return `claude: ${folder} · ${this.opts.sessionId.slice(0, 8)}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    const record: CompanionRecord = {
      version: 1,
      pid: process.pid,
      port: (this.server.address() as AddressInfo).port,
      token: this.token,
      claudePid: this.opts.claudePid,
      sessionId: this.opts.sessionId,
      startedAt: new Date().toISOString(),
    };
    const dir = dirname(companionFile(this.opts.home, this.opts.sessionId));
    // For claude-hook.sh: the same address and token as "PORT TOKEN" (bash /dev/tcp) and as a curl config (curl -K).
    writeDurable(addrFile(this.opts.home, this.opts.sessionId), `${record.port} ${this.token}\n`, dir);
    writeDurable(curlConfigFile(this.opts.home, this.opts.sessionId), `url = "http://127.0.0.1:${record.port}/hook-raw"\nheader = "Authorization: Bearer ${this.token}"\n`, dir);
    writeDurable(companionFile(this.opts.home, this.opts.sessionId), JSON.stringify(record), dir);
    this.watchTimer = setInterval(() => {
      if (!pidAlive(this.opts.claudePid)) void this.stop("claude exited");
    }, WATCH_MS);
    void this.connect();
  }

  // ---- broker -------------------------------------------------------------------------------------

  private connect(): Promise<BrokerClient | undefined> {
    if (this.client) return Promise.resolve(this.client);
    if (this.stopping) return Promise.resolve(undefined);
    return (this.connecting ??= this.doConnect().finally(() => (this.connecting = undefined)));
  }

  private async doConnect(): Promise<BrokerClient | undefined> {
    let client: BrokerClient | undefined;
    try {
      client = await BrokerClient.create({
        discover: { home: this.opts.home, spawn: this.opts.spawn, timeoutMs: 5000, ...(this.opts.brokerEntry ? { brokerEntry: this.opts.brokerEntry } : {}) },
        clientKind: "claude-code",
        clientVersion: SWITCHBOARD_VERSION,
      });
      client.requireCapability("approvals_v1", "Approving Claude Code's tool calls");
      client.on("message", (m) => this.onMessage(m));
      client.on("frame", (f) => {
        if (f.event === "stream_cancelled") this.log(`stream ${String(f.stream_id)} cancelled in VS Code; Claude Code runs the command itself and cannot be stopped from here`);
      });
      client.on("error", (e) => this.log(`client: ${e.message}`));
      const hint = this.hintValue();
      const ep = await client.registerEndpoint({
        kind: "claude-code",
        session_name: this.sessionName,
        workspace: { root: this.opts.cwd, cwd: this.opts.cwd },
        runtime_capabilities: {},
        task_hint: hint,
      });
      if (this.stopping) {
        await client.close();
        return undefined;
      }
      this.client = client;
      this.endpointId = ep.endpointId;
      this.hintSent = hint;
      this.pushHint(); // what changed while registering
      this.log(`registered ${ep.endpointId} as "${this.sessionName}"`);
      return client;
    } catch (err) {
      await client?.close({ unregister: false }).catch(() => {});
      this.lastConnectError = errText(err);
      this.log(`no broker: ${this.lastConnectError}`);
      return undefined;
    }
  }

  /** Connected, or one bounded attempt. */
  private async ensureClient(): Promise<BrokerClient | undefined> {
    if (this.client) return this.client;
    return this.connect();
  }

  // ---- hook calls ---------------------------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      if (res.writableEnded) return;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    try {
      // As the broker does: no web page (Origin), no DNS rebinding (Host), then the token in constant time.
      const port = (this.server.address() as AddressInfo).port;
      if (req.headers.origin !== undefined || (req.headers.host !== `127.0.0.1:${port}` && req.headers.host !== `localhost:${port}`)) return send(403, { error: "forbidden" });
      if (!tokenMatches(req.headers.authorization, `Bearer ${this.token}`)) return send(401, { error: "unauthorized" });
      let raw = "";
      req.setEncoding("utf8");
      for await (const chunk of req) {
        raw += chunk;
        if (raw.length > 16 * 1024 * 1024) return send(413, { error: "too large" });
      }
      const body = JSON.parse(raw || "{}") as Record<string, unknown>;
      if (req.url === "/confirm") {
        this.confirm(Array.isArray(body.ids) ? body.ids.filter((x): x is string => typeof x === "string") : []);
        return send(200, { ok: true });
      }
      if (req.url === "/hook-raw") {
        // claude-hook.sh's fast path: the body is Claude's PreToolUse event itself, the answer is what to print.
        const event = body as unknown as HookCall["event"];
        if (event.hook_event_name !== "PreToolUse") return send(409, { error: "not_pre_tool_use" });
        const offline =
          String(req.headers["x-switchboard-offline"] ?? "")
            .trim()
            .toLowerCase() === "allow"
            ? "allow"
            : "block";
        const timeoutS = Number(req.headers["x-switchboard-hook-timeout"]);
        const abort = new AbortController();
        res.once("close", () => abort.abort());
        this.waits.add(abort);
        try {
          const answer = await this.onHook({ event, offline, approvalTimeoutMs: approvalTimeoutMs(Number.isFinite(timeoutS) && timeoutS > 0 ? timeoutS : 600) }, abort.signal);
          if (!answer.stdout) return send(500, { error: "no_decision" });
          if (!res.writableEnded) {
            const text = Buffer.from(JSON.stringify(answer.stdout));
            res.writeHead(200, { "content-type": "application/json", "content-length": text.length });
            res.end(text);
          }
        } finally {
          this.waits.delete(abort);
        }
        return;
      }
      if (req.url !== "/hook") return send(404, { error: "not_found" });
      const abort = new AbortController();
      // The hook went away (Claude's hook timeout, or Claude itself): stop waiting for it.
      res.once("close", () => abort.abort());
      this.waits.add(abort);
      try {
        send(200, await this.onHook(body as unknown as HookCall, abort.signal));
      } finally {
        this.waits.delete(abort);
      }
    } catch (err) {
      send(500, { error: "internal", message: errText(err) });
    }
  }

  async onHook(call: HookCall, signal: AbortSignal): Promise<HookAnswer> {
    const e = call.event;
    switch (e.hook_event_name) {
      case "SessionStart":
        await this.ensureClient();
        return {};
      case "UserPromptSubmit": {
        const prompt = typeof e.prompt === "string" ? e.prompt : "";
        const line =
          prompt
            .split("\n")
            .find((l) => l.trim())
            ?.trim() ?? "";
        if (line && !this.isOurText(prompt)) this.hint = [...line].slice(0, 160).join("");
        this.setStatus("working");
        const due = this.takeQueued(Infinity);
        if (!due.length) return {};
        return {
          stdout: { hookSpecificOutput: { hookEventName: "UserPromptSubmit", additionalContext: formatForClaude(due) } },
          confirm: due.map((m) => m.messageId),
        };
      }
      case "Notification":
        this.setStatus("waiting for you", typeof e.message === "string" ? e.message : undefined);
        return {};
      case "Stop":
      case "SubagentStop": {
        if (e.hook_event_name === "SubagentStop") return {};
        this.answerActive(typeof e.last_assistant_message === "string" ? e.last_assistant_message : "");
        this.tail?.read(); // results written just before the turn ended
        this.endOpenStreams("Claude Code ended its turn without running it");
        const due = this.takeQueued(1);
        if (due.length) {
          this.setStatus("working");
          return { stdout: { decision: "block", reason: formatForClaude(due) }, confirm: due.map((m) => m.messageId) };
        }
        this.setStatus("idle");
        return {};
      }
      case "SessionEnd":
        setImmediate(() => void this.stop("the session ended"));
        return {};
      case "PreToolUse":
        return this.gate(call, signal);
      case "PostToolUse":
      case "PostToolUseFailure":
        await this.publish(call);
        return {};
      default:
        return {};
    }
  }

  private isOurText(prompt: string): boolean {
    return prompt.startsWith("[Switchboard] ");
  }

  // ---- approvals ----------------------------------------------------------------------------------

  private async gate(call: HookCall, signal: AbortSignal): Promise<HookAnswer> {
    const e = call.event;
    const tool = e.tool_name;
    if (!isGatedTool(tool)) return {};
    if (typeof e.transcript_path === "string" && e.transcript_path) this.transcriptPath = e.transcript_path;
    this.setStatus("working");
    const input = (e.tool_input && typeof e.tool_input === "object" ? e.tool_input : {}) as Record<string, unknown>;
    const cwd = typeof e.cwd === "string" && e.cwd ? e.cwd : this.opts.cwd;
    const toolUseId = typeof e.tool_use_id === "string" ? e.tool_use_id : `t${Date.now()}`;
    const allow = (reason: string): HookAnswer => ({
      stdout: { hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: "allow", permissionDecisionReason: reason } },
    });
    const deny = (reason: string): HookAnswer => ({
      stdout: { hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: "deny", permissionDecisionReason: reason } },
    });
    const offline = (why: string): HookAnswer =>
      call.offline === "allow"
        ? allow(`Switchboard is offline (${why}); running unreviewed because SWITCHBOARD_CLAUDE_OFFLINE=allow.`)
        : deny(offlineDenial(why, "SWITCHBOARD_CLAUDE_OFFLINE"));

    const t0 = performance.now();
    const request = await toolRequest(tool, input, cwd);
    const client = await this.ensureClient();
    if (!client || !this.endpointId) return offline(this.lastConnectError);
    const timeoutMs = Math.max(1000, Math.round(call.approvalTimeoutMs));
    let approval: Approval | undefined;
    let unreachableSince: number | undefined;
    for (let attempt = 0; ; ) {
      if (signal.aborted) {
        if (approval) this.withdraw(client, approval.approval_id);
        return deny("Not run: the hook stopped waiting for the Switchboard approval.");
      }
      try {
        const api = await client.brokerApi("approvals_v1");
        if (!approval) {
          approval = await api.requestApproval({
            endpoint_id: client.resolveEndpointId(this.endpointId),
            action: request.action,
            summary: request.summary,
            cwd: request.cwd,
            execute: "agent",
            idempotency_key: `claude-${this.opts.sessionId}-${toolUseId}-${attempt}`,
            timeout_ms: timeoutMs,
            ...(request.command !== undefined ? { command: request.command } : {}),
            ...(request.detail !== undefined ? { detail: request.detail } : {}),
            ...(request.diff !== undefined ? { diff: request.diff } : {}),
          });
          this.log(`asked ${approval.approval_id} (${request.action}) for ${toolUseId} in ${Math.round(performance.now() - t0)} ms`);
        } else {
          approval = await waitAbortable(api.approval(approval.approval_id, 25_000), signal);
          if (!approval) continue;
        }
        unreachableSince = undefined;
      } catch (err) {
        if (err instanceof BrokerError && err.code === "approval_unknown") {
          approval = undefined;
          if (++attempt > 3) return deny(`Not run: Switchboard could not ask for approval (${errText(err)}).`);
          continue;
        }
        if (err instanceof BrokerError && !isUnreachable(err)) return deny(`Not run: Switchboard could not ask for approval (${errText(err)}).`);
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > LOST_GRACE_MS) return offline(`lost the broker while waiting for a decision: ${errText(err)}`);
        await sleep(250);
        continue;
      }
      switch (approval.state) {
        case "pending":
          continue;
        case "approved":
          this.log(`${approval.approval_id} approved; answering ${Math.round(performance.now() - t0)} ms after the hook called`);
          if (tool === "Bash") this.openStream(client, approval, request.action === "env" ? "env" : "sh", String(input.command ?? ""), cwd, toolUseId);
          return allow(`Approved in Switchboard${approval.decided_by ? ` by ${approval.decided_by}` : ""}.`);
        case "rejected":
          return deny(`Rejected in Switchboard${approval.decided_by ? ` by ${approval.decided_by}` : ""}: ${approval.reason?.trim() || "no reason given"}`);
        case "expired":
          return deny(TIMED_OUT_NOT_RUN);
        case "cancelled":
          approval = undefined;
          if (++attempt > 3) return deny("Not run: the approval request was cancelled by the broker.");
          continue;
      }
    }
  }

  private withdraw(client: BrokerClient, id: string): void {
    void client
      .brokerApi("approvals_v1")
      .then((api) => api.withdrawApproval(id, client.pluginPid))
      .catch(() => {});
  }

  // ---- output streams -----------------------------------------------------------------------------

  /**
   * Opens the approved command's stream without making Claude wait for it: Claude is told "allow" at
   * once, and the output (read from the transcript when the call ends) waits for the stream instead.
   */
  private openStream(client: BrokerClient, approval: Approval, action: "sh" | "env", command: string, cwd: string, toolUseId: string): void {
    const stream = client
      .brokerApi("output_streams_v1")
      .then((api) =>
        api.startStream({
          endpoint_id: client.resolveEndpointId(this.endpointId!),
          action,
          command: command || "(empty command)",
          cwd,
          approval_id: approval.approval_id,
          note: STREAM_NOTE,
        }),
      )
      .then(
        (view) => view.stream_id,
        (err: unknown) => {
          this.log(`no stream for ${toolUseId}: ${errText(err)}`);
          return undefined;
        },
      );
    this.streams.set(toolUseId, { stream, startedAt: Date.now() });
    this.followTranscript();
  }

  /** Starts reading tool results from the transcript (from its current end: the call has not run yet). */
  private followTranscript(): void {
    if (this.tail || !this.transcriptPath) return;
    this.tail = new TranscriptTail(this.transcriptPath, (e) => void this.publish({ event: { ...e, session_id: this.opts.sessionId }, offline: "block", approvalTimeoutMs: 0 }));
    this.tail.start();
  }

  /** PostToolUse(Failure) of a Bash call: the output Claude got, stdout on 1 and stderr on 2, then how it ended. */
  private async publish(call: HookCall): Promise<void> {
    const e = call.event;
    const id = typeof e.tool_use_id === "string" ? e.tool_use_id : "";
    const open = this.streams.get(id);
    if (!open || !this.client) return;
    this.streams.delete(id);
    const pid = this.client.pluginPid;
    const streamId = await open.stream;
    if (!streamId) return;
    try {
      const api = await this.client.brokerApi("output_streams_v1");
      const write = async (channel: number, text: string) => {
        for (let i = 0; i < text.length; i += CHUNK_CHARS) await api.appendChunks(streamId, [{ channel, data: text.slice(i, i + CHUNK_CHARS) }], pid);
      };
      const duration_ms = Date.now() - open.startedAt;
      if (e.hook_event_name === "PostToolUse") {
        const r = (e.tool_response ?? {}) as Record<string, unknown>;
        if (typeof r.stdout === "string" && r.stdout) await write(1, withNewline(r.stdout));
        if (typeof r.stderr === "string" && r.stderr) await write(2, withNewline(r.stderr));
        if (r.interrupted === true) await api.abortStream(streamId, "interrupted in Claude Code", pid);
        else if (typeof r.backgroundTaskId === "string")
          await api.abortStream(streamId, `running in the background in Claude Code (task ${r.backgroundTaskId}); its output is not captured`, pid);
        else await api.completeStream(streamId, { exit_code: 0, duration_ms }, pid);
      } else {
        const f = parseFailure(typeof e.error === "string" ? e.error : "");
        if (f.output) await write(1, withNewline(f.output));
        if (f.exitCode !== undefined) await api.completeStream(streamId, { exit_code: f.exitCode, duration_ms }, pid);
        else await api.abortStream(streamId, (f.reason || (e.is_interrupt === true ? "interrupted in Claude Code" : "failed in Claude Code")).slice(0, 1900), pid);
      }
    } catch (err) {
      this.log(`publishing ${streamId} failed: ${errText(err)}`);
    }
  }

  private endOpenStreams(reason: string): void {
    const client = this.client;
    for (const [id, s] of this.streams) {
      this.streams.delete(id);
      if (client)
        void s.stream
          .then(async (streamId) => {
            if (streamId) await (await client.brokerApi("output_streams_v1")).abortStream(streamId, reason, client.pluginPid);
          })
          .catch(() => {});
    }
  }

  // ---- routed messages ----------------------------------------------------------------------------

  private onMessage(m: ClientMessage): void {
    const text = m.content;
    if (!text.trim()) return;
    const source = typeof m.metadata.source_endpoint_id === "string" ? m.metadata.source_endpoint_id : undefined;
    const correlation = typeof m.metadata.correlation_id === "string" ? m.metadata.correlation_id : undefined;
    // Durable before this returns, which is when the client acknowledges the push.
    const added = this.queue.add({
      messageId: m.sourceMessageId,
      from: m.from,
      text,
      replyTo: source ?? m.from,
      replyToEndpoint: source !== undefined,
      inReplyTo: correlation ?? m.sourceMessageId,
      arrivedAt: new Date().toISOString(),
    });
    if (added) this.log(`queued ${m.sourceMessageId} from ${m.from}`);
    this.pushHint();
  }

  /** Up to `n` queued messages not already handed to a hook, oldest first. */
  private takeQueued(n: number): QueuedMessage[] {
    const out: QueuedMessage[] = [];
    for (const { message } of this.queue.list()) {
      if (out.length >= n) break;
      out.push(message);
      this.handed.set(message.messageId, message);
    }
    return out;
  }

  /** The hook printed them for Claude: they are delivered. */
  private confirm(ids: string[]): void {
    for (const id of ids) {
      const m = this.handed.get(id);
      this.handed.delete(id);
      this.queue.remove(id);
      if (m && !this.active.some((a) => a.messageId === id)) this.active.push(m);
    }
    this.pushHint();
  }

  private answerActive(lastText: string): void {
    const due = this.active;
    this.active = [];
    for (const m of due) this.reply(m, lastText.trim() ? lastText : "(Claude ended the turn without a text answer.)");
  }

  private reply(m: QueuedMessage, text: string): void {
    const client = this.client;
    const ep = this.endpointId;
    if (!client || !ep) return this.log(`reply to ${m.messageId} dropped: not connected`);
    void client
      .send({ endpoint_id: ep, to: m.replyTo, content: text, metadata: { in_reply_to: m.inReplyTo, reply_to_message_id: m.messageId } })
      .then((r) => this.log(`replied to ${m.messageId}: ${r.status}`))
      .catch((err: unknown) => this.log(`reply to ${m.messageId} failed: ${errText(err)}`));
  }

  // ---- task hint ----------------------------------------------------------------------------------

  private setStatus(status: Status, note?: string): void {
    this.status = status;
    this.statusNote = note;
    this.pushHint();
  }

  private statusNote: string | undefined;

  private hintValue(): string {
    return hintText(this.status, this.statusNote, this.hint, this.queue.size);
  }

  /** Sends the task hint when it changed; one update at a time, so that the broker ends with the latest. */
  private pushHint(): void {
    if (this.hintBusy) return;
    const value = this.hintValue();
    const client = this.client;
    if (!client || !this.endpointId || value === this.hintSent) return;
    this.hintBusy = true;
    client
      .setTaskHint(this.endpointId, value)
      .then(
        () => (this.hintSent = value),
        (err: unknown) => this.log(`task hint: ${errText(err)}`),
      )
      .finally(() => {
        this.hintBusy = false;
        if (this.hintValue() !== this.hintSent) this.pushHint();
      });
  }

  private hintBusy = false;

  // ---- the end ------------------------------------------------------------------------------------

  async stop(why: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log(`stopping: ${why}`);
    clearInterval(this.watchTimer);
    for (const w of this.waits) w.abort();
    this.tail?.stop();
    this.endOpenStreams(`the Claude Code session ended (${why})`);
    this.answerActive("(The Claude Code session ended before it answered.)");
    // Connect only if something must go back to the inbox.
    const client = this.client ?? (this.queue.size ? await bounded(this.connect(), 3000) : undefined);
    // What Claude never took up goes back to the inbox, so that someone can route it elsewhere.
    if (client) {
      for (const { message: m } of this.queue.list()) {
        try {
          await client.ingress({
            from: m.from,
            content: m.text,
            metadata: { returned_from_session: this.sessionName, original_message_id: m.messageId, in_reply_to: m.inReplyTo },
          });
          this.queue.remove(m.messageId);
        } catch (err) {
          this.log(`could not return ${m.messageId} to the inbox (kept in ${queueDir(this.opts.home, this.opts.sessionId)}): ${errText(err)}`);
        }
      }
      await sleep(50); // let the last replies go out
      await client.close().catch(() => {});
    }
    this.server.close();
    this.server.closeAllConnections?.();
    removeCompanion(this.opts.home, this.opts.sessionId, process.pid);
    removeSessionDirIfEmpty(this.opts.home, this.opts.sessionId);
    process.exit(0);
  }

  log(msg: string): void {
    process.stderr.write(`[switchboard claude ${new Date().toISOString()}] ${msg}\n`);
  }
}

// ---- helpers --------------------------------------------------------------------------------------

function tokenMatches(presented: string | undefined, expected: string): boolean {
  const a = Buffer.from(presented ?? "");
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function withNewline(s: string): string {
  return s.endsWith("\n") ? s : `${s}\n`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}

function waitAbortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener("abort", onAbort), resolve(v)),
      (e: unknown) => (signal.removeEventListener("abort", onAbort), reject(e)),
    );
  });
}

function errText(err: unknown): string {
  if (err instanceof BrokerError) return `${err.message} (${err.code})`;
  return (err as Error)?.message ?? String(err);
}

function isUnreachable(err: BrokerError): boolean {
  return ["unknown_endpoint", "endpoint_not_active", "shutting_down", "unauthorized"].includes(err.code);
}

// ---- entry ----------------------------------------------------------------------------------------

export function companionMain(argv: string[]): void {
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sessionId = arg("session") ?? "";
  const claudePid = Number(arg("claude-pid"));
  const home = arg("home") ?? stateHome();
  const here = dirname(fileURLToPath(import.meta.url));
  const companion = new Companion({
    home,
    sessionId,
    claudePid,
    cwd: arg("cwd") ?? process.cwd(),
    transcriptPath: arg("transcript"),
    spawn: !["0", "false", "no", "off"].includes((process.env.SWITCHBOARD_CLAUDE_SPAWN ?? "").trim().toLowerCase()),
    brokerEntry: join(here, "broker.js"),
    sessionName: process.env.SWITCHBOARD_CLAUDE_SESSION?.trim() || undefined,
  });
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(sig, () => void companion.stop(sig));
  companion.start().catch((err: unknown) => {
    companion.log(`could not start: ${errText(err)}`);
    process.exit(1);
  });
}
