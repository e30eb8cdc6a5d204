// The broker daemon inside the test process, for the faults a child process cannot be given: a manual
// clock, a held or slow fdatasync (DaemonOptions hooks). Everything else uses the real process (broker.ts).
import assert from "node:assert/strict";
import { startDaemon, type DaemonOptions, type RunningDaemon } from "../../src/broker/daemon.js";
import { BrokerApi } from "../../src/client/api.js";

export interface InProcessBroker {
  daemon: RunningDaemon;
  api: BrokerApi;
  stop(): Promise<void>;
}

/** Starts the daemon on `o.home` (which must have no broker running) and asserts that it started. */
export async function startInProcessBroker(o: DaemonOptions): Promise<InProcessBroker> {
  const r = await startDaemon(o);
  assert.equal(r.kind, "started");
  const daemon = (r as { daemon: RunningDaemon }).daemon;
  return { daemon, api: new BrokerApi(daemon.record), stop: () => daemon.stop("test") };
}
