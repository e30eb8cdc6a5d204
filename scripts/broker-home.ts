// The broker a script started in a home of its own (`npm start`'s demo, `npm run screenshots`): an API
// for it, and stopping it.
import { BrokerApi } from "../src/client/api.js";
import { readDiscovery } from "../src/platform/discovery.js";
import { brokerPaths } from "../src/platform/paths.js";

/** The API of the broker running in `home`, from its discovery record. */
export async function brokerApiAt(home: string): Promise<BrokerApi> {
  const read = await readDiscovery(brokerPaths(home).discoveryFile);
  if (read.kind !== "ok") throw new Error(`the broker's discovery record in ${home} is ${read.kind}`);
  return new BrokerApi(read.record);
}

/** Stops the broker running in `home` (SIGTERM, then SIGKILL after 10 s); nothing if none runs. */
export async function stopBroker(home: string): Promise<void> {
  const read = await readDiscovery(brokerPaths(home).discoveryFile).catch(() => undefined);
  if (read?.kind !== "ok") return;
  const pid = read.record.pid;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(pid, "SIGKILL");
}
