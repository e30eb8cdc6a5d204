// Writing answers: JSON bodies with their length, error bodies (4xx with a stable code and a sentence),
// and refusals of upgrades and unparsable requests written straight onto the socket.
import type { ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { ProtocolError } from "../protocol/index.js";

/** A route's answer already serialized (GET /health). */
export class JsonText {
  constructor(readonly text: string) {}
}

/**
 * A route's answer serialized a slice at a time (a listing that grows with the backlog): written as it
 * comes, in chunked transfer encoding, so that no other request waits for the whole of it.
 */
export class JsonParts {
  constructor(readonly parts: AsyncIterable<string>) {}
}

export const UNAUTHORIZED = { error: "unauthorized", message: "Missing or wrong bearer token; read it from the discovery file." };

export function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  sendText(res, status, JSON.stringify(body));
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(text);
}

/** Writes `parts` as a 200 answer, waiting for the socket to drain; a failure half-way aborts the answer (its status is already sent). */
export async function sendParts(res: ServerResponse, parts: AsyncIterable<string>): Promise<void> {
  if (res.headersSent) return;
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  try {
    for await (const part of parts) {
      if (res.destroyed) return;
      if (!res.write(part)) await drained(res);
    }
    res.end();
  } catch (err) {
    res.destroy(err as Error);
    throw err;
  }
}

/** Resolves when `res` can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** How long the rest of an oversized body is read (and dropped) after the 413, at most. */
const OVERSIZE_LINGER_MS = 2000;

export function sendError(res: ServerResponse, err: ProtocolError): void {
  send(res, err.status, err.toBody());
  // Oversized bodies: answer at once, then read and drop the rest for a moment before closing. Closing
  // while the client still sends would reset the connection under it before it reads the answer.
  if (err.code === "payload_too_large" && !res.req.complete) {
    res.req.resume();
    const timer = setTimeout(() => res.req.socket.destroy(), OVERSIZE_LINGER_MS);
    res.req.once("end", () => clearTimeout(timer));
    res.req.once("close", () => clearTimeout(timer));
  }
}

export function refuseUpgrade(socket: Duplex, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  const reason = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable" }[status] ?? "Error";
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
}
