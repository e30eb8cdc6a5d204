// A stream producer that sends output as `stream_chunk` frames on its own /v1/stream socket (protocol
// section 10, the throughput path), with the same write()/onDrain() contract as src/client/stream-writer.ts:
// write() returns false while the socket buffers more than `highWaterBytes`; onDrain listeners run once it
// is below `lowWaterBytes`. The stream is ended over HTTP (POST complete with last_seq) by the caller.
import type WebSocket from "ws";

export class WsChunkWriter {
  private seq = 0;
  bytes = 0;
  frames = 0;
  sendErrors = 0;
  private drainListeners: (() => void)[] = [];
  private readonly onSent: (err?: Error) => void;

  constructor(
    private readonly ws: WebSocket,
    readonly streamId: string,
    private readonly highWaterBytes = 4 * 1024 * 1024,
    private readonly lowWaterBytes = 1024 * 1024,
  ) {
    this.onSent = (err) => {
      if (err) this.sendErrors++;
      if (this.drainListeners.length && this.ws.bufferedAmount < this.lowWaterBytes) {
        const ls = this.drainListeners;
        this.drainListeners = [];
        for (const l of ls) l();
      }
    };
  }

  get lastSeq(): number {
    return this.seq;
  }

  write(channel: number, data: string): boolean {
    if (!data) return true;
    const seq = ++this.seq;
    this.bytes += Buffer.byteLength(data);
    this.frames++;
    this.ws.send(JSON.stringify({ event: "stream_chunk", stream_id: this.streamId, channel, seq, data }), this.onSent);
    return this.ws.bufferedAmount < this.highWaterBytes;
  }

  /** One-shot: register right after write() returned false (the pending send callbacks then call it). */
  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }
}
