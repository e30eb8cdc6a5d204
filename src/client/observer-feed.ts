// The observer feed (/v1/events, observer_feed_v1) of a BrokerClient: a snapshot of the whole broker
// state, then ordered changes. Opened once the client is connected, resumed from the last sequence
// after a reconnect, started over from a snapshot after a gap, reopened with backoff when it drops.
import * as v from "valibot";
import WebSocket from "ws";
import { SOCKETS, describeIssues, type DiscoveryRecord } from "../protocol/index.js";
import { backoffMs, type BackoffOptions } from "./connection-state.js";
import { FeedEnvelope, applyFeedFrame, feedResumeQuery, type FeedEvent, type FeedModel, type FeedRecord } from "./feed-model.js";
import { rawToString } from "./sockets.js";
import { wsTransport } from "../platform/transport.js";

/** What the feed needs from its client. */
export interface FeedHost {
  /** The broker to open the feed on, when the client is connected and the broker offers the feed. */
  target(): DiscoveryRecord | undefined;
  /** The client is closed for good: stop reopening. */
  closed(): boolean;
  backoff: BackoffOptions & { random: () => number };
  onEvent(frame: FeedEvent): void;
  /** The whole approval (GET /v1/approvals/:id), for one the feed carried as a preview. */
  fullApproval(id: string): Promise<FeedRecord>;
  /** The model changed without a frame: a preview was replaced by the whole approval. */
  onText(): void;
  report(err: Error): void;
  closeSocket(ws: WebSocket): Promise<void>;
}

export class ObserverFeed {
  private observing: boolean;
  private ws: WebSocket | undefined;
  private current: FeedModel | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private readonly fetching = new Set<string>();

  constructor(
    private readonly host: FeedHost,
    observe: boolean,
  ) {
    this.observing = observe;
  }

  /** The state after the last snapshot and changes, if observing. */
  get model(): FeedModel | undefined {
    return this.current;
  }

  /** Observe from now on (and after every reconnect). */
  start(): void {
    this.observing = true;
    this.open();
  }

  /** Opens the feed if it should be open and is not; the client calls it on every `connected`. */
  open(): void {
    if (!this.observing || this.ws) return;
    const record = this.host.target();
    if (!record) return;
    const url = record.ipcUrl.replace(/^http/, "ws") + SOCKETS.events.path + feedResumeQuery(this.current);
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${record.bearerToken}` }, perMessageDeflate: false, handshakeTimeout: 5000, ...wsTransport(record) });
    this.ws = ws;
    ws.on("error", () => {}); // the close that follows schedules a reopen
    ws.on("open", () => (this.failures = 0));
    ws.on("message", (data, isBinary) => this.onFrame(ws, data, isBinary));
    ws.on("close", () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.scheduleReopen();
    });
  }

  /** Stops reopening and closes the socket. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const ws = this.ws;
    this.ws = undefined;
    if (ws) void this.host.closeSocket(ws);
  }

  private scheduleReopen(): void {
    clearTimeout(this.timer);
    if (this.host.closed() || !this.observing) return;
    // While reconnecting, the `connected` phase reopens it.
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.open();
      },
      backoffMs(this.failures++, this.host.backoff),
    );
  }

  private onFrame(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    if (this.ws !== ws) return;
    let raw: unknown;
    try {
      raw = isBinary ? undefined : JSON.parse(rawToString(data));
    } catch {
      raw = undefined;
    }
    const parsed = v.safeParse(FeedEnvelope, raw);
    if (!parsed.success) return this.host.report(new Error(`Ignored a bad observer feed frame: ${describeIssues(parsed.issues, "frame")}`));
    const step = applyFeedFrame(this.current, parsed.output);
    if (step.kind === "stale") return;
    if (step.kind === "gap") {
      // Missed changes: start over from a snapshot.
      this.current = undefined;
      this.ws = undefined;
      void this.host.closeSocket(ws);
      this.open();
      return;
    }
    this.current = step.model;
    this.host.onEvent(parsed.output);
    this.fetchFullTexts(step.model);
  }

  /**
   * Approvals in the feed are previews when their command, detail or diff is long (`truncated`); the
   * person deciding must be able to read all of it, so fetch the whole approval once and put it in the
   * model in the preview's place.
   */
  private fetchFullTexts(model: FeedModel): void {
    for (const [id, a] of model.approvals) {
      if (!a.truncated || this.fetching.has(id)) continue;
      this.fetching.add(id);
      void this.host
        .fullApproval(id)
        .then((full) => {
          const now = this.current?.approvals.get(id);
          if (!this.current || !now?.truncated || now.state !== full.state) return;
          this.current = { ...this.current, approvals: new Map(this.current.approvals).set(id, full) };
          this.host.onText();
        })
        .catch((err: unknown) => this.host.report(new Error(`Could not fetch the whole text of approval ${id}: ${(err as Error)?.message ?? String(err)}`)))
        .finally(() => this.fetching.delete(id));
    }
  }
}
