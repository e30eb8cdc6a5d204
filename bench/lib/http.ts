// Minimal keep-alive HTTP client for the load generators (node:http, no fetch: less client CPU per request).
import { Agent, get, request } from "node:http";

export interface HttpTarget {
  port: number;
  token?: string;
}

export interface HttpResult {
  status: number;
  body: string;
}

export function keepAliveAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: "lifo" });
}

/** POST a JSON text over `agent`; rejects on network errors and after `timeoutMs`. */
export function postJson(agent: Agent, target: HttpTarget, path: string, body: string, timeoutMs = 10_000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    };
    if (target.token) headers.authorization = `Bearer ${target.token}`;
    const req = request({ agent, host: "127.0.0.1", port: target.port, method: "POST", path, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`POST ${path} timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** One GET on a fresh connection (no keep-alive); status code, or 0 on any error. */
export function getStatusOnce(port: number, path: string, timeoutMs = 500): Promise<number> {
  return new Promise((resolve) => {
    const req = get({ host: "127.0.0.1", port, path, agent: false, headers: { connection: "close" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", () => resolve(0));
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on("error", () => resolve(0));
  });
}

/** GET over `agent`; the body as text and its size in bytes. Rejects on network errors and after `timeoutMs`. */
export function getText(agent: Agent, target: HttpTarget, path: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<HttpResult & { bytes: number }> {
  return new Promise((resolve, reject) => {
    const all: Record<string, string> = { ...headers };
    if (target.token) all.authorization = `Bearer ${target.token}`;
    const req = request({ agent, host: "127.0.0.1", port: target.port, method: "GET", path, headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, body: buf.toString("utf8"), bytes: buf.length });
      });
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path} timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}
