// A running stream's state in memory: its channels (bytes, head and tail, a held-back partial UTF-8
// character), its output file's write queue and sync waiters, and its live followers.
import type { FileHandle } from "node:fs/promises";
import type WebSocket from "ws";
import type { StreamMeta } from "./store.js";

export interface ChannelState {
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

export interface Follower {
  ws: WebSocket;
  channel: number | undefined;
  sentSeq: number;
  behind: boolean;
  /** Chunks go out as binary frames (`?binary=1`) instead of JSON text. */
  binary: boolean;
}

export interface Live {
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

export function newChannel(): ChannelState {
  return { bytes: 0, truncated: false, head: [], headLen: 0, tailParts: [], tailLen: 0, carry: undefined };
}

/** The runtime state of a stream, from its stored meta (its channels' figures, no output in memory). */
export function newLive(meta: StreamMeta): Live {
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
  return live;
}

/** The last `max` bytes of `parts` as text, starting on a character boundary. */
export function lastBytes(parts: Buffer[], max: number): string {
  const all = Buffer.concat(parts);
  let from = Math.max(0, all.length - max);
  while (from < all.length && (all[from]! & 0xc0) === 0x80) from++;
  return all.toString("utf8", from);
}
