// Processes a test did not spawn itself (a broker a client or the CLI started detached, an agent below
// VS Code's pty host): only their pid is known, so liveness is signal 0 and stopping is by pid.
import { pidAlive } from "../../src/platform/process.js";
import { waitFor } from "./wait.js";

export { pidAlive };

/**
 * SIGTERM `pid`, then SIGKILL if it is still there after `graceMs`. Resolves once it is gone (or, after a
 * SIGKILL, once signalled); false if it was not running.
 */
export async function terminate(pid: number, graceMs = 3000): Promise<boolean> {
  if (!pidAlive(pid)) return false;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return false;
  }
  const gone = await waitFor(() => !pidAlive(pid), graceMs, `pid ${pid} to exit`, 20).then(
    () => true,
    () => false,
  );
  if (!gone) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  return true;
}
