// Helpers for driving our broker with the real MASONS `BrokerClient` SDK (@masons/runtime-broker):
// where the SDK looks for a discovery record, a spawn sentinel, and bounded waits.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DiscoveryRecord } from "../../src/protocol/index.js";

/**
 * The discovery file the SDK derives (its dist/broker/paths.js `resolveBrokerPaths`):
 * <userData>/runtime-broker/<sanitized accountId>/<sha256(runtimeToken) hex, first 16>/discovery.json
 */
export function masonsDiscoveryFile(userDataDir: string, accountId: string, runtimeToken: string): string {
  const identity = createHash("sha256").update(runtimeToken, "utf8").digest("hex").slice(0, 16);
  return join(userDataDir, "runtime-broker", accountId.replace(/[^a-zA-Z0-9._-]/g, "_"), identity, "discovery.json");
}

/** Writes our broker's record where the SDK will look for it (0700 dir, 0600 file, like MASONS). */
export async function exposeRecordToMasonsSdk(record: DiscoveryRecord, userDataDir: string, accountId: string, runtimeToken: string): Promise<string> {
  const file = masonsDiscoveryFile(userDataDir, accountId, runtimeToken);
  await mkdir(join(file, ".."), { recursive: true, mode: 0o700 });
  await writeFile(file, JSON.stringify(record, null, 2) + "\n", { mode: 0o600 });
  return file;
}

/**
 * A `brokerEntry` for `BrokerClient.discover` that never starts a broker: if the SDK ever decides to
 * spawn, node runs this script, which only records the attempt in `marker` and exits 3. The SDK then
 * times out with "broker did not become healthy", and `spawnAttempted()` tells the test why.
 */
export async function spawnSentinel(dir: string): Promise<{ entry: string; marker: string; spawnAttempted(): boolean }> {
  const entry = join(dir, "masons-spawn-sentinel.mjs");
  const marker = join(dir, "masons-spawn-attempted.json");
  await writeFile(
    entry,
    `import { writeFileSync } from "node:fs";\n` +
      `writeFileSync(${JSON.stringify(marker)}, JSON.stringify({ pid: process.pid, argv: process.argv, ` +
      `account: process.env.MASONS_BROKER_ACCOUNT_ID ?? null, userData: process.env.MASONS_BROKER_USER_DATA ?? null }));\n` +
      `process.exit(3);\n`,
  );
  return { entry, marker, spawnAttempted: () => existsSync(marker) };
}

// Bounded waits and liveness: the shared ones (test/support/wait.ts, src/platform/process.ts).
export { waitFor, within } from "./wait.js";
export { pidAlive } from "./process.js";
