// Output streams, their lifecycle: start, chunks from the producer (binary /v1/stream frames, JSON
// frames or HTTP) numbered and cut on UTF-8 character boundaries, head and tail per channel in memory,
// complete / abort / cancel, replay pages and followers, restore after a restart. Output is handled as
// raw bytes throughout; it becomes a string only for a JSON consumer. The output file's writes are
// stream-writes.ts, live followers (a slow one never blocks anyone) stream-followers.ts.
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm } from "node:fs/promises";
import { openNoFollow } from "../platform/files.js";
import { join } from "node:path";
import type WebSocket from "ws";
import {
  incompleteUtf8Tail,
  ProtocolError,
  type Chunk,
  type AbortRequest,
  type CompleteRequest,
  type ReplayResponse,
  type StreamStartRequest,
  type StreamView,
} from "../protocol/index.js";
import { CancelReports } from "./cancel-reports.js";
import { syncDir } from "./journal-files.js";
import { readRecords, STOP, type Piece } from "./stream-file.js";
import { Followers, sendFrame } from "./stream-followers.js";
import { lastBytes, newChannel, newLive, type ChannelState, type Follower, type Live } from "./stream-live.js";
import { StreamWrites, offsetFor } from "./stream-writes.js";
import { DEFAULT_LIMITS, limitReached, type Limits } from "./limits.js";
import { storageError } from "./storage-errors.js";
import type { ApprovalDesk } from "./approvals.js";
import type { Broker } from "./broker.js";
import type { Logger } from "./log.js";
import type { Store, StreamMeta } from "./store.js";

export interface StreamLimits {
  /** Bytes of output kept on disk per stream; beyond it only the in-memory tail is kept. */
  fileCapBytes: number;
  headBytes: number;
  tailBytes: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = { fileCapBytes: 256 * 1024 * 1024, headBytes: 64 * 1024, tailBytes: 256 * 1024 };

/** Producers are slowed (HTTP answers wait, socket reads pause) while this much output is unwritten. */
const WRITE_HIGH_WATER = 8 * 1024 * 1024;
/** How long `complete {last_seq}` waits for chunks still in flight on the producer's socket. */
const COMPLETE_WAIT_MS = 10_000;
const STATUS = { streaming: 102, completed: 200, aborted: 499, cancelled: 499 } as const;

export class StreamHub {
  private readonly live = new Map<string, Live>();
  /**
   * Streams between leaving `live` and having all their output in the file (finish()): a replay or a
   * new follower waits for them, or it would read a file that still lacks the last chunks.
   */
  private readonly ending = new Map<string, Live>();
  /** Cancelled streams whose producer has not yet reported how the command ended (see cancel-reports.ts). */
  private readonly reports = new CancelReports();
  private readonly writes: StreamWrites;
  private readonly followers: Followers;
  private readonly dir: string;

  constructor(
    private readonly store: Store,
    private readonly broker: Broker,
    private readonly approvals: ApprovalDesk,
    home: string,
    private readonly limits: StreamLimits,
    private readonly log: Logger,
    private readonly bounds: Limits = DEFAULT_LIMITS,
    /** Test hook: runs before each fdatasync of an output file (a slow disk). */
    beforeSync?: () => Promise<void>,
  ) {
    this.dir = join(home, "streams");
    this.writes = new StreamWrites(limits.fileCapBytes, log, beforeSync);
    this.followers = new Followers({
      storedLastSeq: (id) => this.store.streams.get(id)?.last_seq ?? 0,
      flushed: (live) => this.writes.flushed(live),
      readFile: (id, live, fromSeq, channel, each) => this.readFile(id, live, fromSeq, channel, each),
      sendEnd: (ws, id) => this.sendEnd(ws, id),
    });
    // A producer whose endpoint closed (its process exited, its grace ran out, it unregistered) will
    // never complete its streams: abort them now rather than leave them streaming until a restart.
    broker.onEndpointClosed((endpointId) => {
      for (const live of [...this.live.values()]) {
        if (live.meta.endpoint_id !== endpointId) continue;
        this.finish(live, { state: "aborted", reason: "the producing session ended before the command finished" }).catch((err) =>
          this.log.error("aborting the stream of a closed endpoint failed", { stream_id: live.meta.stream_id, err: String(err) }),
        );
      }
      // A cancelled stream's producer that is gone will not report how its command ended.
      for (const id of this.reports.ids()) if (this.store.streams.get(id)?.endpoint_id === endpointId) this.reports.release(id);
    });
  }

