// Following one output stream live (`/v1/streams/:id/live`): replay from a sequence number, then
// chunks as they come, then the end. Survives a dropped socket by resuming after the last chunk seen.
import WebSocket from "ws";
import { SOCKETS, decodeFollowerChunk, routePath, type DiscoveryRecord, type LiveFrame, type StreamView } from "../protocol/index.js";
import { wsTransport } from "../platform/transport.js";

export interface FollowOptions {
  fromSeq?: number;
  channel?: number;
  onChunk: (channel: number, data: string, seq: number) => void;
  onResync?: (fromSeq: number) => void;
  /** Reconnect attempts after the socket drops before the end; default 20 (about 10 s). */
  retries?: number;
}

export interface Following {
  /** Resolves with the stream as it ended. */
  done: Promise<StreamView>;
  close(): void;
}

export function followStream(record: Pick<DiscoveryRecord, "ipcUrl" | "bearerToken" | "ipcSocket">, streamId: string, opts: FollowOptions): Following {
  let lastSeq = (opts.fromSeq ?? 1) - 1;
  let closed = false;
  let ws: WebSocket | undefined;
  let attempts = 0;
  const done = new Promise<StreamView>((resolve, reject) => {
    const open = () => {
      // binary=1: chunks come as raw bytes (a broker without stream_frames_v1 ignores it and sends JSON).
      const q = new URLSearchParams({ from_seq: String(lastSeq + 1), binary: "1" });
      if (opts.channel !== undefined) q.set("channel", String(opts.channel));
      ws = new WebSocket(`${record.ipcUrl.replace(/^http/, "ws")}${routePath(SOCKETS.live, [streamId])}?${q}`, {
        headers: { authorization: `Bearer ${record.bearerToken}` },
        ...wsTransport(record),
      });
      ws.on("message", (data, isBinary) => {
        attempts = 0;
        if (isBinary) {
          // The broker cuts chunks on character boundaries, so each one decodes on its own.
          const c = decodeFollowerChunk(data as Buffer);
          if (c && c.seq > lastSeq) {
            lastSeq = c.seq;
            opts.onChunk(c.channel, c.data.toString("utf8"), c.seq);
          }
          return;
        }
        const f = JSON.parse(data.toString()) as LiveFrame;
        if (f.type === "chunk") {
          if (f.seq <= lastSeq) return; // already seen before a reconnect
          lastSeq = f.seq;
          opts.onChunk(f.channel, f.data, f.seq);
        } else if (f.type === "resync") opts.onResync?.(f.from_seq);
        else if (f.type === "end") {
          closed = true;
          ws?.close();
          resolve(f.stream);
        }
      });
      ws.on("error", () => {});
      ws.on("close", (code, reason) => {
        if (closed) return;
        if (code === 4404) return reject(new Error(`No stream has id ${streamId}.`));
        if (++attempts > (opts.retries ?? 20)) return reject(new Error(`Lost the stream ${streamId}: ${reason.toString() || `socket closed (${code})`}.`));
        setTimeout(open, 500);
      });
    };
    open();
  });
  return {
    done,
    close() {
      closed = true;
      ws?.close();
    },
  };
}
