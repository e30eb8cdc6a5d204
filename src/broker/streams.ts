// Output streams: chunks from the producer (binary /v1/stream frames, JSON frames or HTTP) are
// numbered, cut on UTF-8 character boundaries, written to a per-stream file (up to a cap), kept as
// head and tail per channel in memory, and fanned out to live followers. Output is handled as raw
// bytes throughout; it becomes a string only for a JSON consumer. A follower that falls behind is
// skipped until its socket drains, then gets a `resync` marker and a replay from the file, so a slow
// consumer never blocks the producer or anyone else.
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rm, type FileHandle } from "node:fs/promises";
import { openNoFollow } from "../platform/files.js";
import { join } from "node:path";
import type WebSocket from "ws";
import {
  encodeFollowerChunk,
  incompleteUtf8Tail,
  ProtocolError,
  type Chunk,
  type AbortRequest,
  type CompleteRequest,
  type LiveFrame,
  type ReplayResponse,
  type StreamStartRequest,
  type StreamView,
} from "../protocol/index.js";
import { readRecords, RECORD_HEADER, recordHeader, STOP, type Piece } from "./stream-file.js";
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

/** Followers whose socket holds more than this are "behind" and get a resync later. */
const FOLLOWER_HIGH_WATER = 4 * 1024 * 1024;
const FOLLOWER_LOW_WATER = 256 * 1024;
/** Producers are slowed (HTTP answers wait, socket reads pause) while this much output is unwritten. */
const WRITE_HIGH_WATER = 8 * 1024 * 1024;
/** How long `complete {last_seq}` waits for chunks still in flight on the producer's socket. */
const COMPLETE_WAIT_MS = 10_000;
/**
 * After a viewer's cancel, how long followers wait for the producer to report how the command ended
 * (its exit code, signal and duration) before they get the stream's end without it. The producers'
 * own stop escalation (SIGINT, SIGTERM, SIGKILL) takes at most about 4 s.
 */
const CANCEL_REPORT_WAIT_MS = 10_000;
/** The sparse seq -> file offset index gets an entry every this many bytes, so a replay from a seq seeks. */
const INDEX_EVERY = 4 * 1024 * 1024;

interface ChannelState {
  bytes: number;
  truncated: boolean;
  head: Buffer[];
  headLen: number;
  /** The last output, as the chunks that hold it (O(1) per chunk); joined only when someone asks. */
  tailParts: Buffer[];
  tailLen: number;
  /** An incomplete UTF-8 character at the end of the last chunk, held back for the next one. */
  carry: Buffer | undefined;
}

interface Follower {
  ws: WebSocket;
  channel: number | undefined;
  sentSeq: number;
  behind: boolean;
  /** Chunks go out as binary frames (`?binary=1`) instead of JSON text. */
  binary: boolean;
}

interface Live {
  meta: StreamMeta;
  lastSeq: number;
  channels: Map<number, ChannelState>;
  file: FileHandle | undefined;
  fileBytes: number;
  /** [seq, offset] pairs: the record of `seq` starts at `offset`. */
  index: [number, number][];
  /** Records waiting for the file, written as one buffer per round. */
  unwritten: Buffer[];
  pendingBytes: number;
  /** Set while a write round runs; resolves when everything queued so far is in the file. */
  writing: Promise<void> | undefined;
  /** The first failed write or sync of the file; nothing more is written, and no more output is acknowledged. */
  writeError: unknown;
  /** Bytes of the file written, and written and synced (fdatasync): what an acknowledgement may cover. */
  writtenBytes: number;
  syncedBytes: number;
  /** Acknowledgements waiting for the file to be synced up to `upTo` (FIFO; `syncHead` is its front). */
  syncWaiters: { upTo: number; resolve: () => void; reject: (err: unknown) => void }[];
  syncHead: number;
  followers: Set<Follower>;
  /** Set when the stream starts ending; `finished` resolves once its final state is saved. */
  ended: boolean;
  seqWaiters: Set<{ seq: number; wake: () => void }>;
  finished: Promise<void>;
  markFinished: () => void;
}

const STATUS = { streaming: 102, completed: 200, aborted: 499, cancelled: 499 } as const;