  /**
   * After a restart, streams that were running have lost their producer connection: abort them. Their
   * figures (last seq, bytes per channel) were only journaled at the end, so they are read back from
   * the output file first: the aborted stream's view then matches what its replay returns.
   */
  async restore(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const running = [...this.store.streams.values()].filter((m) => m.state === "streaming");
    await Promise.all(
      running.map(async (meta) => {
        const live = this.runtime(meta);
        await readRecords(this.file(meta.stream_id), 1, undefined, (p) => {
          live.lastSeq = Math.max(live.lastSeq, p.seq);
          let st = live.channels.get(p.channel);
          if (!st) live.channels.set(p.channel, (st = newChannel()));
          st.bytes += p.data.length;
        });
        await this.finish(live, { state: "aborted", reason: "the broker restarted while the command was running" });
      }),
    );
    // Output files of streams the store no longer remembers are garbage.
    const keep = new Set([...this.store.streams.keys()].map((id) => `${id}.out`));
    for (const f of await readdir(this.dir)) if (!keep.has(f)) await rm(join(this.dir, f), { force: true });
  }

  list(): StreamView[] {
    return [...this.store.streams.values()].map((m) => this.view(m)).sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  get(id: string): StreamView {
    return this.view(this.meta(id));
  }

  async start(body: StreamStartRequest): Promise<StreamView> {
    const ep = this.broker.requireOpenEndpoint(body.endpoint_id);
    // Each running stream holds an open file and buffers: bounded per producer and in total.
    let mine = 0;
    for (const l of this.live.values()) if (l.meta.producer_pid === ep.plugin_pid) mine++;
    if (mine >= this.bounds.streamsPerProducer)
      throw limitReached(
        "producer_streams_full",
        "streamsPerProducer",
        this.bounds,
        `Process ${ep.plugin_pid} already has as many running streams as it may; complete or abort some first`,
      );
    if (this.live.size >= this.bounds.streamsTotal)
      throw limitReached("streams_full", "streamsTotal", this.bounds, "The broker already has as many running streams as it may; try again when some have ended");
    const approval = body.approval_id ? this.approvals.get(body.approval_id) : null;
    if (approval && approval.state !== "approved")
      throw new ProtocolError("approval_not_approved", `Approval ${approval.approval_id} is ${approval.state}; a stream can only follow an approved request.`);
    const meta: StreamMeta = {
      stream_id: `str_${randomBytes(12).toString("base64url")}`,
      endpoint_id: ep.endpoint_id,
      producer_pid: ep.plugin_pid,
      session: this.broker.label(ep),
      action: body.action,
      command: body.command,
      cwd: body.cwd ?? null,
      approval_id: body.approval_id ?? null,
      ...(approval?.decided_by ? { decided_by: approval.decided_by } : {}),
      ...(body.output_merged ? { output_merged: true } : {}),
      ...(body.cancellable === false ? { cancellable: false as const } : {}),
      state: "streaming",
      status: 102,
      created_at: new Date().toISOString(),
      ended_at: null,
      exit_code: null,
      signal: null,
      duration_ms: null,
      reason: null,
      last_seq: 0,
      channels: {},
      ...(body.note ? { note: body.note } : {}),
    };
    const live = this.runtime(meta);
    live.file = await openNoFollow(this.file(meta.stream_id), "a");
    // The file's directory entry must be durable before any output in it is acknowledged.
    const durable = Promise.all([this.save(live), syncDir(this.dir)]);
    if (body.approval_id) this.approvals.linkStream(body.approval_id, meta.stream_id);
    this.log.info("stream started", { stream_id: meta.stream_id, action: meta.action, endpoint_id: ep.endpoint_id });
    await durable;
    return this.view(meta);
  }

  /** Appends chunks from the producer. Resolves when the producer may send more (backpressure). */
  async append(id: string, chunks: Chunk[], producerPid?: number): Promise<{ last_seq: number }> {
    const live = this.live.get(id);
    if (!live) {
      const meta = this.meta(id);
      // Output after a cancel is expected (the producer had not heard yet) and is dropped quietly.
      if (meta.state === "cancelled") return { last_seq: meta.last_seq };
      throw new ProtocolError("stream_ended", `Stream ${id} has ${meta.state}; it takes no more output.`);
    }
    if (producerPid !== undefined && producerPid !== live.meta.producer_pid)
      throw new ProtocolError("stream_not_producer", "Only the process that started this stream can write to it.");
    for (const chunk of chunks) if (chunk.data) this.ingest(live, chunk.channel, chunk.seq ?? live.lastSeq + 1, Buffer.from(chunk.data, "utf8"));
    this.afterIngest(live);
    const lastSeq = live.lastSeq;
    // Durable before acknowledged: the answer waits for the round (group commit) that syncs these chunks.
    try {
      await this.writes.durable(live);
    } catch (err) {
      throw (
        storageError(err) ??
        new ProtocolError("storage_unavailable", "This stream's output could not be written to the state folder, so it was not kept; see the broker log.", { retryable: true })
      );
    }
    return { last_seq: lastSeq };
  }

  /**
   * The fast path: one chunk frame from the producer's /v1/stream socket (binary or JSON). Returns a
   * promise when the producer must wait (its socket is paused until then). Frames for a stream that
   * ended or that the sender does not produce are dropped: the producer learns from `stream_cancelled`
   * or from the answer to its `complete`.
   */
  appendFrame(id: string, channel: number, seq: number | undefined, data: Buffer, producerPid: number): Promise<void> | undefined {
    const live = this.live.get(id);
    if (!live || live.meta.producer_pid !== producerPid || !data.length) return undefined;
    this.ingest(live, channel, seq ?? live.lastSeq + 1, data);
    this.afterIngest(live);
    return live.pendingBytes > WRITE_HIGH_WATER ? this.writes.flushed(live) : undefined;
  }

  async complete(id: string, body: CompleteRequest, producerPid?: number): Promise<StreamView> {
    const live = this.liveFor(id, producerPid);
    if (!live) return this.endedAlready(id, body);
    // Chunk frames on the producer's socket and this HTTP call are not ordered: wait for the rest.
    if (body.last_seq !== undefined && live.lastSeq < body.last_seq) await this.seqReached(live, body.last_seq, COMPLETE_WAIT_MS);
    if (!this.live.has(id)) return this.endedAlready(id, body); // ended meanwhile (cancelled)
    const ok = body.exit_code === 0 && !body.signal;
    return this.finish(live, {
      state: "completed",
      status: ok ? 200 : 500,
      exit_code: body.exit_code,
      signal: body.signal ?? null,
      duration_ms: body.duration_ms ?? Date.now() - Date.parse(live.meta.created_at),
      ...(body.reason ? { reason: body.reason } : {}),
    });
  }

  abort(id: string, body: AbortRequest, producerPid?: number): Promise<StreamView> {
    const live = this.liveFor(id, producerPid);
    const ended = { exit_code: body.exit_code ?? null, signal: body.signal ?? null, duration_ms: body.duration_ms ?? null };
    if (!live) {
      // After a cancel: record how the process ended, if the producer says so, and let followers go.
      if (ended.exit_code !== null || ended.signal !== null) return this.endedAlready(id, { exit_code: ended.exit_code, signal: ended.signal, duration_ms: body.duration_ms });
      this.reports.release(id);
      return this.broker.whenDurable().then(() => this.get(id)); // a repeat: answer once the end is durable
    }
    return this.finish(live, { state: "aborted", reason: body.reason ?? "stopped by the producer", ...ended });
  }

  /** A consumer asks the producer to stop: the stream ends as cancelled (499) and the producer is told. */
  async cancel(id: string, reason: string | undefined): Promise<StreamView> {
    const live = this.live.get(id);
    if (!live) {
      await this.broker.whenDurable(); // a repeat: answer once the end is durable
      return this.get(id);
    }
    if (live.meta.cancellable === false)
      throw new ProtocolError("stream_not_cancellable", `Stream ${id} cannot be stopped here: "${live.meta.session}" runs it itself; stop it there.`);
    const why = reason ?? "cancelled by a viewer";
    this.reports.await(id);
    const view = await this.finish(live, { state: "cancelled", reason: why });
    this.broker.enqueueFrame(live.meta.endpoint_id, { event: "stream_cancelled", stream_id: id, reason: why });
    return view;
  }

  /**
   * What a late viewer needs: the stream and one page of its output from `fromSeq` on (optionally one
   * channel), at most about `maxBytes` of it; `next_from_seq` names the next page. A page, never the
   * whole output: a 50 MB stream is not built into one answer.
   */
  async replay(id: string, channel?: number, fromSeq = 1, maxBytes = REPLAY_PAGE_BYTES): Promise<ReplayResponse> {
    const meta = this.meta(id);
    const live = this.live.get(id);
    if (live) await this.writes.flushed(live);
    else await this.ending.get(id)?.finished;
    const chunks: ReplayResponse["chunks"] = [];
    let bytes = 0;
    let next: number | null = null;
    await this.readFile(id, live, fromSeq, channel, (c) => {
      if (bytes > 0 && bytes + c.data.length > maxBytes) {
        next = c.seq;
        return STOP;
      }
      bytes += c.data.length;
      chunks.push({ channel: c.channel, seq: c.seq, data: c.data.toString("utf8") });
    });
    const view = this.view(meta);
    const truncated = Object.values(view.channels).some((c) => c.truncated);
    const tail: Record<string, string> = {};
    if (truncated && live)
      for (const [ch, st] of live.channels) if (st.truncated && (channel === undefined || channel === ch)) tail[ch] = lastBytes(st.tailParts, this.limits.tailBytes);
    return { stream: view, chunks, truncated, tail, next_from_seq: next };
  }

  /** A live follower socket: hello, replay from `fromSeq`, then chunks as they come, then end. */
  follow(ws: WebSocket, id: string, fromSeq: number, channel: number | undefined, binary = false): void {
    const meta = this.store.streams.get(id);
    if (!meta) {
      ws.close(4404, "unknown stream");
      return;
    }
    const live = this.live.get(id);
    const f: Follower = { ws, channel, sentSeq: fromSeq - 1, behind: true, binary };
    sendFrame(ws, { type: "hello", stream: this.view(meta) });
    if (live) {
      live.followers.add(f);
      ws.on("close", () => live.followers.delete(f));
    }
    const ending = live ? undefined : this.ending.get(id);
    if (ending) void ending.finished.then(() => this.followers.catchUp(id, undefined, f, false));
    else void this.followers.catchUp(id, live, f, false);
  }

  stop(): Promise<void> {
    this.reports.releaseAll();
    const all = [...this.live.values()];
    for (const live of all) for (const f of live.followers) f.ws.close(1001, "broker shutting down");
    return Promise.all(
      all.map(async (l) => {
        await this.writes.flushed(l);
        await l.file?.close();
      }),
    ).then(() => undefined);
  }

  // ---- internals ------------------------------------------------------------------------------------

  private runtime(meta: StreamMeta): Live {
    const live = newLive(meta);
    if (meta.state === "streaming") this.live.set(meta.stream_id, live);
    return live;
  }

  private seqReached(live: Live, seq: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter = {
        seq,
        wake: () => {
          clearTimeout(timer);
          live.seqWaiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.log.warn("stream completed before all its chunks arrived", { stream_id: live.meta.stream_id, have: live.lastSeq, want: seq });
        waiter.wake();
      }, timeoutMs);
      live.seqWaiters.add(waiter);
    });
  }

