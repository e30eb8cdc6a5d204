// The companion's listener for the session's hooks, on 127.0.0.1 (thin I/O shell). As the broker
// does: no web page (Origin), no DNS rebinding (Host), then the token in constant time. Routes:
//   POST /hook      {event, offline, approvalTimeoutMs} from the Node hook → its HookAnswer
//   POST /hook-raw  Claude's event itself, from claude-hook.sh's fast path (PreToolUse, PostToolUse,
//                   PostToolUseFailure), policy in headers → what to print for Claude (`{}`: nothing)
//   POST /confirm   {ids}: the hook printed these routed messages for Claude
// A hook that goes away (Claude's hook timeout, Claude itself) aborts the wait for its answer.
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { approvalTimeoutMs, type HookAnswer, type HookCall } from "./protocol.js";

const MAX_BODY = 16 * 1024 * 1024;
/** Events claude-hook.sh hands over on its fast path. */
const RAW_EVENTS = new Set(["PreToolUse", "PostToolUse", "PostToolUseFailure"]);

export interface HookHandlers {
  onHook(call: HookCall, signal: AbortSignal): Promise<HookAnswer>;
  onConfirm(ids: string[]): void;
}

function tokenMatches(presented: string | undefined, expected: string): boolean {
  const a = Buffer.from(presented ?? "");
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class HookListener {
  readonly server: Server;
  private readonly waits = new Set<AbortController>();

  constructor(
    private readonly token: string,
    private readonly handlers: HookHandlers,
  ) {
    this.server = createServer((req, res) => void this.onRequest(req, res));
  }

  listen(): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  close(): void {
    for (const w of this.waits) w.abort();
    this.server.close();
    this.server.closeAllConnections?.();
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      if (res.writableEnded) return;
      const text = Buffer.from(JSON.stringify(body));
      res.writeHead(status, { "content-type": "application/json", "content-length": text.length });
      res.end(text);
    };
    try {
      const port = (this.server.address() as AddressInfo).port;
      if (req.headers.origin !== undefined || (req.headers.host !== `127.0.0.1:${port}` && req.headers.host !== `localhost:${port}`)) return send(403, { error: "forbidden" });
      if (!tokenMatches(req.headers.authorization, `Bearer ${this.token}`)) return send(401, { error: "unauthorized" });
      let raw = "";
      req.setEncoding("utf8");
      for await (const chunk of req) {
        raw += chunk;
        if (raw.length > MAX_BODY) return send(413, { error: "too large" });
      }
      const body = JSON.parse(raw || "{}") as Record<string, unknown>;
      if (req.url === "/confirm") {
        this.handlers.onConfirm(Array.isArray(body.ids) ? body.ids.filter((x): x is string => typeof x === "string") : []);
        return send(200, { ok: true });
      }
      let call: HookCall;
      if (req.url === "/hook-raw") {
        const event = body as unknown as HookCall["event"];
        if (!RAW_EVENTS.has(event.hook_event_name)) return send(409, { error: "not_a_fast_path_event" });
        const offline = header(req, "x-switchboard-offline").trim().toLowerCase() === "allow" ? "allow" : "block";
        const timeoutS = Number(header(req, "x-switchboard-hook-timeout"));
        call = { event, offline, approvalTimeoutMs: approvalTimeoutMs(Number.isFinite(timeoutS) && timeoutS > 0 ? timeoutS : 600) };
      } else if (req.url === "/hook") call = body as unknown as HookCall;
      else return send(404, { error: "not_found" });
      const abort = new AbortController();
      res.once("close", () => abort.abort());
      this.waits.add(abort);
      try {
        const answer = await this.handlers.onHook(call, abort.signal);
        if (req.url === "/hook") return send(200, answer);
        // The fast path prints the body as is: a decision for PreToolUse (none is an error), else `{}`.
        if (call.event.hook_event_name === "PreToolUse" && !answer.stdout) return send(500, { error: "no_decision" });
        return send(200, answer.stdout ?? {});
      } finally {
        this.waits.delete(abort);
      }
    } catch (err) {
      send(500, { error: "internal", message: (err as Error)?.message ?? String(err) });
    }
  }
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return Array.isArray(v) ? (v[0] ?? "") : (v ?? "");
}
