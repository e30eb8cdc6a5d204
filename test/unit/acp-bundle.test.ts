// What dist/acp.js (`switchboard acp` as VS Code starts it) may contain. It runs with --jitless
// (src/adapters/acp/node-flags.ts), which turns WebAssembly off: nothing it bundles may need it. The
// policy engine and its shell parser run in the broker, not here. And it stays its own small bundle:
// the ACP command and what it imports, not the rest of the CLI.
import assert from "node:assert/strict";
import { test } from "node:test";
import { build } from "esbuild";
import { ACP_NODE_FLAGS, acpNodeArgs } from "../../src/adapters/acp/node-flags.js";
import { ROOT } from "../support/broker.js";

async function bundle(): Promise<{ inputs: string[]; text: string }> {
  const r = await build({
    absWorkingDir: ROOT,
    entryPoints: ["src/cli/acp-main.ts"],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    write: false,
    metafile: true,
    outfile: "acp.js",
    external: ["bufferutil", "utf-8-validate"],
    logLevel: "silent",
  });
  return { inputs: Object.keys(r.metafile.inputs), text: r.outputFiles[0]!.text };
}

test("switchboard acp's own bundle: no WebAssembly (it runs --jitless), no policy engine, no other command", async () => {
  assert.ok(ACP_NODE_FLAGS.includes("--jitless"));
  const { inputs, text } = await bundle();
  assert.deepEqual(
    inputs.filter((i) => /unbash|src\/policy\/|src\/broker\//.test(i)),
    [],
  );
  assert.equal(/\bWebAssembly\b/.test(text), false, "something in dist/acp.js uses WebAssembly, which --jitless turns off");
  assert.deepEqual(
    inputs.filter((i) => i.startsWith("src/cli/commands/")),
    ["src/cli/commands/acp.ts"],
  );
});

test("New Agent Session… starts dist/acp.js with the flags, then -- and the agent's command", () => {
  assert.deepEqual(acpNodeArgs("/ext/dist", "gemini", ["--acp"]), [...ACP_NODE_FLAGS, "/ext/dist/acp.js", "--", "gemini", "--acp"]);
});
