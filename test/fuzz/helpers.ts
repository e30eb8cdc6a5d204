// Shared pieces of the bad-input suites: the seed, a real broker with some state in it, the wire contract's
// error codes, and a snapshot of what the broker stores. Raw HTTP and the soak switch and summary line come
// from test/support (re-exported).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { RunDetails } from "fast-check";
import { ERROR_STATUS } from "../../src/protocol/errors.js";
import { startBroker, tempHome, type TestBroker } from "../support/broker.js";
import { openFeed, openStream, type Peer } from "../support/ws.js";

export { RawHttp, type RawRequest, type RawResponse } from "../support/http.js";
export { SOAK, summary as printSummary, Tally } from "../support/soak.js";

/** The seed of a suite: SWITCHBOARD_FUZZ_SEED when set (to replay a failure), else a fixed one per suite. */
export function seedFor(suite: string): number {
  const fromEnv = process.env.SWITCHBOARD_FUZZ_SEED;
  if (fromEnv !== undefined && /^-?\d+$/.test(fromEnv)) return Number(fromEnv) | 0;
  let h = 2166136261;
  for (const ch of suite) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h | 0;
}

/** Every error code of the wire contract (src/protocol/errors.ts), with its HTTP status. */
export const CODES: Readonly<Record<string, number>> = ERROR_STATUS;

/**
 * What is wrong with an error answer, or undefined if it is one: `{"error": <documented code whose
 * status is this one>, "message": <a sentence>}`.
 */
export function errorBodyProblem(status: number, text: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `the body is not JSON: ${JSON.stringify(text.slice(0, 200))}`;
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) return `the body is not an object: ${text.slice(0, 200)}`;
  const { error, message } = body as { error?: unknown; message?: unknown };
  if (typeof error !== "string" || !Object.hasOwn(CODES, error)) return `"error" is not a documented code: ${JSON.stringify(error)}`;
  if (CODES[error] !== status) return `code ${error} belongs with status ${CODES[error]}, not ${status}`;
  if (typeof message !== "string" || message.trim().length < 10 || !/\w+\s+\w+/.test(message)) return `"message" is not a sentence: ${JSON.stringify(message)}`;
  return undefined;
}

// ---- a broker with one of everything ---------------------------------------------------------------------

export interface Fixture {
  b: TestBroker;
  home: { home: string; cleanup(): Promise<void> };
  port: number;
  token: string;
  /** The endpoint owner's /v1/stream (this test process's pid). */
  owner: Peer;
  ownerPid: number;
  endpointId: string;
  sessionName: string;
  inboxId: string;
  pendingApproval: string;
  approvedApproval: string;
  runningStream: string;
  endedStream: string;
  /** Observer feed opened after the set-up: every change frame on it is a change of state. */
  feed: Peer;
  /** Broker stderr (uncaught exceptions are written there). */
  stderr: () => string;
  stop(): Promise<void>;
}

export async function brokerWithState(prefix: string): Promise<Fixture> {
  const home = await tempHome(prefix);
  const b = await startBroker(home.home);
  let stderr = "";
  b.proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const ownerPid = process.pid;
  const owner = await openStream(b.record, ownerPid);
  const sessionName = "fuzz-owner";
  const { endpoint_id: endpointId } = await b.api.register({ plugin_pid: ownerPid, kind: "fuzz", session_name: sessionName, workspace: { root: home.home } });
  const inbox = await b.api.ingress({ from: "fuzz", content: "waiting in the inbox" });
  const pending = await b.api.requestApproval({ endpoint_id: endpointId, action: "sh", summary: "stays pending", command: "true" });
  const approved = await b.api.requestApproval({ endpoint_id: endpointId, action: "env", summary: "was approved", command: "env" });
  await b.api.decide(approved.approval_id, { decision: "approve", decided_by: "fuzz" });
  const running = await b.api.startStream({ endpoint_id: endpointId, action: "sh", command: "sleep 1000" });
  await b.api.appendChunks(running.stream_id, [{ channel: 1, data: "running output\n" }]);
  const ended = await b.api.startStream({ endpoint_id: endpointId, action: "env", command: "env", approval_id: approved.approval_id });
  await b.api.appendChunks(ended.stream_id, [
    { channel: 1, data: "PATH=/bin\n" },
    { channel: 2, data: "warning\n" },
  ]);
  await b.api.completeStream(ended.stream_id, { exit_code: 0, duration_ms: 5 });
  // Let the approval push reach the owner and its ack come back before anything is compared.
  await owner.next((f) => f.event === "approval_resolved");
  await new Promise((r) => setTimeout(r, 100));
  const feed = await openFeed(b.record);
  await feed.next((f) => f.type === "snapshot");
  return {
    b,
    home,
    port: Number(new URL(b.record.ipcUrl).port),
    token: b.record.bearerToken,
    owner,
    ownerPid,
    endpointId,
    sessionName,
    inboxId: inbox.undispatched_id!,
    pendingApproval: pending.approval_id,
    approvedApproval: approved.approval_id,
    runningStream: running.stream_id,
    endedStream: ended.stream_id,
    feed,
    stderr: () => stderr,
    async stop() {
      await feed.close().catch(() => {});
      await owner.close().catch(() => {});
      if (b.proc.exitCode === null && b.proc.signalCode === null) await b.stop();
      await home.cleanup();
    },
  };
}

