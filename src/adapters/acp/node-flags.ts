// How VS Code (New Agent Session…) starts `switchboard acp`: `node ACP_NODE_FLAGS dist/acp.js -- CMD…`.
// The client is a small process that lives as long as its agent session and spends its time waiting
// on pipes and sockets, while V8's defaults are sized for throughput. Each flag is measured by
// bench/acp.ts (resident memory, and the latency it adds to an approval, beside their floors):
// - --jitless: only V8's bytecode interpreter, no baseline or optimizing compiler. Saves ~7 MB: the
//   compilers' own machine code is never paged in from the node binary, and no generated code is kept.
//   The client's work per message (parse, validate, forward) is small enough that the interpreter
//   keeps the added latency far below its 20 ms target. It also turns WebAssembly off, so nothing
//   this process loads may use it (test/unit/acp-bundle.test.ts: the policy parser runs in the broker).
// - --max-semi-space-size=1: a 1 MB young generation instead of up to 16 MB: ~15 MB less resident at
//   this allocation rate, collected a little more often.
// - --v8-pool-size=0: no V8 worker threads (concurrent GC/compile helpers) for a single-threaded
//   process that is mostly idle.
// From a shell, the same: NODE_OPTIONS="--jitless --max-semi-space-size=1 --v8-pool-size=0" switchboard acp -- …
export const ACP_NODE_FLAGS: readonly string[] = ["--jitless", "--max-semi-space-size=1", "--v8-pool-size=0"];

/** The arguments after the Node binary that start `switchboard acp -- command args…` from the bundle in `dist`. */
export function acpNodeArgs(distDir: string, command: string, args: readonly string[]): string[] {
  return [...ACP_NODE_FLAGS, `${distDir}/acp.js`, "--", command, ...args];
}
