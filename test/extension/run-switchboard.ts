// Runs test/extension/switchboard/*.test.ts inside a real VS Code extension host, with this repo as
// the extension under development and a throwaway SWITCHBOARD_HOME, then makes sure no broker the
// suite spawned is left running. Needs `bash scripts/vscode/install.sh` and `npm run build`.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readDiscovery } from "../../src/platform/discovery.js";
import { brokerPaths } from "../../src/platform/paths.js";
import { runExtensionTests } from "./run.js";
import { ROOT } from "../support/paths.js";

const home = await mkdtemp(join(tmpdir(), "sb-ext-home-"));
const workspace = await mkdtemp(join(tmpdir(), "sb-ext-ws-"));
let code = 0;
try {
  await runExtensionTests({
    extensionDevelopmentPath: ROOT,
    testsDir: join(ROOT, "test/extension/switchboard"),
    workspace,
    // pi from node_modules for "New pi Session"; its agent folder is a throwaway one.
    env: { SWITCHBOARD_HOME: home, SWITCHBOARD_TEST_PI: join(ROOT, "node_modules/.bin/pi"), PI_CODING_AGENT_DIR: join(home, "pi-agent") },
    settings: { "switchboard.notifications.approvals": "off" },
    label: "extension host",
  });
} catch (err) {
  console.error(String((err as Error).message ?? err));
  code = 1;
} finally {
  const d = await readDiscovery(brokerPaths(home).discoveryFile).catch(() => undefined);
  if (d?.kind === "ok") {
    try {
      process.kill(d.record.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await rm(home, { recursive: true, force: true });
  await rm(workspace, { recursive: true, force: true });
}
process.exit(code);
