// This window's link to the broker: a BrokerClient that watches the observer feed and owns this
// window's endpoint (kind "vscode"). Everything else in the extension reads state from here.
import * as vscode from "vscode";
import {
  BrokerClient,
  TIMED_RETRY_MS,
  attemptFailed,
  attemptStarted,
  connectRetry,
  connectSucceeded,
  retryDelayMs,
  type BrokerApi,
  type FeedModel,
  type RegisteredEndpoint,
  type StreamEventFrame,
} from "../client/index.js";
import { SWITCHBOARD_VERSION, type Approval, type ConnectionPhase, type EndpointView, type PolicyView, type SidebarState, type WindowMessage } from "../protocol/index.js";
import { log } from "./log.js";
import type { Settings } from "./settings.js";
import { newlyPending, newlyWaiting, sidebarState } from "./state.js";

export class BrokerLink implements vscode.Disposable {
  private client: BrokerClient | undefined;
  private self: RegisteredEndpoint | undefined;
  private messages: WindowMessage[] = [];
  private phase: ConnectionPhase = "connecting";
  private reason: string | undefined;
  private lastFeed: FeedModel | undefined;
  private policy: PolicyView | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The first-connect retry policy of src/client: a failed start is tried again on a timer. */
  private retry = connectRetry(TIMED_RETRY_MS);
  private disposed = false;
  /** How long the last start() took to connect and to register (milliseconds), for the log and benchmarks. */
  timings: { connectMs: number; registerMs: number } | undefined;

  private readonly changed = new vscode.EventEmitter<void>();
  /** The sidebar state changed (feed, connection, messages). */
  readonly onDidChange = this.changed.event;
  private readonly approvalsArrived = new vscode.EventEmitter<Approval[]>();
  /** Approvals that just became pending (not those of the first snapshot after a reconnect). */
  readonly onNewApprovals = this.approvalsArrived.event;
  private readonly sessionsWaiting = new vscode.EventEmitter<EndpointView[]>();
  /** Agent sessions that started waiting for their user (e.g. Claude Code's Notification hook). */
  readonly onSessionsWaiting = this.sessionsWaiting.event;
  private readonly frames = new vscode.EventEmitter<StreamEventFrame>();
  /** Event frames for this window's endpoint (stream_cancelled, approval_resolved). */
  readonly onFrame = this.frames.event;
  private readonly connected = new vscode.EventEmitter<void>();
  readonly onDidConnect = this.connected.event;
  private readonly policyChanged = new vscode.EventEmitter<void>();
  /** The broker's rules in force may have changed: a `policy_changed` on the feed, or a fresh snapshot (changes may have been missed). */
  readonly onPolicyChanged = this.policyChanged.event;

  constructor(
    private readonly brokerEntry: string,
    private settings: Settings,
  ) {}

  get sessionName(): string {
    return this.settings.sessionName ?? vscode.workspace.name ?? "VS Code";
  }

  get selfEndpointId(): string | undefined {
    return this.self ? this.client?.resolveEndpointId(this.self.endpointId) : undefined;
  }

  get feed(): FeedModel | undefined {
    return this.client?.feed;
  }

  get pluginPid(): number {
    return process.pid;
  }

  get brokerRecord() {
    return this.client?.discovery?.record;
  }

  get isConnected(): boolean {
    return this.phase === "connected";
  }

  updateSettings(settings: Settings): void {
    const reconnect = settings.brokerHome !== this.settings.brokerHome || (settings.autoStart && !this.settings.autoStart && !this.isConnected);
    const renamed = settings.sessionName !== this.settings.sessionName;
    this.settings = settings;
    if (reconnect || renamed) void this.restart("settings changed");
    else this.changed.fire();
  }

  /** The approval rules in force, fetched by PolicyUi, for the sidebar's Policy section. */
  setPolicy(view: PolicyView): void {
    this.policy = view;
    this.changed.fire();
  }

  /** Pending approvals, counted without building the whole state (badge and status bar). */
  pendingCount(): number {
    let n = 0;
    for (const a of this.feed?.approvals.values() ?? []) if ((a as { state?: unknown }).state === "pending") n++;
    return n;
  }

  get connectionPhase(): ConnectionPhase {
    return this.phase;
  }

  get connectionReason(): string | undefined {
    return this.reason;
  }

  state(): SidebarState {
    const info = this.client && this.phase !== "disconnected" ? safe(() => this.client!.serverInfo) : undefined;
    const selfId = this.selfEndpointId;
    return sidebarState(this.feed, {
      // "Connected" in the sidebar means its lists are the broker's: not before the feed's snapshot.
      phase: this.phase === "connected" && !this.feed ? "connecting" : this.phase,
      reason: this.reason,
      brokerUrl: info?.brokerUrl,
      brokerVersion: info?.serverVersion,
      self: selfId ? { endpoint_id: selfId, session_name: this.sessionName } : undefined,
      messages: this.messages,
      recentStreams: this.settings.recentStreams,
      warnings: info?.warnings.map((w) => w.message),
      policy: this.phase === "disconnected" ? undefined : this.policy,
    });
  }

  /** Binary stream output on this window's /v1/stream socket; false when there is none. */
  sendStreamFrame(frame: Buffer, done: (err?: Error) => void): boolean {
    return this.client?.sendStreamFrame(frame, done) ?? false;
  }

  /** The typed API of the current broker, for approvals, streams, inbox and sessions. */
  api(capability?: string): Promise<BrokerApi> {
    if (!this.client) return Promise.reject(new Error("Not connected to the Switchboard broker; run Switchboard: Reconnect."));
    return this.client.brokerApi(capability);
  }

