// The pi session's link to the broker: discover (or spawn) it through src/client, register the
// endpoint (session name, workspace, task hint), keep the task hint current. A failed connect is tried
// again on demand, when a gated call needs the broker, as the client's first-connect retry policy
// (src/client/connect-retry.ts) allows; once connected, the client reconnects by itself.
import { basename } from "node:path";
import { BrokerClient, type ClientMessage, type StreamEventFrame } from "../../client/client.js";
import { CapabilityMissingError, ProtocolMismatchError } from "../../client/client-errors.js";
import { ON_DEMAND_RETRY_MS, attemptFailed, attemptStarted, connectRetry, connectSucceeded, retryDueIn } from "../../client/connect-retry.js";
import { DiscoveryError } from "../../client/errors.js";
import { SWITCHBOARD_VERSION } from "../../protocol/index.js";
import { errText } from "../shared/failures.js";
import { firstLine } from "../shared/task-hint.js";
import { bounded } from "../shared/waits.js";
import type { PiOffline } from "./offline.js";
import type { PiSession } from "./session.js";

/** Where the client's pushes go. */
export interface PushHandlers {
  message(m: ClientMessage): void;
  frame(f: StreamEventFrame): void;
}

export class PiConnection {
  private current: BrokerClient | undefined;
  private endpoint: string | undefined;
  private connecting: Promise<boolean> | undefined;
  private retry = connectRetry(ON_DEMAND_RETRY_MS);
  private taskHint: string | undefined;

  constructor(
    private readonly session: PiSession,
    private readonly offline: PiOffline,
    private readonly pushes: PushHandlers,
  ) {}

  /** The connected client (it may be reconnecting), if a connect succeeded. */
  get client(): BrokerClient | undefined {
    return this.current;
  }

  get endpointId(): string | undefined {
    return this.endpoint;
  }

  connect(): Promise<boolean> {
    if (this.current) return Promise.resolve(true);
    if (this.session.stopped) return Promise.resolve(false);
    return (this.connecting ??= this.doConnect().finally(() => (this.connecting = undefined)));
  }

  /** Connected (or reconnecting: calls then wait), else one bounded attempt to connect if one is due. */
  async ensureClient(signal: AbortSignal | undefined): Promise<BrokerClient | undefined> {
    if (this.current) return this.current;
    if (!this.connecting && retryDueIn(this.retry, Date.now()) > 0) return undefined;
    const ok = await bounded(this.connect(), this.session.options.connectWaitMs ?? 8000, signal);
    return ok ? this.current : undefined;
  }

  /** The task hint follows the first line of the current prompt. */
  setTaskHint(text: string): void {
    const hint = firstLine(text);
    if (!hint || hint === this.taskHint) return;
    this.taskHint = hint;
    const client = this.current;
    if (client && this.endpoint) this.session.track(client.setTaskHint(this.endpoint, hint));
  }

  /** Closing (after `session.stopped`): waits briefly for a connect in progress, which closes itself, then closes the client. */
  async close(): Promise<void> {
    if (this.connecting) await bounded(this.connecting, 2000).catch(() => false);
    const client = this.current;
    this.current = undefined;
    await client?.close().catch(() => {});
  }

  private sessionName(): string {
    const { settings, pi, ctx } = this.session;
    if (settings.sessionName) return settings.sessionName;
    let name: string | undefined;
    try {
      name = pi.getSessionName();
    } catch {
      name = undefined;
    }
    const cwd = ctx?.cwd ?? process.cwd();
    return name?.trim() || `pi: ${basename(cwd) || cwd}`;
  }

  private async doConnect(): Promise<boolean> {
    const { session } = this;
    this.retry = attemptStarted(this.retry, Date.now());
    const cwd = session.ctx?.cwd ?? process.cwd();
    let client: BrokerClient | undefined;
    try {
      client = await BrokerClient.create({
        discover: {
          spawn: session.settings.spawn,
          timeoutMs: 5000,
          ...(session.settings.home ? { home: session.settings.home } : {}),
          ...(session.options.brokerEntry ? { brokerEntry: session.options.brokerEntry } : {}),
        },
        clientKind: "pi",
        clientVersion: SWITCHBOARD_VERSION,
      });
      client.requireCapability("approvals_v1", "Approving pi's tool calls");
      client.on("message", (m) => this.pushes.message(m));
      client.on("frame", (f) => this.pushes.frame(f));
      const hint = this.taskHint;
      const ep = await client.registerEndpoint({
        kind: "pi",
        session_name: this.sessionName(),
        workspace: { root: cwd, cwd },
        runtime_capabilities: {},
        ...(hint ? { task_hint: hint } : {}),
      });
      if (session.stopped) {
        await client.close();
        return false;
      }
      client.on("endpoint_replaced", (r) => session.log(`endpoint re-registered: ${r.oldId} -> ${r.newId} (${r.reason})`));
      client.on("connection", (c) => {
        session.log(`broker connection: ${c.phase}${c.reason ? ` (${c.reason})` : ""}`);
        if (c.phase === "connected") this.offline.back(false);
      });
      client.on("error", (e) => session.log(`client: ${e.message}`));
      this.current = client;
      this.endpoint = ep.endpointId;
      this.retry = connectSucceeded(this.retry);
      // A prompt that arrived while registering.
      if (this.taskHint && this.taskHint !== hint) session.track(client.setTaskHint(ep.endpointId, this.taskHint));
      session.log(`registered ${ep.endpointId} as "${this.sessionName()}" at ${client.serverInfo.brokerUrl}`);
      this.offline.back(true);
      return true;
    } catch (err) {
      await client?.close({ unregister: false }).catch(() => {});
      this.retry = attemptFailed(this.retry);
      const why =
        err instanceof CapabilityMissingError
          ? "the broker has no approvals (is it a MASONS runtime broker?)"
          : err instanceof ProtocolMismatchError || err instanceof DiscoveryError
            ? err.message
            : errText(err);
      this.offline.lost(why);
      return false;
    }
  }
}
