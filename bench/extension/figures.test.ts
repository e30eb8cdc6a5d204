/// <reference types="mocha" />
// Figures measured inside a real extension host (see bench/extension.ts): activation with a running
// broker, and terminal throughput for a 50 MB stream. Prints one JSON line per figure.
import * as vscode from "vscode";
import WebSocket from "ws";
import { BrokerApi } from "../../src/client/api.js";
import type { SwitchboardApi } from "../../src/extension/extension.js";

suite("figures", () => {
  test("activation with a running broker, and terminal throughput", async function () {
    this.timeout(180_000);
    const ext = await vscode.extensions.getExtension<SwitchboardApi>("agent-switchboard.agent-switchboard")!.activate();
    const activationMs = await ext.registered;
    const cpuMs = await ext.registeredCpuMs;
    console.log(
      `FIGURE ${JSON.stringify({ activation_to_registered_ms: Math.round(activationMs * 10) / 10, activation_to_registered_cpu_ms: Math.round(cpuMs * 10) / 10, connect_ms: Math.round((ext.switchboard.timings?.connectMs ?? -1) * 10) / 10, register_ms: Math.round((ext.switchboard.timings?.registerMs ?? -1) * 10) / 10 })}`,
    );

    const record = ext.switchboard.brokerRecord!;
    const api = new BrokerApi(record);
    const { spawn } = require("node:child_process") as typeof import("node:child_process");
    const owner = spawn("sleep", ["300"], { stdio: "ignore" });
    const ws = new WebSocket(record.ipcUrl.replace("http", "ws") + "/v1/stream", { headers: { authorization: `Bearer ${record.bearerToken}`, "x-plugin-pid": String(owner.pid) } });
    await new Promise((r) => ws.once("open", r));
    const folder = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
    const ep = await api.register({ plugin_pid: owner.pid!, kind: "pi", workspace: { root: folder, cwd: folder } });
    const s = await api.startStream({ endpoint_id: ep.endpoint_id, action: "sh", command: "cat big.log", cwd: folder });
    const t0 = performance.now();
    ext.terminals.show(s, true);
    const line = "x".repeat(99) + "\n";
    const chunk = line.repeat(5000); // 500 KB
    const total = 50 * 1000 * 1000;
    let seq = 0;
    for (let sent = 0; sent < total; sent += chunk.length) ws.send(JSON.stringify({ event: "stream_chunk", stream_id: s.stream_id, channel: 1, seq: ++seq, data: chunk }));
    await api.completeStream(s.stream_id, { exit_code: 0, last_seq: seq });
    for (;;) {
      const t = ext.terminals.transcript(s.stream_id);
      if (t?.ended && t.text.includes("exit 0")) break;
      if (performance.now() - t0 > 170_000) throw new Error("the terminal did not finish within 170 s");
      await new Promise((r) => setTimeout(r, 10));
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(`FIGURE ${JSON.stringify({ terminal_stream_mb: 50, terminal_seconds: Math.round(seconds * 100) / 100, terminal_mb_per_s: Math.round((50 / seconds) * 10) / 10 })}`);
    ws.close();
    owner.kill();
  });
});
