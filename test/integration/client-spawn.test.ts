// BrokerClient discovering or spawning the broker (dist/broker.js; run `npm run build` first):
// ten client processes started at once against no broker end up on one broker, and a client that may
// spawn brings a killed broker back and reattaches its endpoints with the same ids.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { BrokerClient, type ClientMessage, type ConnectionChange, type EndpointReplaced } from "../../src/client/index.js";
import { BrokerApi } from "../../src/client/api.js";
import { brokerPaths } from "../../src/platform/paths.js";
import { readDiscovery } from "../../src/platform/discovery.js";
import { BROKER_ENTRY, ROOT, tempHome } from "../support/broker.js";
import { terminate } from "../support/process.js";
import { waitFor, within } from "../support/wait.js";

/** Pids of broker processes (dist/broker.js) whose SWITCHBOARD_HOME is `home` (Linux /proc). */
async function brokerProcesses(home: string): Promise<number[]> {
  if (!existsSync("/proc/self/environ")) return [];
  const pids: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = await readFile(`/proc/${name}/cmdline`, "utf8");
      if (!cmd.includes("broker.js")) continue;
      const env = (await readFile(`/proc/${name}/environ`, "utf8")).split("\0");
      if (env.includes(`SWITCHBOARD_HOME=${home}`)) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Stops a broker this test caused to be spawned (detached, so only its pid is known). */
async function stopBroker(pid: number | undefined): Promise<void> {
  if (pid) await terminate(pid, 5000);
}

async function discoveredPid(home: string): Promise<number | undefined> {
  const read = await readDiscovery(brokerPaths(home).discoveryFile).catch(() => undefined);
  return read?.kind === "ok" ? read.record.pid : undefined;
}

describe("BrokerClient spawning the broker", { timeout: 120_000 }, () => {
  const homes: Array<{ home: string; cleanup(): Promise<void> }> = [];
  const children: ChildProcessWithoutNullStreams[] = [];

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const h of homes) {
      await stopBroker(await discoveredPid(h.home));
      for (const pid of await brokerProcesses(h.home)) await stopBroker(pid);
      await h.cleanup();
    }
  });

  it("ten clients started concurrently against no broker get one broker", async () => {
    assert.ok(existsSync(BROKER_ENTRY), `${BROKER_ENTRY} is missing: run \`npm run build\` first`);
    const h = await tempHome("sb-client-ten-");
    homes.push(h);
    const url = pathToFileURL(join(ROOT, "src/client/index.ts")).href;
    const code = `
      import { BrokerClient } from ${JSON.stringify(url)};
      const c = await BrokerClient.create({
        discover: { home: ${JSON.stringify(h.home)}, spawn: true, brokerEntry: ${JSON.stringify(BROKER_ENTRY)}, timeoutMs: 30000 },
        clientKind: "ten",
      });
      const ep = await c.registerEndpoint({ kind: "ten", session_name: "ten-" + process.pid });
      console.log(JSON.stringify({ brokerPid: c.discovery.record.pid, spawned: c.discovery.spawned, endpointId: ep.endpointId, pid: process.pid }));
      process.stdin.once("data", async () => {
        await c.close();
        process.stdin.destroy();
        console.log("closed");
      });`;
    const N = 10;
    const reports: Array<Promise<{ brokerPid: number; spawned: boolean; endpointId: string; pid: number }>> = [];
    const outputs: string[] = [];
    for (let i = 0; i < N; i++) {
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
      children.push(child);
      outputs[i] = "";
      child.stderr.on("data", (d) => (outputs[i] += d));
      reports.push(
        new Promise((resolve, reject) => {
          let out = "";
          child.stdout.on("data", (d) => {
            out += d;
            outputs[i] += d;
            const line = out.split("\n").find((l) => l.startsWith("{"));
            if (line) resolve(JSON.parse(line));
          });
          child.once("exit", (code) => reject(new Error(`client ${i} exited (${code}) before reporting: ${outputs[i]}`)));
        }),
      );
    }
    const got = await within(Promise.all(reports), 60_000, () => `clients did not all connect: ${outputs.join("\n---\n")}`);

    const brokerPids = new Set(got.map((r) => r.brokerPid));
    assert.equal(brokerPids.size, 1, `clients ended up on ${brokerPids.size} brokers: ${[...brokerPids]}`);
    const [brokerPid] = brokerPids;
    assert.equal(got.filter((r) => r.spawned).length, 1, "exactly one client started the broker");
    assert.equal(await discoveredPid(h.home), brokerPid);
    const running = await brokerProcesses(h.home);
    if (existsSync("/proc/self/environ")) assert.deepEqual(running, [brokerPid], `broker processes for this home: ${running}`);

    const rec = await readDiscovery(brokerPaths(h.home).discoveryFile);
    assert.equal(rec.kind, "ok");
    const api = new BrokerApi((rec as { record: { ipcUrl: string; bearerToken: string } }).record);
    const eps = (await api.endpoints()).filter((e) => e.kind === "ten");
    assert.equal(eps.length, N);
    assert.deepEqual(new Set(eps.map((e) => e.plugin_pid)), new Set(got.map((r) => r.pid)));

    // Each closes: its endpoint goes away and the process exits by itself.
    const exits = children.map((c) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once("exit", (code) => r(code)))));
    for (const c of children) c.stdin.write("close\n");
    const codes = await within(Promise.all(exits), 15_000, () => `children did not all exit after close(): ${outputs.join("\n---\n")}`);
    assert.deepEqual(codes, Array(N).fill(0), outputs.join("\n---\n"));
    assert.equal((await api.endpoints()).filter((e) => e.kind === "ten").length, 0);
  });

  it("a broker killed while spawning is allowed comes back: the client starts it again and reattaches the same endpoints", async () => {
    const h = await tempHome("sb-client-respawn-");
    homes.push(h);
    const client = new BrokerClient({
      discover: { home: h.home, spawn: true, brokerEntry: BROKER_ENTRY, timeoutMs: 15_000 },
      clientKind: "respawn-test",
    });
    const phases: ConnectionChange[] = [];
    const replaced: EndpointReplaced[] = [];
    const messages: ClientMessage[] = [];
    client.on("connection", (c) => phases.push(c));
    client.on("endpoint_replaced", (r) => replaced.push(r));
    client.on("message", (m) => messages.push(m));
    try {
      await client.connect();
      assert.equal(client.serverInfo.spawned, true, "no broker was running: this client started one");
      const first = client.discovery!.record.pid;
      const ep = await client.registerEndpoint({ kind: "test", session_name: "phoenix" });
      await client.ingress({ from: "t", to: "phoenix", content: "one" });
      await waitFor(() => messages.length === 1, 5000, "the first message");

      process.kill(first, "SIGKILL");
      await waitFor(() => phases.some((p) => p.phase === "reconnecting"), 5000, "reconnecting");
      await waitFor(() => client.phase === "connected" && client.discovery!.record.pid !== first, 20_000, "a new broker and a reconnect");
      assert.equal(client.discovery!.spawned, true, "the client started the new broker");
      assert.notEqual(client.discovery!.record.pid, first);
      assert.deepEqual(replaced, [], "the journal kept the endpoint: reattached with the same id");
      assert.deepEqual(
        client.endpoints.map((e) => e.endpointId),
        [ep.endpointId],
      );
      const view = (await client.listEndpoints()).find((e) => e.endpoint_id === ep.endpointId);
      assert.equal(view?.state, "active");
      await client.ingress({ from: "t", to: "phoenix", content: "two" });
      await waitFor(() => messages.length === 2, 5000, "a message through the new broker");
      assert.deepEqual(
        messages.map((m) => [m.endpointId, m.content]),
        [
          [ep.endpointId, "one"],
          [ep.endpointId, "two"],
        ],
      );
    } finally {
      await client.close();
    }
  });
});
