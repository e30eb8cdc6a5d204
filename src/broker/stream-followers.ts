// Live followers of a stream: each new piece goes to every follower that is level with the stream. One
// whose socket holds too much is skipped until it drains, then gets a `resync` marker and a replay from
// the file, so a slow consumer never blocks the producer or anyone else.
import type WebSocket from "ws";
import { encodeFollowerChunk, type LiveFrame } from "../protocol/index.js";
import type { Piece, STOP } from "./stream-file.js";
import type { Follower, Live } from "./stream-live.js";

/** Followers whose socket holds more than this are "behind" and get a resync later. */
const FOLLOWER_HIGH_WATER = 4 * 1024 * 1024;
const FOLLOWER_LOW_WATER = 256 * 1024;

/** What catching up needs of the stream hub. */
export interface FollowerDeps {
  /** The last seq of a stream that is no longer live, as stored. */
  storedLastSeq(id: string): number;
  /** Resolves once everything queued for the stream's file is in it. */
  flushed(live: Live): Promise<void>;
  readFile(id: string, live: Live | undefined, fromSeq: number, channel: number | undefined, each: (p: Piece) => void | typeof STOP | Promise<void>): Promise<void>;
  /** The `end` frame, once the stream's final state is known. */
  sendEnd(ws: WebSocket, id: string): Promise<void>;
}

export class Followers {
  constructor(private readonly deps: FollowerDeps) {}

  /** Sends a new piece to every follower that is level with the stream; one that fell behind catches up from the file. */
  fanOut(live: Live, p: Piece): void {
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
  async catchUp(id: string, live: Live | undefined, f: Follower, resync: boolean): Promise<void> {
    await drained(f.ws);
    for (;;) {
      if (f.ws.readyState !== f.ws.OPEN) return;
      // Taken at one synchronous point: `writes` then covers every chunk up to `target`.
      const target = live ? live.lastSeq : this.deps.storedLastSeq(id);
      if (live) await this.deps.flushed(live);
      if (resync) sendFrame(f.ws, { type: "resync", from_seq: f.sentSeq + 1 });
      resync = false;
      await this.deps.readFile(id, live, f.sentSeq + 1, f.channel, (p) => {
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
      await this.deps.sendEnd(f.ws, id);
      return;
    }
  }
}

export function chunkText(p: Piece): string {
  return `{"type":"chunk","channel":${p.channel},"seq":${p.seq},"data":${JSON.stringify(p.data.toString("utf8"))}}`;
}

export function sendFrame(ws: WebSocket, frame: LiveFrame): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once the socket holds less than the low-water mark (or is closed). */
async function drained(ws: WebSocket): Promise<void> {
  while (ws.readyState === ws.OPEN && ws.bufferedAmount > FOLLOWER_LOW_WATER) await sleep(20);
}
