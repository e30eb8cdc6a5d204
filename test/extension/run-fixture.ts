// Proof of the extension-host harness on test/fixtures/hello-ext:
//   node --import tsx test/extension/run-fixture.ts [--tests DIR]
// Exits 0 when the fixture's suite passed, 1 otherwise. --tests points it at another folder of
// tests (e.g. a deliberately failing one, to check that a failure gives a non-zero exit).
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runExtensionTests } from "./run.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/hello-ext/", import.meta.url));
const i = process.argv.indexOf("--tests");
const testsDir = i > 0 && process.argv[i + 1] ? resolve(process.argv[i + 1]!) : join(FIXTURE, "test");

// A copy of the fixture's workspace, so nothing a test does lands in the repository.
const workspace = mkdtempSync(join(tmpdir(), "sb-hello-ws-"));
cpSync(join(FIXTURE, "workspace"), workspace, { recursive: true });
try {
  const { durationMs } = await runExtensionTests({
    extensionDevelopmentPath: FIXTURE,
    testsDir,
    workspace,
    settings: { "editor.tabSize": 7 },
  });
  console.log(`hello-ext extension-host suite passed in ${(durationMs / 1000).toFixed(1)} s (wall clock, incl. bundling, server and browser start)`);
} catch (err) {
  console.error(`hello-ext extension-host suite FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  rmSync(workspace, { recursive: true, force: true });
}
