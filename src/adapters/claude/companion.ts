// The per-session companion of a Claude Code session (dist/claude-companion.js). Claude Code's hooks
// are short-lived processes; this one lives as long as the `claude` process and holds what must
// outlive a hook call: the broker connection and the session's endpoint (kind `claude-code`), the
// durable queue of routed messages (routed-messages.ts), the approvals (gate.ts) and output streams
// (bash-streams.ts) in flight, and the task hint (task-hint.ts). Hooks reach it over HTTP on
// 127.0.0.1 with the token from `companion.json` (companion-http.ts).
//
// It watches the `claude` process (its pid comes from the SessionStart hook) and unregisters and exits
// as soon as that process is gone, also after `kill -9` when no SessionEnd hook runs. If the companion
// itself is killed, the broker closes the endpoint (its pid is dead), the next hook starts a new one,
// and the queue on disk is delivered from there.
import { randomBytes } from "node:crypto";
import { basename, dirname } from "node:path";
import { BrokerClient } from "../../client/client.js";
import { pidAlive } from "../../platform/process.js";
import { SWITCHBOARD_VERSION } from "../../protocol/index.js";
import { BashStreams } from "./bash-streams.js";
import { HookListener } from "./companion-http.js";
import { Decisions } from "../shared/decisions.js";
import { errText } from "../shared/failures.js";
import { gate } from "./gate.js";
import { formatForClaude, type HookAnswer, type HookCall } from "./protocol.js";
import { RoutedMessages } from "./routed-messages.js";
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
import { TaskHint } from "./task-hint.js";

export { STREAM_NOTE } from "./bash-streams.js";

export interface CompanionOptions {
  home: string;
  sessionId: string;
  claudePid: number;
  cwd: string;
  /** Start a broker when none runs (SWITCHBOARD_CLAUDE_SPAWN, default on). */
  spawn: boolean;
  brokerEntry?: string | undefined;
  sessionName?: string | undefined;
}

const WATCH_MS = 250;
/** Why a stream still open when Claude's turn ends got no result. */
const NO_RESULT =
  "Claude Code reported no result for this call before its turn ended: it did not run it, or Switchboard's PostToolUse hook is missing (run `switchboard install claude` again)";

export class Companion {
  private client: BrokerClient | undefined;
  private endpointId: string | undefined;
  private connecting: Promise<BrokerClient | undefined> | undefined;
  private lastConnectError = "not connected yet";
  private readonly token = randomBytes(24).toString("base64url");
  private stopping = false;
  private watchTimer: NodeJS.Timeout | undefined;
  private readonly listener: HookListener;
  private readonly messages: RoutedMessages;
  private readonly hint: TaskHint;
  private readonly streams: BashStreams;
  private readonly decisions = new Decisions();

  constructor(private readonly opts: CompanionOptions) {
    ensureSessionDir(opts.home, opts.sessionId);
    const host = { client: () => this.client, endpointId: () => this.endpointId, log: (m: string) => this.log(m) };
    this.messages = new RoutedMessages(queueDir(opts.home, opts.sessionId), { ...host, sessionName: () => this.sessionName, changed: () => this.hint.push() });
    this.hint = new TaskHint({ ...host, queued: () => this.messages.size });
    this.streams = new BashStreams({ ...host, claudePid: opts.claudePid, sessionId: opts.sessionId });
    this.listener = new HookListener(this.token, { onHook: (call, signal) => this.onHook(call, signal), onConfirm: (ids) => this.messages.confirm(ids) });
  }

  get sessionName(): string {
    if (this.opts.sessionName) return this.opts.sessionName;
    const folder = basename(this.opts.cwd) || this.opts.cwd;
    return `claude: ${folder} · ${this.opts.sessionId.slice(0, 8)}`;
  }

  async start(): Promise<void> {
    const port = await this.listener.listen();
    const record: CompanionRecord = {
      version: 1,
      pid: process.pid,
      port,
      token: this.token,
      claudePid: this.opts.claudePid,
      sessionId: this.opts.sessionId,
      startedAt: new Date().toISOString(),
    };
    const { home, sessionId } = this.opts;
    const dir = dirname(companionFile(home, sessionId));
    // For claude-hook.sh: the same address and token as "PORT TOKEN" (bash /dev/tcp) and as a curl config (curl -K).
    writeDurable(addrFile(home, sessionId), `${port} ${this.token}\n`, dir);
    writeDurable(curlConfigFile(home, sessionId), `url = "http://127.0.0.1:${port}/hook-raw"\nheader = "Authorization: Bearer ${this.token}"\n`, dir);
    writeDurable(companionFile(home, sessionId), JSON.stringify(record), dir);
    this.watchTimer = setInterval(() => {
      if (!pidAlive(this.opts.claudePid)) void this.stop("claude exited");
    }, WATCH_MS);
    void this.connect();
  }

