// Output streams: chunks from the producer (HTTP or /v1/stream frames) are numbered, written to a
// per-stream file (up to a cap), kept as head and tail per channel in memory, and fanned out to live
// followers. A follower that falls behind is skipped until its socket drains, then gets a `resync`
// marker and a replay from the file, so a slow consumer never blocks the producer or anyone else.
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type WebSocket from "ws";
import { ProtocolError, type Chunk, type CompleteRequest, type LiveFrame, type ReplayResponse, type StreamStartRequest, type StreamView } from "../protocol/index.js";
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

interface ChannelState {
  bytes: number;
  truncated: boolean;
  head: string;
  /** The last output, as the chunks that hold it (O(1) per chunk); joined only when someone asks. */
  tailParts: string[];
  tailLen: number;
}

interface Follower {
  ws: WebSocket;
  channel: number | undefined;
  sentSeq: number;
  behind: boolean;
}

interface Live {
  meta: StreamMeta;
  lastSeq: number;
  channels: Map<number, ChannelState>;
  file: FileHandle | undefined;
  fileBytes: number;
  pendingBytes: number;
  writes: Promise<void>;
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
  private readonly dir: string;

  constructor(
    private readonly store: Store,
    private readonly broker: Broker,
    private readonly approvals: ApprovalDesk,
    home: string,
    private readonly limits: StreamLimits,
    private readonly log: Logger,
  ) {
    this.dir = join(home, "streams");
  }

