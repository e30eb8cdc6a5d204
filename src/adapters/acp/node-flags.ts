// Node flags `switchboard acp` is started with from VS Code (New Agent Session…): the client is a
// small, long-lived process, and V8's defaults size it for throughput. A 1 MB young generation and no
// V8 worker threads save about 15 MB resident (bench/acp.ts measures both) at no cost in latency here.
// From a shell: NODE_OPTIONS="--max-semi-space-size=1 --v8-pool-size=0" switchboard acp -- …
export const ACP_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=1", "--v8-pool-size=0"];
