// Raw HTTP to the broker for the suites that must say exactly what goes on the wire (Host, Origin, a header
// twice, chunked bodies, the request line itself): one request function, a keep-alive form of it for the
// fuzz runs, and bytes on a bare socket for what node:http refuses to send.
import { Agent, request, type OutgoingHttpHeaders } from "node:http";
import { connect } from "node:net";
import type { DiscoveryRecord } from "../../src/protocol/index.js";

export const portOf = (record: Pick<DiscoveryRecord, "ipcUrl">): number => Number(new URL(record.ipcUrl).port);

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body?: string | Buffer;
  /** Send the body in pieces with Transfer-Encoding: chunked instead of a Content-Length. */
  chunked?: boolean;
  /** Leave out the Host header entirely. */
  noHost?: boolean;
}

export type RawResponse = { status: number; headers: Record<string, unknown>; text: string } | { failure: string };

/**
 * One request to 127.0.0.1:`port` with exactly `r.headers` (each value of an array sent as a line of its
 * own), the body framed by this function, and a Host of 127.0.0.1:port unless `r.headers.host` or
 * `r.noHost` says otherwise. Never rejects: a failure is an answer too.
 */
export function sendRaw(port: number, r: RawRequest, o: { agent?: Agent | false; timeoutMs?: number } = {}): Promise<RawResponse> {
  const timeoutMs = o.timeoutMs ?? 15_000;
  return new Promise((resolve) => {
    let done = false;
    const finish = (x: RawResponse) => {
      if (done) return;
      done = true;
      resolve(x);
    };
    // Node's client sends no Content-Length for a GET or DELETE body unless told: frame every body explicitly.
    const headers: Record<string, string | string[]> = { ...r.headers };
    if (r.body !== undefined && r.chunked) headers["transfer-encoding"] = "chunked";
    else if (r.body !== undefined) headers["content-length"] = String(Buffer.byteLength(r.body));
    if (!r.noHost && headers.host === undefined) headers.host = `127.0.0.1:${port}`;
    // Raw header pairs, so that a header may be sent twice (two Host lines, two tokens).
    const raw: string[] = [];
    for (const [name, value] of Object.entries(headers)) for (const one of Array.isArray(value) ? value : [value]) raw.push(name, one);
    let req: ReturnType<typeof request>;
    try {
      req = request({
        host: "127.0.0.1",
        port,
        method: r.method,
        path: r.path,
        headers: raw as unknown as OutgoingHttpHeaders,
        agent: o.agent ?? false,
        setHost: false,
      });
    } catch (err) {
      return finish({ failure: `the test could not build the request: ${(err as Error).message}` });
    }
    req.setTimeout(timeoutMs, () => {
      finish({ failure: `no answer within ${timeoutMs} ms` });
      req.destroy();
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => finish({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", (err) => finish({ failure: `response broke off: ${err.message}` }));
    });
    req.on("error", (err) => finish({ failure: `request failed: ${err.message}` }));
    if (r.body === undefined) return void req.end();
    if (!r.chunked) return void req.end(r.body);
    const buf = Buffer.from(r.body);
    const step = 64 * 1024;
    for (let i = 0; i < buf.length; i += step) req.write(buf.subarray(i, i + step));
    req.end();
  });
}

/** `sendRaw` over one keep-alive agent (the fuzz runs send tens of thousands of requests). */
export class RawHttp {
  readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });
  constructor(readonly port: number) {}

  send(r: RawRequest, timeoutMs = 15_000): Promise<RawResponse> {
    return sendRaw(this.port, r, { agent: this.agent, timeoutMs });
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface Raw {
  status: number;
  text: string;
  body: any;
}

/** A JSON body, or undefined when the text is empty or not JSON (the test's assertions then say so). */
function jsonOrUndefined(text: string): any {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One HTTP request to the broker on a fresh connection, with its bearer token unless `auth: false`, a JSON
 * content type when there is a body, and `headers` as given on top (a `host` there replaces the usual one).
 * Rejects when no answer comes (10 s).
 */
export async function raw(
  record: DiscoveryRecord,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer; auth?: boolean; agent?: Agent; chunked?: boolean } = {},
): Promise<Raw> {
  const headers: Record<string, string> = {
    ...(opts.auth === false ? {} : { authorization: `Bearer ${record.bearerToken}` }),
    ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
  };
  for (const [name, value] of Object.entries(opts.headers ?? {})) headers[name.toLowerCase()] = value;
  const r = await sendRaw(portOf(record), { method, path, headers, body: opts.body, chunked: opts.chunked }, { agent: opts.agent ?? false, timeoutMs: 10_000 });
  if ("failure" in r) throw new Error(`${method} ${path}: ${r.failure}`);
  return { status: r.status, text: r.text, body: jsonOrUndefined(r.text) };
}

/** Exact request bytes on a fresh socket (no Host of Node's own, duplicate headers, absolute-form targets). */
export function rawBytes(record: DiscoveryRecord, head: string[]): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const s = connect(portOf(record), "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(new Error(`no answer within 10 s to ${head[0]}`)), 10_000);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", (err) => (clearTimeout(timer), reject(err)));
    s.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, text, body: jsonOrUndefined(text.split("\r\n\r\n").slice(1).join("\r\n\r\n")) });
    });
    // Connection: close on 1.1 so the broker ends the socket after answering.
    const lines = head[0]!.endsWith("HTTP/1.1") && !head.some((l) => /^connection:/i.test(l)) ? [...head, "Connection: close"] : head;
    s.end(`${lines.join("\r\n")}\r\n\r\n`);
  });
}