  /** After a restart, streams that were running have lost their producer connection: abort them. */
  async restore(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const meta of [...this.store.streams.values()]) {
      if (meta.state === "streaming") await this.finish(this.runtime(meta), { state: "aborted", reason: "the broker restarted while the command was running" });
    }
    // Output files of streams the store no longer remembers are garbage.
    const keep = new Set([...this.store.streams.keys()].map((id) => `${id}.ndjson`));
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
    };
    const live = this.runtime(meta);
    live.file = await open(this.file(meta.stream_id), "a", 0o600);
    const durable = this.save(live);
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
    let lines = "";
    for (const chunk of chunks) {
      if (!chunk.data) continue;
      const seq = chunk.seq ?? live.lastSeq + 1;
      if (seq <= live.lastSeq) continue; // a retried chunk: already have it
      live.lastSeq = seq;
      const numbered = { channel: chunk.channel, seq, data: chunk.data };
      const quoted = JSON.stringify(chunk.data); // escaped once, for the file line and every follower
      this.keep(live, numbered);
      lines += this.toFile(live, numbered, quoted);
      this.fanOut(live, numbered, quoted);
    }
    if (lines) this.write(live, lines);
    for (const w of [...live.seqWaiters]) if (live.lastSeq >= w.seq) w.wake();
    if (live.pendingBytes > WRITE_HIGH_WATER) await live.writes;
    return { last_seq: live.lastSeq };
  }

  /** The fast path: one chunk frame from the producer's /v1/stream socket. Returns false to pause reading. */
  appendFrame(id: string, chunk: Chunk, producerPid: number): Promise<void> | undefined {
    const live = this.live.get(id);
    if (!live || live.meta.producer_pid !== producerPid) return undefined;
    void this.append(id, [chunk], producerPid);
    return live.pendingBytes > WRITE_HIGH_WATER ? live.writes : undefined;
  }

  async complete(id: string, body: CompleteRequest, producerPid?: number): Promise<StreamView> {
    const live = this.liveFor(id, producerPid);
    if (!live) return this.endedAlready(id, body);
    // Chunk frames on the producer's socket and this HTTP call are not ordered: wait for the rest.
    if (body.last_seq !== undefined && live.lastSeq < body.last_seq) await this.seqReached(live, body.last_seq, COMPLETE_WAIT_MS);
    if (!this.live.has(id)) return this.get(id); // ended meanwhile (cancelled)
    const ok = body.exit_code === 0 && !body.signal;
    return this.finish(live, {
      state: "completed",
      status: ok ? 200 : 500,
      exit_code: body.exit_code,
      signal: body.signal ?? null,
      duration_ms: body.duration_ms ?? Date.now() - Date.parse(live.meta.created_at),
    });
  }

  abort(id: string, reason: string | undefined, producerPid?: number): Promise<StreamView> {
    const live = this.liveFor(id, producerPid);
    if (!live) return Promise.resolve(this.get(id));
    return this.finish(live, { state: "aborted", reason: reason ?? "stopped by the producer" });
  }

  /** A consumer asks the producer to stop: the stream ends as cancelled (499) and the producer is told. */
  async cancel(id: string, reason: string | undefined): Promise<StreamView> {
    const live = this.live.get(id);
    if (!live) return this.get(id);
    const why = reason ?? "cancelled by a viewer";
    const view = await this.finish(live, { state: "cancelled", reason: why });
    this.broker.enqueueFrame(live.meta.endpoint_id, { event: "stream_cancelled", stream_id: id, reason: why });
    return view;
  }

  /** Everything a late viewer needs: the stream and its output from `fromSeq` on, optionally one channel. */
  async replay(id: string, channel?: number, fromSeq = 1): Promise<ReplayResponse> {
    const meta = this.meta(id);
    const live = this.live.get(id);
    if (live) await live.writes;
    const chunks: ReplayResponse["chunks"] = [];
    await this.readFile(id, fromSeq, channel, (c) => void chunks.push(c));
    const view = this.view(meta);
    const truncated = Object.values(view.channels).some((c) => c.truncated);
    const tail: Record<string, string> = {};
    if (truncated && live) for (const [ch, st] of live.channels) if (st.truncated && (channel === undefined || channel === ch)) tail[ch] = st.tailParts.join("").slice(-this.limits.tailBytes);
    return { stream: view, chunks, truncated, tail };
  }

  /** A live follower socket: hello, replay from `fromSeq`, then chunks as they come, then end. */
  follow(ws: WebSocket, id: string, fromSeq: number, channel: number | undefined): void {
    const meta = this.store.streams.get(id);
    if (!meta) {
      ws.close(4404, "unknown stream");
      return;
    }
    const live = this.live.get(id);
    const f: Follower = { ws, channel, sentSeq: fromSeq - 1, behind: true };
    send(ws, { type: "hello", stream: this.view(meta) });
    if (live) {
      live.followers.add(f);
      ws.on("close", () => live.followers.delete(f));
    }
    void this.catchUp(id, live, f, false);
  }

  stop(): Promise<void> {
    const all = [...this.live.values()];
    for (const live of all) for (const f of live.followers) f.ws.close(1001, "broker shutting down");
    return Promise.all(all.map(async (l) => {
      await l.writes;
      await l.file?.close();
    })).then(() => undefined);
  }

  // ---- internals ------------------------------------------------------------------------------------

  private runtime(meta: StreamMeta): Live {
    const channels = new Map<number, ChannelState>();
    for (const [ch, info] of Object.entries(meta.channels)) channels.set(Number(ch), { ...info, head: "", tailParts: [], tailLen: 0 });
    let markFinished!: () => void;
    const finished = new Promise<void>((r) => (markFinished = r));
    const live: Live = {
      meta,
      lastSeq: meta.last_seq,
      channels,
      file: undefined,
      fileBytes: 0,
      pendingBytes: 0,
      writes: Promise.resolve(),
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
      return this.view(updated);
    }
    return this.view(meta);
  }

  private view(meta: StreamMeta): StreamView {
    const live = this.live.get(meta.stream_id);
    const channels: StreamView["channels"] = {};
    if (live) for (const [ch, st] of live.channels) channels[ch] = { bytes: st.bytes, truncated: st.truncated };
    const { producer_pid: _pid, ...rest } = meta;
    return { ...rest, last_seq: live ? live.lastSeq : meta.last_seq, channels: live ? channels : meta.channels };
  }

  private keep(live: Live, c: { channel: number; data: string }): void {
    let st = live.channels.get(c.channel);
    if (!st) live.channels.set(c.channel, (st = { bytes: 0, truncated: false, head: "", tailParts: [], tailLen: 0 }));
    st.bytes += Buffer.byteLength(c.data);
    if (st.head.length < this.limits.headBytes) st.head += c.data.slice(0, this.limits.headBytes - st.head.length);
    st.tailParts.push(c.data);
    st.tailLen += c.data.length;
    while (st.tailParts.length > 1 && st.tailLen - st.tailParts[0]!.length >= this.limits.tailBytes) st.tailLen -= st.tailParts.shift()!.length;
  }

  private toFile(live: Live, c: { channel: number; seq: number; data: string }, quoted: string): string {
    const line = `{"s":${c.seq},"c":${c.channel},"d":${quoted}}\n`;
    if (live.fileBytes + line.length > this.limits.fileCapBytes) {
      live.channels.get(c.channel)!.truncated = true;
      return "";
    }
    live.fileBytes += line.length;
    return line;
  }

  private write(live: Live, text: string): void {
    const bytes = Buffer.byteLength(text);
    live.pendingBytes += bytes;
    const fh = live.file!;
    live.writes = live.writes.then(async () => {
      try {
        await fh.write(text);
      } catch (err) {
        this.log.error("stream file write failed", { stream_id: live.meta.stream_id, err: String(err) });
      } finally {
        live.pendingBytes -= bytes;
      }
    });
  }

  private fanOut(live: Live, c: { channel: number; seq: number; data: string }, quoted: string): void {
    let text: string | undefined;
    for (const f of live.followers) {
      if (f.behind || (f.channel !== undefined && f.channel !== c.channel)) continue;
      if (f.ws.bufferedAmount > FOLLOWER_HIGH_WATER) {
        f.behind = true;
        void this.catchUp(live.meta.stream_id, live, f, true);
        continue;
      }
      f.sentSeq = c.seq;
      text ??= `{"type":"chunk","channel":${c.channel},"seq":${c.seq},"data":${quoted}}`;
      if (f.ws.readyState === f.ws.OPEN) f.ws.send(text);
    }
  }

  /** Waits until the follower's socket drains, then replays from the file what it missed, then goes live. */
  private async catchUp(id: string, live: Live | undefined, f: Follower, resync: boolean): Promise<void> {
    while (f.ws.readyState === f.ws.OPEN && f.ws.bufferedAmount > FOLLOWER_LOW_WATER) await sleep(20);
    for (;;) {
      if (f.ws.readyState !== f.ws.OPEN) return;
      // Taken at one synchronous point: `writes` then covers every chunk up to `target`.
      const target = live ? live.lastSeq : (this.store.streams.get(id)?.last_seq ?? 0);
      if (live) await live.writes;
      if (resync) send(f.ws, { type: "resync", from_seq: f.sentSeq + 1 });
      resync = false;
      await this.readFile(id, f.sentSeq + 1, f.channel, (c) => {
        f.sentSeq = c.seq;
        send(f.ws, { type: "chunk", ...c });
      });
      f.sentSeq = Math.max(f.sentSeq, target);
      // More output may have arrived while reading; go round again until level.
      if (live && live.lastSeq > f.sentSeq) continue;
      if (live && !live.ended) {
        f.behind = false; // from here on, fanOut sends it every chunk
        return;
      }
      if (live) await live.finished;
      send(f.ws, { type: "end", stream: this.get(id) });
      return;
    }
  }

  private async readFile(id: string, fromSeq: number, channel: number | undefined, each: (c: { channel: number; seq: number; data: string }) => void): Promise<void> {
    const input = createReadStream(this.file(id), { encoding: "utf8" });
    const done = new Promise<void>((resolve) => input.once("error", () => resolve()));
    const lines = createInterface({ input, crlfDelay: Infinity });
    const reading = (async () => {
      for await (const line of lines) {
        if (!line) continue;
        let rec: { s: number; c: number; d: string };
        try {
          rec = JSON.parse(line);
        } catch {
          continue; // a line torn by a crash
        }
        if (rec.s >= fromSeq && (channel === undefined || rec.c === channel)) each({ channel: rec.c, seq: rec.s, data: rec.d });
      }
    })().catch(() => {});
    await Promise.race([reading, done]);
  }

  private async finish(live: Live, end: Partial<StreamMeta> & { state: StreamMeta["state"] }): Promise<StreamView> {
    this.live.delete(live.meta.stream_id);
    live.ended = true;
    await live.writes;
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
    live.markFinished();
    for (const f of live.followers) if (!f.behind) send(f.ws, { type: "end", stream: this.view(live.meta) });
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
    return join(this.dir, `${id}.ndjson`);
  }
}

function send(ws: WebSocket, frame: LiveFrame): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