/** Everything the broker stores that a client can read back. */
export async function stateOf(fx: Fixture): Promise<unknown> {
  const api = fx.b.api;
  const streams = await api.streams();
  return {
    endpoints: await api.endpoints(),
    inbox: await api.undispatched(fx.ownerPid),
    approvals: await api.approvals(),
    history: await api.approvalHistory(500),
    streams,
    output: await Promise.all(streams.map((s) => api.replayStream(s.stream_id))),
    audit: await api.audit(),
  };
}

/**
 * The broker survived: its process runs, /health answers, nothing reached its uncaught-exception
 * handler and it logged no failed request.
 */
export async function assertBrokerHealthy(fx: Fixture): Promise<{ crashes: number }> {
  assert.equal(fx.b.proc.exitCode, null, "the broker process exited");
  assert.equal(fx.b.proc.signalCode, null, "the broker process was killed");
  assert.equal((await fx.b.api.health()).ok, true, "/health answers");
  const uncaught = fx
    .stderr()
    .split("\n")
    .filter((l) => /^(uncaught|unhandled rejection)/.test(l));
  assert.deepEqual(uncaught, [], `the broker hit its uncaught-exception handler:\n${fx.stderr().slice(0, 3000)}`);
  const log = await readFile(join(fx.home.home, "broker/log/broker.log"), "utf8").catch(() => "");
  const errors = log.split("\n").filter((l) => l.includes('"level":"error"'));
  assert.deepEqual(
    errors.map((l) => l.slice(0, 600)),
    [],
    "the broker logged errors",
  );
  return { crashes: 0 };
}

/** Change frames the observer feed received since the set-up (each one is a change of state). */
export function feedChanges(fx: Fixture): unknown[] {
  return fx.feed.frames.filter((f) => f.type === "change");
}

/**
 * The end of a suite: the broker survived (assertBrokerHealthy), its observer feed saw no change of
 * state, and it stores exactly what it stored at `before` (stateOf).
 */
export async function assertNothingChanged(fx: Fixture, before: unknown): Promise<{ crashes: number }> {
  const healthy = await assertBrokerHealthy(fx);
  assert.deepEqual(feedChanges(fx), [], "the observer feed saw changes of state");
  assert.deepEqual(await stateOf(fx), before);
  return healthy;
}

/**
 * fast-check's reporter for `suite`: its own report prints whole batches (megabytes for oversized bodies);
 * this names the seed (SWITCHBOARD_FUZZ_SEED replays it) and the one bad case instead.
 */
export function failureReporter(suite: string, unit: "batches" | "runs" = "batches") {
  return <T>(details: RunDetails<T>): void => {
    if (!details.failed) return;
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(
      `${suite} failed after ${details.numRuns} ${unit} (seed ${details.seed}, path ${details.counterexamplePath}; SWITCHBOARD_FUZZ_SEED=${details.seed} replays it):\n${cause}`,
    );
  };
}
