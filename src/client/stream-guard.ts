// One /v1/stream per (pid, broker state folder) in this process: the broker ties a stream to a pid,
// so two clients of one pid would keep replacing each other's stream. The first client to connect
// holds the guard until it disconnects or closes; a second one fails with StreamInUseError.
import { resolve as resolvePath } from "node:path";
import { stateHome } from "../platform/paths.js";
import { StreamInUseError } from "./client-errors.js";
import type { DiscoverOptions } from "./discover.js";

const owners = new Map<string, object>();

/** What identifies the broker a client talks to: its discovery file, or its state folder. */
function target(discover: DiscoverOptions): string {
  return discover.discoveryFile ? `file:${resolvePath(discover.discoveryFile)}` : `home:${resolvePath(discover.home ?? stateHome())}`;
}

/** Takes the guard for `owner`, or throws StreamInUseError; returns the key to release it with. */
export function acquireStreamGuard(owner: object, pid: number, discover: DiscoverOptions): string {
  const where = target(discover);
  const key = `${pid}@${where}`;
  const current = owners.get(key);
  if (current && current !== owner) throw new StreamInUseError(pid, where.replace(/^\w+:/, ""));
  owners.set(key, owner);
  return key;
}

/** Gives the guard back, if `owner` still holds it. */
export function releaseStreamGuard(owner: object, key: string | undefined): void {
  if (key && owners.get(key) === owner) owners.delete(key);
}
