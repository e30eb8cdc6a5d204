// Activation: wires the broker connection, the sidebar, terminals, notifications, the status bar and
// the commands. Activation itself does no waiting; the broker connection is made in the background.
import * as vscode from "vscode";
import { startActivationProfile } from "./activation-profile.js";
import { visibleLine, type Approval, type StreamView } from "../protocol/index.js";
import { Actions } from "./actions.js";
import { Switchboard } from "./controller.js";
import { EditorRunner } from "./editor-exec.js";
import { log } from "./log.js";
import { watchApprovals } from "./notifications.js";
import { readSettings, type Settings } from "./settings.js";
import { SIDEBAR_VIEW, Sidebar } from "./sidebar.js";
import { statusBar } from "./status-bar.js";
import { Terminals } from "./terminals.js";
import { openPiSession } from "./pi-session.js";

/** What the extension exports; the extension-host tests use it. */
export interface SwitchboardApi {
  switchboard: Switchboard;
  actions: Actions;
  terminals: Terminals;
  /** Resolves once this window's endpoint is registered (with the ms from activate() start). */
  registered: Promise<number>;
  /** CPU time this process spent from activate() start to registered (the rest was waiting on I/O). */
  registeredCpuMs: Promise<number>;
}

let active: { sb: Switchboard; runner: EditorRunner } | undefined;
const profile = startActivationProfile();

export function activate(context: vscode.ExtensionContext): SwitchboardApi {
  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  profile?.start();
  let settings: Settings = readSettings();
  const sb = new Switchboard(context.asAbsolutePath("dist/broker.js"), settings);
  const registered = new Promise<number>((resolve) => {
    const sub = sb.onDidConnect(() => {
      if (!sb.selfEndpointId) return;
      sub.dispose();
      resolve(performance.now() - started);
    });
  });
  // Connect first: the UI below is built while the connection waits on the broker. Whatever it
  // subscribes to renders the current state when it is created.
  void sb.start();
  const approvedHere = new Set<string>();

  // Terminals and the editor runner call back into `actions`, which needs the runner: the callbacks
  // only run later, after everything below is built.
  const terminals = new Terminals(
    () => sb.brokerRecord,
    (streamId, reason) => (runner.stop(streamId, reason) ? Promise.resolve() : actions.stopStream(streamId)),
  );
  const policy = (s: StreamView) => (s.action === "env" ? settings.envTerminals : settings.shTerminals);
  const runner = new EditorRunner(sb, (stream) => {
    const p = policy(stream);
    if (p !== "none") terminals.show(stream, p === "reveal");
  });
  const actions = new Actions(sb, runner, (id) => approvedHere.add(id));
  const sidebar = new Sidebar(context.extensionUri, sb, actions, (id) => openStream(id));
  active = { sb, runner };

  const openStream = (streamId: string) => {
    const s = sb.state().streams.find((x) => x.stream_id === streamId);
    if (s) terminals.show(s, true);
    else void vscode.window.showInformationMessage("That output stream is no longer listed.");
  };
  const showApproval = (a: Approval) => void sidebar.reveal("approvals", a.approval_id);
  /** Terminals open on their own only for streams that concern this window. */
  const concernsThisWindow = (s: StreamView) => {
    if (s.endpoint_id === sb.selfEndpointId || (s.approval_id && approvedHere.has(s.approval_id))) return true;
    const ep = sb.feed?.endpoints.get(s.endpoint_id);
    const w = ep?.workspace;
    const dir = !w ? undefined : typeof w === "string" ? w : (w.cwd ?? w.root);
    return !!dir && (vscode.workspace.workspaceFolders ?? []).some((f) => dir === f.uri.fsPath || dir.startsWith(f.uri.fsPath + "/"));
  };

  const command = (id: string, run: (...args: unknown[]) => unknown) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        const message = await run(...args);
        if (typeof message === "string") vscode.window.setStatusBarMessage(`$(check) ${message}`, 4000);
      } catch (err) {
        void vscode.window.showErrorMessage((err as Error).message);
      }
    });
  const oldest = () => {
    const a = actions.pendingApprovals()[0];
    if (!a) throw new Error("No approval is waiting.");
    return a;
  };

  context.subscriptions.push(
    vscode.window.registerWebviewViewProvider(SIDEBAR_VIEW, sidebar),
    sidebar,
    terminals,
    statusBar(sb),
    watchApprovals(sb, actions, () => settings, showApproval),
    // Only the streams are needed here: read them from the feed instead of building the whole state.
    sb.onDidChange(() => terminals.autoOpen([...(sb.feed?.streams.values() ?? [])] as unknown as StreamView[], (s) => (concernsThisWindow(s) ? policy(s) : "none"))),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration("switchboard")) return;
      settings = readSettings();
      sb.updateSettings(settings);
    }),
    command("switchboard.focus", () => sidebar.reveal()),
    command("switchboard.showLogs", () => log().show()),
    command("switchboard.reconnect", () => sb.restart("Switchboard: Reconnect")),
    command("switchboard.restartBroker", async () => {
      const record = sb.brokerRecord;
      if (record) {
        log().info(`stopping the broker (pid ${record.pid}) for a restart`);
        try {
          process.kill(record.pid, "SIGTERM");
        } catch {
          // already gone
        }
      }
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: "Restarting the Switchboard broker…" }, () =>
        sb.restart("Switchboard: Restart Broker"),
      );
      return "Broker restarted.";
    }),
    command("switchboard.approveOldest", () => actions.approve(oldest().approval_id)),
    command("switchboard.rejectOldest", async () => {
      const a = oldest();
      const reason = await vscode.window.showInputBox({ title: `Reject: ${visibleLine(a.summary, 120)}`, prompt: "Reason for the agent (optional)" });
      return reason === undefined ? undefined : actions.reject(a.approval_id, reason || undefined);
    }),
    command("switchboard.routeInboxItem", async () => {
      const item = await actions.pickInboxItem();
      return item ? actions.route(item.id) : undefined;
    }),
    command("switchboard.sendMessage", () => actions.sendTo()),
    command("switchboard.newPiSession", () => void openPiSession(context.extensionPath, settings)),
    command("switchboard.openStreamTerminal", async (streamId?: unknown) => {
      if (typeof streamId === "string") return openStream(streamId);
      const streams = sb.state().streams;
      if (!streams.length) throw new Error("No output streams yet.");
      const picked = await vscode.window.showQuickPick(
        streams.map((s) => ({ label: `${s.state === "streaming" ? "$(sync~spin)" : "$(terminal)"} ${visibleLine(s.command, 100)}`, description: `${s.action} · ${visibleLine(s.session, 60)}`, stream: s })),
        { title: "Open the terminal of an output stream" },
      );
      if (picked) openStream(picked.stream.stream_id);
    }),
  );

  const registeredCpuMs = registered.then(() => {
    const cpu = process.cpuUsage(cpuAtStart);
    return (cpu.user + cpu.system) / 1000;
  });
  void Promise.all([registered, registeredCpuMs]).then(([ms, cpu]) => log().info(`activated and registered in ${ms.toFixed(1)} ms (${cpu.toFixed(1)} ms of CPU)`));
  if (profile) void registered.then(() => profile.stop()).catch((err: Error) => log().warn(`activation profile: ${err.message}`));
  return { switchboard: sb, actions, terminals, registered, registeredCpuMs };
}

export async function deactivate(): Promise<void> {
  const current = active;
  active = undefined;
  // Stop what this window runs (its streams end as aborted), then unregister this window's endpoint.
  await current?.runner.dispose();
  await current?.sb.dispose();
}
