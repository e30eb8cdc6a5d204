// How VS Code (New Agent Session…) starts `switchboard acp`: `node ACP_NODE_FLAGS dist/acp.js -- CMD…`.
// The client is a small process that lives as long as its agent session and spends its time waiting
// on pipes and sockets, while V8's defaults are sized for throughput. bench/acp.ts measures what each
// step saves (resident memory after 210 approvals, 2026-12-06: own bundle 75.6 MB, + the two heap
// flags 61.4 MB, + --jitless 54.3 MB; an idle node 41.4 MB) and the latency added to an approval:
// - --max-semi-space-size=1: a 1 MB young generation instead of up to 16 MB, collected more often.
// - --v8-pool-size=0: no V8 worker threads (concurrent GC and compile helpers) in a single-threaded
//   process that is mostly idle.
// - --jitless: only V8's bytecode interpreter, no baseline or optimizing compiler: their machine code is
//   never paged in from the node binary and no generated code is kept (~7 MB). The client's work per
//   message (parse, validate, forward) is small: the latency it adds stays a few ms, far below the
//   20 ms target. It also turns WebAssembly off, so nothing this process loads may use it
//   (test/unit/acp-bundle.test.ts; the policy engine's parser runs in the broker).
// These are flags of this process alone: the agent, often a Node program itself, does not inherit them
// (NODE_OPTIONS would pass them on to it, so a shell's `switchboard acp` keeps Node's defaults).
export const ACP_NODE_FLAGS: readonly string[] = ["--jitless", "--max-semi-space-size=1", "--v8-pool-size=0"];

/** The arguments after the Node binary that start `switchboard acp -- command args…` from the bundle in `dist`. */
export function acpNodeArgs(distDir: string, command: string, args: readonly string[]): string[] {
  return [...ACP_NODE_FLAGS, `${distDir}/acp.js`, "--", command, ...args];
}
