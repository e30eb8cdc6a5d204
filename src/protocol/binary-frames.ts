// Binary WebSocket frames for stream output (capability `stream_frames_v1`). Output travels as raw
// bytes behind a few header bytes, so neither end JSON-escapes, parses or UTF-8-validates it: this is
// the throughput path. Everything else on these sockets stays JSON text.
//
// Producer -> broker, on the producer's /v1/stream socket:
//   [0x01][channel u8][seq u48 BE][id length u8][stream id, ASCII][data...]
// Broker -> follower, on /v1/streams/:id/live?binary=1:
//   [0x01][channel u8][seq u48 BE][data...]
import { MAX_CHANNEL } from "./streams.js";

export const CHUNK_FRAME = 0x01;
const MAX_ID_BYTES = 128;
/** Largest seq a frame carries (48 bits); far beyond any real stream. */
export const MAX_FRAME_SEQ = 2 ** 48 - 1;

export interface ProducerChunk {
  streamId: string;
  channel: number;
  seq: number;
  data: Buffer;
}

export function encodeProducerChunk(streamId: string, channel: number, seq: number, data: Uint8Array): Buffer {
  const idLen = Buffer.byteLength(streamId, "latin1");
  const frame = Buffer.allocUnsafe(9 + idLen + data.length);
  frame[0] = CHUNK_FRAME;
  frame[1] = channel;
  frame.writeUIntBE(seq, 2, 6);
  frame[8] = idLen;
  frame.write(streamId, 9, "latin1");
  frame.set(data, 9 + idLen);
  return frame;
}

/** A producer chunk frame, or a sentence saying what is wrong with it. The data is a view, not a copy. */
export function decodeProducerChunk(frame: Buffer): ProducerChunk | string {
  if (frame.length < 10) return "A binary frame needs at least 10 bytes: type, channel, seq (6), id length and the stream id.";
  if (frame[0] !== CHUNK_FRAME) return `Unknown binary frame type ${frame[0]}; only 1 (stream chunk) exists.`;
  const channel = frame[1]!;
  if (channel < 1 || channel > MAX_CHANNEL) return `The channel must be between 1 and ${MAX_CHANNEL}.`;
  const seq = frame.readUIntBE(2, 6);
  if (seq < 1) return "The seq must be at least 1.";
  const idLen = frame[8]!;
  if (idLen < 1 || idLen > MAX_ID_BYTES || frame.length < 9 + idLen) return "The stream id length does not fit the frame.";
  const streamId = frame.toString("latin1", 9, 9 + idLen);
  if (!/^[\w-]+$/.test(streamId)) return "The stream id holds characters no stream id has.";
  return { streamId, channel, seq, data: frame.subarray(9 + idLen) };
}

export function encodeFollowerChunk(channel: number, seq: number, data: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(8 + data.length);
  frame[0] = CHUNK_FRAME;
  frame[1] = channel;
  frame.writeUIntBE(seq, 2, 6);
  frame.set(data, 8);
  return frame;
}

export function decodeFollowerChunk(frame: Buffer): { channel: number; seq: number; data: Buffer } | undefined {
  if (frame.length < 8 || frame[0] !== CHUNK_FRAME) return undefined;
  return { channel: frame[1]!, seq: frame.readUIntBE(2, 6), data: frame.subarray(8) };
}

/**
 * How many bytes at the end of `buf` are an incomplete UTF-8 character (0 to 3). Cutting there keeps
 * every chunk on a character boundary; bytes that are simply invalid are left in place.
 */
export function incompleteUtf8Tail(buf: Uint8Array): number {
  const end = buf.length;
  for (let i = end - 1; i >= 0 && i >= end - 4; i--) {
    const b = buf[i]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    if (b < 0xc0) return 0; // ASCII
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    const have = end - i;
    return have < need ? have : 0;
  }
  return 0;
}