  private meta(id: string): StreamMeta {
    const meta = this.store.streams.get(id);
    if (!meta) throw new ProtocolError("stream_unknown", `No stream has id ${id}.`);
    return meta;
  }

  private liveFor(id: string, producerPid: number | undefined): Live | undefined {
    const live = this.live.get(id);
    if (!live) {
      this.meta(id); // 404 for unknown ids
      return undefined;
    }
    if (producerPid !== undefined && producerPid !== live.meta.producer_pid)
      throw new ProtocolError("stream_not_producer", "Only the process that started this stream can end it.");
    return live;
  }

  /** A producer reporting the exit of a command whose stream a viewer already cancelled: record how it ended. */
  private async endedAlready(id: string, body: CompleteRequest): Promise<StreamView> {
    const meta = this.meta(id);
    if (meta.state === "cancelled" && meta.exit_code === null && meta.signal === null) {
      const updated = { ...meta, exit_code: body.exit_code, signal: body.signal ?? null, duration_ms: body.duration_ms ?? meta.duration_ms };
      const durable = this.broker.journal({ t: "str", s: updated });
      this.broker.feed.publish({ kind: "stream_upserted", stream: this.view(updated) });
      await durable;
      this.reports.release(id);
      return this.view(updated);
    }
    this.reports.release(id);
    // Aborted (by the producer, its session's end or a broker restart): the exit it reports comes too
    // late to be recorded, and answering 200 would say it was.
    if (meta.state === "aborted")
      throw new ProtocolError("stream_ended", `Stream ${id} was aborted (${meta.reason ?? "no reason given"}); its exit cannot be recorded any more.`, {
        state: meta.state,
        stream: this.view(meta),
      });
    // A repeat (a producer retrying a complete whose answer it lost): the end it reports may still be
    // on its way to disk, and answering now would acknowledge it early.
    await this.broker.whenDurable();
    return this.view(this.meta(id));
  }

