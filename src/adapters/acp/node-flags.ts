// How VS Code (New Agent Session…) starts `switchboard acp`: `node ACP_NODE_FLAGS dist/acp.js -- CMD…`.
// The client is a small process that lives as long as its agent session and spends its time waiting
// on pipes and sockets, while V8's defaults are sized for throughput. bench/acp.ts measures each flag
// (resident memory with all the flags but that one) and the latency the client adds to an approval;
// 2026-12-06, after 210 approvals: 53.3 MB with all four, 75.8 with none, 41.4 for an idle node.
// - --jitless (60.4 MB without it): only V8's bytecode interpreter, no baseline or optimizing compiler,
//   so their machine code is never paged in from the node binary and no generated code is kept. The
//   client's work per message (parse, validate, forward) is small: it still adds only a few ms to an
//   approval, far below the 20 ms target. It also turns WebAssembly off, so nothing this process loads
//   may use it (test/unit/acp-bundle.test.ts; the policy engine's parser runs in the broker).
// - --optimize-for-size (54.6 MB without it; after 2000 approvals 57 against 64): V8 trades speed for
//   memory, above all collecting the old generation before much garbage builds up in it.
// - --max-semi-space-size=1: a young generation of at most 1 MB instead of up to 16 MB. With the two
//   flags above it measures no extra saving today (53.3 without it), but it keeps that bound whatever
//   V8's heuristics for --optimize-for-size become (alone, with --v8-pool-size, it took the client
//   from 75.6 to 61.4 MB in an earlier run).
// - --v8-pool-size=1: one V8 worker thread (Node's default is 4; 0 would mean one per core) for a
//   process that is mostly idle. The same here, on 2 cores; fewer thread stacks on bigger machines.
// These are flags of this process alone: the agent, often a Node program itself, does not inherit them
// (NODE_OPTIONS would pass them on to it, so a shell's `switchboard acp` keeps Node's defaults).
export const ACP_NODE_FLAGS: readonly string[] = ["--jitless", "--optimize-for-size", "--max-semi-space-size=1", "--v8-pool-size=1"];

/** The arguments after the Node binary that start `switchboard acp -- command args…` from the bundle in `dist`. */
export function acpNodeArgs(distDir: string, command: string, args: readonly string[]): string[] {
  return [...ACP_NODE_FLAGS, `${distDir}/acp.js`, "--", command, ...args];
}
