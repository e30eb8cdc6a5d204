// Starting the real broker (dist/broker.js) and the cold-start floor, and timing spawn -> healthy.
// "Healthy" is found the same way for both: poll the file the server writes once it listens (the
// discovery record for the broker), then GET /health on a fresh connection, every ~2 ms.
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { brokerPaths } from "../../src/platform/paths.js";
import { getStatusOnce } from "./http.js";
import { MINIMAL_SERVER_JS } from "./floor.js";
import { spawnTracked, type Tracked } from "./procs.js";
import { msSince, sleep } from "./stats.js";
import { BROKER_ENTRY, ROOT } from "../../test/support/paths.js";

export { BROKER_ENTRY, ROOT };

export interface RunningServer {
  child: Tracked;
  port: number;
  token: string;
  home: string;
  /** ms from spawn() to the first 200 from /health. */
  startMs: number;
}

type PortReader = () => { port: number; token: string } | undefined;

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return undefined; // not there yet
  }
}

/** `pid`: accept only the record this process wrote (a broker killed with -9 leaves its record behind). */
const discoveryPort = (home: string, pid?: number): PortReader => {
  const file = brokerPaths(home).discoveryFile;
  return () => {
    const rec = readJson(file);
    if (pid !== undefined && rec?.pid !== pid) return undefined;
    const m = typeof rec?.ipcUrl === "string" ? /:(\d+)$/.exec(rec.ipcUrl) : null;
    return m && typeof rec?.bearerToken === "string" ? { port: Number(m[1]), token: rec.bearerToken } : undefined;
  };
};

const portFile =
  (file: string): PortReader =>
  () => {
    const rec = readJson(file);
    return typeof rec?.port === "number" ? { port: rec.port, token: "" } : undefined;
  };

async function waitHealthy(child: Tracked, read: PortReader, t0: bigint, timeoutMs: number, pollMs: number): Promise<{ port: number; token: string; ms: number }> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 1_000_000 && Date.now() < deadline; i++) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null)
      throw new Error(`process ${child.pid} exited (${child.proc.exitCode ?? child.proc.signalCode}) before it was healthy: ${child.stderrTail()}`);
    const found = read();
    if (found && (await getStatusOnce(found.port, "/health", 250)) === 200) return { ...found, ms: msSince(t0) };
    await sleep(pollMs);
  }
  throw new Error(`process ${child.pid} did not become healthy within ${timeoutMs} ms: ${child.stderrTail()}`);
}

/** Spawns `node [nodeArgs] dist/broker.js` with SWITCHBOARD_HOME in a fresh folder under `dir`. */
export async function startBroker(dir: string, nodeArgs: string[] = [], timeoutMs = 10_000, pollMs = 2): Promise<RunningServer> {
  const home = await mkdtemp(join(dir, "home-"));
  const t0 = process.hrtime.bigint();
  const child = spawnTracked(process.execPath, [...nodeArgs, BROKER_ENTRY], {
    env: { ...process.env, SWITCHBOARD_HOME: home },
    stdio: ["ignore", "ignore", "pipe"],
  });
  try {
    const { port, token, ms } = await waitHealthy(child, discoveryPort(home), t0, timeoutMs, pollMs);
    return { child, port, token, home, startMs: ms };
  } catch (err) {
    await child.stop(500);
    throw err;
  }
}

export interface BrokerStartOptions {
  nodeArgs?: string[];
  /** Another build of the broker than dist/broker.js (an A/B comparison); it must sit in dist/ beside its wasm files. */
  entry?: string;
  /** Extra environment of the broker (SWITCHBOARD_INBOX_MAX, …). */
  env?: Record<string, string>;
  timeoutMs?: number;
  pollMs?: number;
}

/**
 * Spawns `node dist/broker.js` on an existing SWITCHBOARD_HOME (a restart: it recovers that home's
 * journal). Healthy means: the discovery record written by this very process answers /health.
 */
export async function startBrokerIn(home: string, opts: BrokerStartOptions = {}): Promise<RunningServer> {
  const t0 = process.hrtime.bigint();
  const child = spawnTracked(process.execPath, [...(opts.nodeArgs ?? []), opts.entry ?? BROKER_ENTRY], {
    env: { ...process.env, ...opts.env, SWITCHBOARD_HOME: home },
    stdio: ["ignore", "ignore", "pipe"],
  });
  try {
    const { port, token, ms } = await waitHealthy(child, discoveryPort(home, child.pid), t0, opts.timeoutMs ?? 10_000, opts.pollMs ?? 2);
    return { child, port, token, home, startMs: ms };
  } catch (err) {
    await child.stop(500);
    throw err;
  }
}

/** Spawns the minimal `http.createServer((q, s) => s.end("ok"))` child, which announces its port in a file. */
export async function startMinimalServer(dir: string, timeoutMs = 10_000, pollMs = 2): Promise<RunningServer> {
  const home = await mkdtemp(join(dir, "min-"));
  const file = join(home, "port.json");
  const t0 = process.hrtime.bigint();
  const child = spawnTracked(process.execPath, ["-e", MINIMAL_SERVER_JS], {
    env: { ...process.env, BENCH_PORT_FILE: file },
    stdio: ["ignore", "ignore", "pipe"],
  });
  try {
    const { port, ms } = await waitHealthy(child, portFile(file), t0, timeoutMs, pollMs);
    return { child, port, token: "", home, startMs: ms };
  } catch (err) {
    await child.stop(500);
    throw err;
  }
}