  async start(): Promise<void> {
    clearTimeout(this.retryTimer);
    if (this.disposed) return;
    this.setPhase("connecting");
    this.retry = attemptStarted(this.retry, Date.now());
    const started = performance.now();
    const client = new BrokerClient({
      discover: { home: this.settings.brokerHome, spawn: this.settings.autoStart, brokerEntry: this.brokerEntry, timeoutMs: 10_000 },
      // The feed opens once this window is registered (below), off the path to registered.
      observe: false,
      clientKind: "vscode",
      clientVersion: SWITCHBOARD_VERSION,
    });
    this.client = client;
    client.on("connection", (c) => {
      if (this.client !== client) return;
      log().info(`broker connection: ${c.phase}${c.reason ? ` (${c.reason})` : ""}`);
      if (c.phase === "connected") this.retry = connectSucceeded(this.retry);
      this.setPhase(c.phase === "connected" ? "connected" : c.phase === "reconnecting" ? "reconnecting" : c.phase === "disconnected" ? "disconnected" : "connecting", c.reason);
      if (c.phase === "connected") this.connected.fire();
    });
    client.on("feed", (f) => {
      if (this.client !== client) return;
      const model = client.feed;
      // A snapshot after a reconnect re-lists old approvals; only changes announce new ones.
      if (model && f.type === "change") {
        const fresh = newlyPending(this.lastFeed, model);
        if (fresh.length) this.approvalsArrived.fire(fresh);
        const waiting = newlyWaiting(this.lastFeed, model);
        if (waiting.length) this.sessionsWaiting.fire(waiting);
      }
      this.lastFeed = model;
      this.changed.fire();
      if (f.type === "snapshot" || f.change.kind === "policy_changed") this.policyChanged.fire();
    });
    // A long approval's full text replaced its preview in the model.
    client.on("feedText", () => {
      if (this.client !== client) return;
      this.lastFeed = client.feed;
      this.changed.fire();
    });
    client.on("message", (m) => {
      if (m.endpointId !== this.selfEndpointId) return;
      this.messages = [
        {
          id: m.sourceMessageId,
          from: m.from,
          content: m.content,
          content_type: m.contentType,
          metadata: m.metadata,
          received_at: new Date().toISOString(),
          correlation_id: typeof m.metadata.correlation_id === "string" ? m.metadata.correlation_id : null,
          source_endpoint_id: typeof m.metadata.source_endpoint_id === "string" ? m.metadata.source_endpoint_id : null,
          replied: false,
        },
        ...this.messages,
      ].slice(0, this.settings.recentMessages);
      log().info(`message ${m.sourceMessageId} from ${m.from}`);
      this.changed.fire();
    });
    client.on("frame", (f) => this.frames.fire(f));
    client.on("endpoint_replaced", (r) => log().info(`endpoint ${r.oldId} re-registered as ${r.newId} (${r.reason})`));
    client.on("error", (e) => log().warn(e.message));
    try {
      await client.connect();
      const connectedAt = performance.now();
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      this.self = await client.registerEndpoint({
        kind: "vscode",
        session_name: this.sessionName,
        ...(folder ? { workspace: { root: folder, cwd: folder } } : {}),
        runtime_capabilities: { editor_execute_v1: true },
      });
      this.timings = { connectMs: connectedAt - started, registerMs: performance.now() - connectedAt };
      client.startObserving();
      log().info(
        `registered this window as ${this.self.endpointId} ("${this.sessionName}") in ${Math.round(performance.now() - started)} ms; broker ${client.serverInfo.brokerUrl}${client.serverInfo.spawned ? " (started by this window)" : ""}`,
      );
      this.setPhase("connected");
      this.connected.fire();
    } catch (err) {
      if (this.client !== client) return;
      // Let go of it first: its "closed" below must not turn this window's state into "connecting",
      // which would hide the disconnected banner (and its reason) until the next attempt.
      this.client = undefined;
      const message = (err as Error).message;
      log().error(`could not connect to the broker: ${message}`);
      this.setPhase("disconnected", message);
      await client.close({ unregister: false }).catch(() => {});
      this.scheduleRetry();
    }
  }

  /** Closes and connects again (Switchboard: Reconnect, settings changes). */
  async restart(why: string): Promise<void> {
    log().info(`reconnecting: ${why}`);
    const old = this.client;
    this.client = undefined;
    this.self = undefined;
    await old?.close({ unregister: true }).catch(() => {});
    await this.start();
  }

  markReplied(messageId: string): void {
    this.messages = this.messages.map((m) => (m.id === messageId ? { ...m, replied: true } : m));
    this.changed.fire();
  }

  message(id: string): WindowMessage | undefined {
    return this.messages.find((m) => m.id === id);
  }

  private scheduleRetry(): void {
    if (this.disposed) return;
    this.retry = attemptFailed(this.retry);
    this.retryTimer = setTimeout(() => void this.start(), retryDelayMs(this.retry));
  }

  private setPhase(phase: ConnectionPhase, reason?: string): void {
    this.phase = phase;
    this.reason = phase === "connected" ? undefined : reason;
    this.changed.fire();
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.close({ unregister: true }).catch(() => {});
    this.changed.dispose();
    this.approvalsArrived.dispose();
    this.sessionsWaiting.dispose();
    this.frames.dispose();
    this.connected.dispose();
    this.policyChanged.dispose();
  }
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
