// A small JSON-over-HTTP request on node:http with a keep-alive agent. Used instead of fetch because
// the first fetch() in a process loads undici (~50 ms), which is most of an extension's activation.
import { Agent, request } from "node:http";

const agent = new Agent({ keepAlive: true, maxSockets: 32 });

export interface HttpAnswer {
  status: number;
  text: string;
}

/** `socketPath`: connect over this Unix socket instead of the URL's host and port (which still name the Host). */
export function httpRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs: number; socketPath?: string }): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    // An explicit length: Node would send a DELETE body without one, and the server would misread it.
    const headers = opts.body !== undefined ? { ...opts.headers, "content-length": String(Buffer.byteLength(opts.body)) } : opts.headers;
    const req = request(url, { method: opts.method ?? "GET", headers, agent, ...(opts.socketPath ? { socketPath: opts.socketPath } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}