export class StreamHub {
  private readonly live = new Map<string, Live>();
  /**
   * Streams between leaving `live` and having all their output in the file (finish()): a replay or a
   * new follower waits for them, or it would read a file that still lacks the last chunks.
   */
  private readonly ending = new Map<string, Live>();
  /**
   * Cancelled streams whose producer has not yet reported how the command ended. Their followers'
   * `end` waits for that report, so that every viewer (terminal footer, sidebar, CLI) shows the same
   * outcome: cancelled, with the signal and the duration.
   */
  private readonly reports = new Map<string, { done: Promise<void>; release: () => void }>();
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
    private readonly beforeSync?: () => Promise<void>,
  ) {
    this.dir = join(home, "streams");
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
      for (const id of [...this.reports.keys()]) if (this.store.streams.get(id)?.endpoint_id === endpointId) this.reports.get(id)?.release();
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
          if (!st) live.channels.set(p.channel, (st = { bytes: 0, truncated: false, head: [], headLen: 0, tailParts: [], tailLen: 0, carry: undefined }));
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
    if (body.approval_id) {
      const a = this.approvals.get(body.approval_id);
      if (a.state !== "approved") throw new ProtocolError("approval_not_approved", `Approval ${a.approval_id} is ${a.state}; a stream can only follow an approved request.`);
    }
    const meta: StreamMeta = {
      stream_id: `str_${randomBytes(12).toString("base64url")}`,
      endpoint_id: ep.endpoint_id,
      producer_pid: ep.plugin_pid,
      session: this.broker.label(ep),
      action: body.action,
      command: body.command,
      cwd: body.cwd ?? null,
      approval_id: body.approval_id ?? null,
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
      await this.durable(live);
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
    return live.pendingBytes > WRITE_HIGH_WATER ? this.flushed(live) : undefined;
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
      this.reports.get(id)?.release();
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
      throw new ProtocolError(
        "stream_not_cancellable",
        `Stream ${id} cannot be stopped from here: the agent of "${live.meta.session}" runs the command itself and its output is only a copy; stop it in the agent.`,
      );
    const why = reason ?? "cancelled by a viewer";
    this.awaitReport(id);
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
    if (live) await this.flushed(live);
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
    send(ws, { type: "hello", stream: this.view(meta) });
    if (live) {
      live.followers.add(f);
      ws.on("close", () => live.followers.delete(f));
    }
    const ending = live ? undefined : this.ending.get(id);
    if (ending) void ending.finished.then(() => this.catchUp(id, undefined, f, false));
    else void this.catchUp(id, live, f, false);
  }

  stop(): Promise<void> {
    for (const r of [...this.reports.values()]) r.release();
    const all = [...this.live.values()];
    for (const live of all) for (const f of live.followers) f.ws.close(1001, "broker shutting down");
    return Promise.all(
      all.map(async (l) => {
        await this.flushed(l);
        await l.file?.close();
      }),
    ).then(() => undefined);
  }

  // ---- internals ------------------------------------------------------------------------------------

  private runtime(meta: StreamMeta): Live {
    const channels = new Map<number, ChannelState>();
    for (const [ch, info] of Object.entries(meta.channels)) channels.set(Number(ch), { ...info, head: [], headLen: 0, tailParts: [], tailLen: 0, carry: undefined });
    let markFinished!: () => void;
    const finished = new Promise<void>((r) => (markFinished = r));
    const live: Live = {
      meta,
      lastSeq: meta.last_seq,
      channels,
      file: undefined,
      fileBytes: 0,
      index: [],
      unwritten: [],
      pendingBytes: 0,
      writing: undefined,
      writeError: undefined,
      writtenBytes: 0,
      syncedBytes: 0,
      syncWaiters: [],
      syncHead: 0,
      followers: new Set(),
      ended: false,
      seqWaiters: new Set(),
      finished,
      markFinished,
    };
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
      this.reports.get(id)?.release();
      return this.view(updated);
    }
    this.reports.get(id)?.release();
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

  /** From a cancel until the producer reports (or CANCEL_REPORT_WAIT_MS passes), followers' `end` waits. */
  private awaitReport(id: string): void {
    if (this.reports.has(id)) return;
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const timer = setTimeout(() => release(), CANCEL_REPORT_WAIT_MS);
    const release = () => {
      clearTimeout(timer);
      if (this.reports.get(id)?.done === done) this.reports.delete(id);
      resolve();
    };
    this.reports.set(id, { done, release });
  }

  /** The `end` frame, with the stream as it is once any pending report from its producer is in. */
  private async sendEnd(ws: WebSocket, id: string): Promise<void> {
    await this.reports.get(id)?.done;
    send(ws, { type: "end", stream: this.get(id) });
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
    if (!st) live.channels.set(channel, (st = { bytes: 0, truncated: false, head: [], headLen: 0, tailParts: [], tailLen: 0, carry: undefined }));
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
    this.toFile(live, st, p);
    this.fanOut(live, p);
  }

  private afterIngest(live: Live): void {
    if (live.unwritten.length && !live.writing) live.writing = this.writeRounds(live);
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

  private toFile(live: Live, st: ChannelState, p: Piece): void {
    const size = RECORD_HEADER + p.data.length;
    if (live.fileBytes + size > this.limits.fileCapBytes) {
      st.truncated = true;
      return;
    }
    const last = live.index[live.index.length - 1];
    if (live.fileBytes - (last ? last[1] : 0) >= INDEX_EVERY) live.index.push([p.seq, live.fileBytes]);
    live.fileBytes += size;
    live.pendingBytes += size;
    live.unwritten.push(recordHeader(p.seq, p.channel, p.data.length), p.data);
  }

  /**
   * Writes queued records in rounds (one buffer per round) until none are left. A round is synced
   * (fdatasync) when someone waits for an acknowledgement: every chunk that arrived during the
   * previous round shares one sync (group commit), and frames nobody acknowledges cost no sync.
   */
  private async writeRounds(live: Live): Promise<void> {
    for (;;) {
      const waiting = live.syncHead < live.syncWaiters.length;
      if (!live.unwritten.length && !(waiting && live.syncedBytes < live.writtenBytes)) break;
      const round = live.unwritten.length ? Buffer.concat(live.unwritten) : undefined;
      live.unwritten = [];
      const upTo = live.writtenBytes + (round?.length ?? 0);
      // Moved from pending to written in one step: an acknowledgement's target (written + pending)
      // must never count a round twice.
      const written = () => {
        if (round) live.pendingBytes -= round.length;
        live.writtenBytes = upTo;
      };
      try {
        if (live.writeError === undefined) {
          if (round) await writeAll(live.file!, round);
          written();
          if (live.syncHead < live.syncWaiters.length) {
            await this.beforeSync?.();
            await live.file!.datasync();
            live.syncedBytes = upTo;
          }
        }
      } catch (err) {
        // The output stays in memory (tail) and reaches live followers; the replay and every later
        // acknowledgement of this stream lose it, and are told so.
        live.writeError = err;
        this.log.error("stream file write failed; later output of this stream is not kept on disk", { stream_id: live.meta.stream_id, err: String(err) });
      }
      if (live.writtenBytes !== upTo) written(); // not written (an error): not pending either
      this.settleWaiters(live);
    }
    live.writing = undefined;
  }

  private settleWaiters(live: Live): void {
    while (live.syncHead < live.syncWaiters.length) {
      const w = live.syncWaiters[live.syncHead]!;
      if (live.writeError !== undefined) w.reject(live.writeError);
      else if (w.upTo <= live.syncedBytes) w.resolve();
      else break;
      live.syncHead++;
    }
    if (live.syncHead === live.syncWaiters.length) {
      live.syncWaiters = [];
      live.syncHead = 0;
    }
  }

  /** Resolves once everything queued for the file so far is written and synced. */
  private durable(live: Live): Promise<void> {
    if (live.writeError !== undefined) return Promise.reject(live.writeError);
    const upTo = live.writtenBytes + live.pendingBytes;
    if (upTo <= live.syncedBytes) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => live.syncWaiters.push({ upTo, resolve, reject }));
    if (!live.writing) live.writing = this.writeRounds(live);
    return p;
  }

  /** Resolves once everything queued so far is in the file (not necessarily synced: a reader sees it). */
  private flushed(live: Live): Promise<void> {
    return live.writing ?? Promise.resolve();
  }

  private fanOut(live: Live, p: Piece): void {
    let text: string | undefined;
    let frame: Buffer | undefined;
    for (const f of live.followers) {
      if (f.behind || (f.channel !== undefined && f.channel !== p.channel)) continue;
      if (f.ws.bufferedAmount > FOLLOWER_HIGH_WATER) {
        f.behind = true;
        void this.catchUp(live.meta.stream_id, live, f, true);
        continue;
      }
      f.sentSeq = p.seq;
      if (f.ws.readyState !== f.ws.OPEN) continue;
      if (f.binary) f.ws.send((frame ??= encodeFollowerChunk(p.channel, p.seq, p.data)));
      else f.ws.send((text ??= chunkText(p)));
    }
  }

  /** Waits until the follower's socket drains, then replays from the file what it missed, then goes live. */
  private async catchUp(id: string, live: Live | undefined, f: Follower, resync: boolean): Promise<void> {
    await drained(f.ws);
    for (;;) {
      if (f.ws.readyState !== f.ws.OPEN) return;
      // Taken at one synchronous point: `writes` then covers every chunk up to `target`.
      const target = live ? live.lastSeq : (this.store.streams.get(id)?.last_seq ?? 0);
      if (live) await this.flushed(live);
      if (resync) send(f.ws, { type: "resync", from_seq: f.sentSeq + 1 });
      resync = false;
      await this.readFile(id, live, f.sentSeq + 1, f.channel, (p) => {
        f.sentSeq = p.seq;
        if (f.ws.readyState !== f.ws.OPEN) return;
        f.ws.send(f.binary ? encodeFollowerChunk(p.channel, p.seq, p.data) : chunkText(p));
        // A replay never piles up more than the live path would: wait for a slow reader to drain.
        if (f.ws.bufferedAmount > FOLLOWER_HIGH_WATER) return drained(f.ws);
      });
      f.sentSeq = Math.max(f.sentSeq, target);
      // More output may have arrived while reading; go round again until level.
      if (live && live.lastSeq > f.sentSeq) continue;
      if (live && !live.ended) {
        f.behind = false; // from here on, fanOut sends it every chunk
        return;
      }
      if (live) await live.finished;
      await this.sendEnd(f.ws, id);
      return;
    }
  }

  private readFile(id: string, live: Live | undefined, fromSeq: number, channel: number | undefined, each: (p: Piece) => void | typeof STOP | Promise<void>): Promise<void> {
    let offset = 0;
    for (const [seq, at] of live?.index ?? []) {
      if (seq > fromSeq) break;
      offset = at;
    }
    return readRecords(this.file(id), fromSeq, channel, each, offset);
  }

  private async finish(live: Live, end: Partial<StreamMeta> & { state: StreamMeta["state"] }): Promise<StreamView> {
    this.flushCarries(live);
    this.live.delete(live.meta.stream_id);
    this.ending.set(live.meta.stream_id, live);
    live.ended = true;
    // Synced before the end is journaled: a completed stream's output is all on disk.
    if (live.file) await this.durable(live).catch(() => {});
    await this.flushed(live);
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

async function syncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return; // directories cannot be opened for fsync on Windows
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function chunkText(p: Piece): string {
  return `{"type":"chunk","channel":${p.channel},"seq":${p.seq},"data":${JSON.stringify(p.data.toString("utf8"))}}`;
}

/** The last `max` bytes of `parts` as text, starting on a character boundary. */
function lastBytes(parts: Buffer[], max: number): string {
  const all = Buffer.concat(parts);
  let from = Math.max(0, all.length - max);
  while (from < all.length && (all[from]! & 0xc0) === 0x80) from++;
  return all.toString("utf8", from);
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  for (let at = 0; at < buf.length; ) at += (await fh.write(buf, at)).bytesWritten;
}

function send(ws: WebSocket, frame: LiveFrame): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once the socket holds less than the low-water mark (or is closed). */
async function drained(ws: WebSocket): Promise<void> {
  while (ws.readyState === ws.OPEN && ws.bufferedAmount > FOLLOWER_LOW_WATER) await sleep(20);
}