  /** The `end` frame, with the stream as it is once any pending report from its producer is in. */
  private async sendEnd(ws: WebSocket, id: string): Promise<void> {
    await this.reports.done(id);
    sendFrame(ws, { type: "end", stream: this.get(id) });
  }

  private view(meta: StreamMeta): StreamView {
    const live = this.live.get(meta.stream_id);
    const channels: StreamView["channels"] = {};
    if (live) for (const [ch, st] of live.channels) channels[ch] = { bytes: st.bytes, truncated: st.truncated };
    const { producer_pid: _pid, ...rest } = meta;
    return { ...rest, last_seq: live ? live.lastSeq : meta.last_seq, channels: live ? channels : meta.channels };
  }

  /** Numbers one chunk, cuts it on a character boundary, and hands it to memory, the file and the followers. */
  private ingest(live: Live, channel: number, seq: number, data: Buffer): void {
    if (seq <= live.lastSeq) return; // a retried chunk: already have it
    live.lastSeq = seq;
    let st = live.channels.get(channel);
    if (!st) live.channels.set(channel, (st = newChannel()));
    if (st.carry) {
      data = Buffer.concat([st.carry, data]);
      st.carry = undefined;
    }
    const cut = incompleteUtf8Tail(data);
    if (cut) {
      st.carry = Buffer.from(data.subarray(data.length - cut));
      data = data.subarray(0, data.length - cut);
    }
    if (data.length) this.take(live, st, { channel, seq, data });
  }

