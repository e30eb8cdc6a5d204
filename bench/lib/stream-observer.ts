// A live stream observer in its own process (as a VS Code window would be), driven over IPC by
// bench/streams.ts:  node --import tsx bench/lib/stream-observer.ts
//
// It follows GET /v1/streams/:id/live?binary=1 the way src/client/follow.ts does (binary chunk frames decoded to text, JSON for the rest,
// chunks with seq <= the last one seen are dropped), plus a `ready` signal once `hello` arrived, which
// followStream does not expose and the relay floor (no replay) needs.
//   parent -> child  {type:"follow", id, wsBase, token, streamId, mode:"count"|"latency", timeoutMs}
//   child  -> parent {type:"ready", id} | {type:"done", id, result} | {type:"error", id, message}
//   parent -> child  {type:"exit"}
// Times are process.hrtime.bigint() values as decimal strings: CLOCK_MONOTONIC, shared by every process
// on Linux, so the parent can compare them with its own.
import WebSocket from "ws";
import { decodeFollowerChunk } from "../../src/protocol/binary-frames.js";

export interface FollowCommand {
  type: "follow";
  id: number;
  wsBase: string;
  token: string;
  streamId: string;
  /** count: bytes and chunks. latency: also parses lines "T<hrtime ns> …\n" and times each one. */
  mode: "count" | "latency";
  timeoutMs: number;
}

export interface ObserverResult {
  bytes: number;
  chunks: number;
  resyncs: number;
  /** chunks whose seq was not last + 1 (outside a resync replay); 0 when nothing was lost */
  seq_gaps: number;
  duplicates: number;
  last_seq: number;
  hello_ns: string;
  first_chunk_ns: string | null;
  end_ns: string;
  end_stream: unknown;
  /** latency mode: producer-stamp -> receive, ms, one per complete line */
  latencies_ms?: number[];
  lines?: number;
  malformed_lines?: number;
  /** CPU seconds this process spent while following */
  cpu_s: number;
  frames: number;
}

export type ObserverMessage = { type: "ready"; id: number } | { type: "done"; id: number; result: ObserverResult } | { type: "error"; id: number; message: string };

function reply(m: ObserverMessage): void {
  process.send?.(m);
}

function follow(cmd: FollowCommand): void {
  const cpu0 = process.cpuUsage();
  const url = `${cmd.wsBase}/v1/streams/${encodeURIComponent(cmd.streamId)}/live?from_seq=1&binary=1`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${cmd.token}` } });
  let lastSeq = 0;
  let bytes = 0;
  let chunks = 0;
  let frames = 0;
  let resyncs = 0;
  let gaps = 0;
  let dups = 0;
  let replaying = false;
  let helloNs = "0";
  let firstChunk: string | null = null;
  let finished = false;
  // latency mode
  const lat: number[] = [];
  let carry = "";
  let lines = 0;
  let malformed = 0;
  const timer = setTimeout(() => fail(`no end within ${cmd.timeoutMs} ms (got ${bytes} bytes, ${chunks} chunks, last seq ${lastSeq})`), cmd.timeoutMs);
  function fail(message: string): void {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    ws.terminate();
    reply({ type: "error", id: cmd.id, message });
  }
  ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
    const now = process.hrtime.bigint();
    frames++;
    let f: { type: string; channel?: number; seq?: number; data?: string; from_seq?: number; stream?: unknown };
    if (isBinary) {
      const c = decodeFollowerChunk(data as Buffer);
      if (!c) return fail("a binary frame that is not a chunk");
      f = { type: "chunk", channel: c.channel, seq: c.seq, data: c.data.toString("utf8") };
    } else f = JSON.parse(data.toString());
    if (f.type === "chunk") {
      const seq = f.seq!;
      if (seq <= lastSeq) {
        dups++;
        return; // already seen (as followStream does)
      }
      if (seq !== lastSeq + 1 && !replaying) gaps++;
      lastSeq = seq;
      chunks++;
      firstChunk ??= String(now);
      const text = f.data!;
      bytes += Buffer.byteLength(text);
      if (cmd.mode === "latency") {
        const all = carry + text;
        let start = 0;
        for (let nl = all.indexOf("\n"); nl >= 0; nl = all.indexOf("\n", start)) {
          const line = all.slice(start, nl);
          start = nl + 1;
          lines++;
          const sp = line.indexOf(" ");
          if (line[0] !== "T" || sp < 2) {
            malformed++;
            continue;
          }
          lat.push(Number(now - BigInt(line.slice(1, sp))) / 1e6);
        }
        carry = all.slice(start);
      }
    } else if (f.type === "hello") {
      helloNs = String(now);
      reply({ type: "ready", id: cmd.id });
    } else if (f.type === "resync") {
      resyncs++;
      replaying = true;
    } else if (f.type === "end") {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const c = process.cpuUsage(cpu0);
      ws.close();
      reply({
        type: "done",
        id: cmd.id,
        result: {
          bytes,
          chunks,
          resyncs,
          seq_gaps: gaps,
          duplicates: dups,
          last_seq: lastSeq,
          hello_ns: helloNs,
          first_chunk_ns: firstChunk,
          end_ns: String(now),
          end_stream: f.stream,
          frames,
          cpu_s: (c.user + c.system) / 1e6,
          ...(cmd.mode === "latency" ? { latencies_ms: lat, lines, malformed_lines: malformed + (carry ? 1 : 0) } : {}),
        },
      });
    }
    // A replay ends where live chunks resume; seq order is all we check, so leave `replaying` set once seen.
  });
  ws.on("unexpected-response", (_req, res) => fail(`live socket refused: HTTP ${res.statusCode}`));
  ws.on("error", (err) => fail(`live socket error: ${String(err)}`));
  ws.on("close", (code, reason) => {
    if (!finished) fail(`live socket closed before end: ${code} ${reason.toString()}`);
  });
}

if (!process.send) {
  process.stderr.write("stream-observer: run me with an IPC channel (from bench/streams.ts)\n");
  process.exit(2);
}
process.on("message", (m: { type: string } & Partial<FollowCommand>) => {
  if (m.type === "follow") follow(m as FollowCommand);
  else if (m.type === "exit") process.exit(0);
});
process.on("disconnect", () => process.exit(0));