  // ---- broker -------------------------------------------------------------------------------------

  /** Connected, or one bounded attempt (shared by concurrent callers). */
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
      client.on("message", (m) => this.messages.add(m));
      client.on("frame", (f) => void this.decisions.onFrame(f));
      client.on("error", (e) => this.log(`client: ${e.message}`));
      const hint = this.hint.value;
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
      this.hint.registered(hint); // and sends what changed while registering
      this.log(`registered ${ep.endpointId} as "${this.sessionName}"`);
      return client;
    } catch (err) {
      await client?.close({ unregister: false }).catch(() => {});
      this.lastConnectError = errText(err);
      this.log(`no broker: ${this.lastConnectError}`);
      return undefined;
    }
  }

  // ---- hook calls ---------------------------------------------------------------------------------

  async onHook(call: HookCall, signal: AbortSignal): Promise<HookAnswer> {
    const e = call.event;
    switch (e.hook_event_name) {
      case "SessionStart":
        await this.connect();
        return {};
      case "UserPromptSubmit": {
        const prompt = typeof e.prompt === "string" ? e.prompt : "";
        if (!prompt.startsWith("[Switchboard] ")) this.hint.setTask(prompt);
        this.hint.setStatus("working");
        const due = this.messages.take(Infinity);
        if (!due.length) return {};
        return {
          stdout: { hookSpecificOutput: { hookEventName: "UserPromptSubmit", additionalContext: formatForClaude(due) } },
          confirm: due.map((m) => m.messageId),
        };
      }
      case "Notification":
        this.hint.setStatus("waiting for you", typeof e.message === "string" ? e.message : undefined);
        return {};
      case "Stop": {
        this.messages.answerActive(typeof e.last_assistant_message === "string" ? e.last_assistant_message : "");
        this.streams.endAll(NO_RESULT);
        const due = this.messages.take(1);
        if (due.length) {
          this.hint.setStatus("working");
          return { stdout: { decision: "block", reason: formatForClaude(due) }, confirm: due.map((m) => m.messageId) };
        }
        this.hint.setStatus("idle");
        return {};
      }
      case "SessionEnd":
        setImmediate(() => void this.stop("the session ended"));
        return {};
      case "PreToolUse":
        this.hint.setStatus("working");
        return gate(
          {
            sessionId: this.opts.sessionId,
            cwd: this.opts.cwd,
            ensureClient: () => this.connect(),
            endpointId: () => this.endpointId,
            lastConnectError: () => this.lastConnectError,
            decisions: this.decisions,
            streams: this.streams,
            log: (m) => this.log(m),
          },
          call,
          signal,
        );
      case "PostToolUse":
      case "PostToolUseFailure":
        // Answered at once: Claude's next step never waits for the broker. Prints nothing, so Claude's result stays as it was.
        void this.streams.finish(e);
        return {};
      default:
        return {};
    }
  }

  // ---- the end ------------------------------------------------------------------------------------

  async stop(why: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log(`stopping: ${why}`);
    clearInterval(this.watchTimer);
    this.listener.close();
    this.streams.endAll(`the Claude Code session ended (${why})`);
    this.messages.answerActive("(The Claude Code session ended before it answered.)");
    // Connect only if something must go back to the inbox.
    const client = this.client ?? (this.messages.size ? await bounded(this.connect(), 3000) : undefined);
    if (client) {
      await this.messages.returnToInbox(client);
      await sleep(50); // let the last replies go out
      await client.close().catch(() => {});
    }
    removeCompanion(this.opts.home, this.opts.sessionId, process.pid);
    removeSessionDirIfEmpty(this.opts.home, this.opts.sessionId);
    process.exit(0);
  }

  log(msg: string): void {
    process.stderr.write(`[switchboard claude ${new Date().toISOString()}] ${msg}\n`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}
