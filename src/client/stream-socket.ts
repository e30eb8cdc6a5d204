// The client's /v1/stream WebSocket: opened for one plugin pid with push_receipt_ack_v1, unmasked
// (loopback only), kept honest by a ping: a socket without a pong since the last ping is terminated,
// so a broker that hangs or vanished without a FIN is noticed within two ping intervals.
import WebSocket from "ws";
import { wsTransport } from "../platform/transport.js";
import { PUSH_RECEIPT_ACK, SOCKETS, type DiscoveryRecord } from "../protocol/index.js";
import { BrokerUnreachableError } from "./errors.js";
import { zeroMask } from "./sockets.js";

const STREAM_CAPABILITIES = PUSH_RECEIPT_ACK;

export interface StreamSocketHandlers {
  /** A frame arrived. */
  frame(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void;
  /** The socket closed (also one that never opened: the promise has rejected then). */
  closed(ws: WebSocket, code: number, reason: Buffer): void;
  /** A socket error after it opened (before, it rejects the promise). */
  error(err: Error): void;
}

/** Opens the stream; rejects with BrokerUnreachableError if it does not open. */
export function openStreamSocket(record: DiscoveryRecord, pid: number, pingMs: number, on: StreamSocketHandlers): Promise<WebSocket> {
  const url = record.ipcUrl.replace(/^http/, "ws") + SOCKETS.stream.path;
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${record.bearerToken}`, "x-plugin-pid": String(pid), "x-masons-ipc-capabilities": STREAM_CAPABILITIES },
    perMessageDeflate: false,
    handshakeTimeout: 5000,
    ...wsTransport(record),
    generateMask: zeroMask,
  });
  let alive = true;
  let opened = false;
  ws.on("error", (err) => {
    if (opened) on.error(err); // before "open", the failure rejects the promise below
  });
  const ping = setInterval(() => {
    if (!alive) return ws.terminate(); // no pong since the last ping: the broker is gone or hung
    alive = false;
    ws.ping();
  }, pingMs);
  ws.on("pong", () => (alive = true));
  ws.on("message", (data, isBinary) => on.frame(ws, data, isBinary));
  ws.on("close", (code, reason) => {
    clearInterval(ping);
    on.closed(ws, code, reason);
  });
  return new Promise<WebSocket>((resolve, reject) => {
    const fail = (err: Error) => {
      ws.off("open", onOpen);
      clearInterval(ping);
      reject(new BrokerUnreachableError(url, err));
    };
    const onOpen = () => {
      opened = true;
      ws.off("error", fail);
      resolve(ws);
    };
    ws.once("open", onOpen);
    ws.once("error", fail);
  });
}