  private take(live: Live, st: ChannelState, p: Piece): void {
    st.bytes += p.data.length;
    if (st.headLen < this.limits.headBytes) {
      const part = p.data.subarray(0, this.limits.headBytes - st.headLen);
      st.head.push(Buffer.from(part)); // a copy: a view would pin the whole frame
      st.headLen += part.length;
    }
    st.tailParts.push(p.data);
    st.tailLen += p.data.length;
    while (st.tailParts.length > 1 && st.tailLen - st.tailParts[0]!.length >= this.limits.tailBytes) st.tailLen -= st.tailParts.shift()!.length;
    this.writes.queue(live, st, p);
    this.followers.fanOut(live, p);
  }

  private afterIngest(live: Live): void {
    this.writes.kick(live);
    for (const w of [...live.seqWaiters]) if (live.lastSeq >= w.seq) w.wake();
  }

  /** Bytes held back at the end of a channel (a character the producer never finished) go out as they are. */
  private flushCarries(live: Live): void {
    for (const [channel, st] of live.channels) {
      if (!st.carry) continue;
      const data = st.carry;
      st.carry = undefined;
      this.take(live, st, { channel, seq: ++live.lastSeq, data });
    }
    this.afterIngest(live);
  }

  private readFile(id: string, live: Live | undefined, fromSeq: number, channel: number | undefined, each: (p: Piece) => void | typeof STOP | Promise<void>): Promise<void> {
    return readRecords(this.file(id), fromSeq, channel, each, offsetFor(live, fromSeq));
  }

  private async finish(live: Live, end: Partial<StreamMeta> & { state: StreamMeta["state"] }): Promise<StreamView> {
    this.flushCarries(live);
    this.live.delete(live.meta.stream_id);
    this.ending.set(live.meta.stream_id, live);
    live.ended = true;
    // Synced before the end is journaled: a completed stream's output is all on disk.
    if (live.file) await this.writes.durable(live).catch(() => {});
    await this.writes.flushed(live);
    await live.file?.close().catch(() => {});
    const channels: StreamMeta["channels"] = {};
    for (const [ch, st] of live.channels) channels[ch] = { bytes: st.bytes, truncated: st.truncated };
    live.meta = {
      ...live.meta,
      status: STATUS[end.state],
      ended_at: new Date().toISOString(),
      ...end,
      last_seq: live.lastSeq,
      channels,
    };
    const durable = this.save(live);
    this.ending.delete(live.meta.stream_id);
    live.markFinished();
    for (const f of live.followers) if (!f.behind) void this.sendEnd(f.ws, live.meta.stream_id);
    this.log.info("stream ended", { stream_id: live.meta.stream_id, state: live.meta.state, exit_code: live.meta.exit_code, signal: live.meta.signal });
    await durable;
    return this.view(live.meta);
  }

  private save(live: Live): Promise<void> {
    const durable = this.broker.journal({ t: "str", s: live.meta });
    this.broker.feed.publish({ kind: "stream_upserted", stream: this.view(live.meta) });
    return durable;
  }

  private file(id: string): string {
    return join(this.dir, `${id}.out`);
  }
}

/** The most output one replay answer carries by default (`max_bytes` sets it, up to REPLAY_PAGE_MAX). */
export const REPLAY_PAGE_BYTES = 1024 * 1024;
export const REPLAY_PAGE_MAX = 16 * 1024 * 1024;
