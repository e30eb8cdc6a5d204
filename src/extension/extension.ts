// Activation: wires the broker connection, the sidebar, terminals, notifications, the status bar and
// the commands. Activation itself does no waiting; the broker connection is made in the background.
import * as vscode from "vscode";
import { startActivationProfile } from "./activation-profile.js";
import type { StreamView } from "../protocol/index.js";
import { Actions } from "./actions.js";
import { BrokerLink } from "./broker-link.js";
import { EditorRunner } from "./editor-exec.js";
import { log } from "./log.js";
import { watchApprovals } from "./notifications.js";
import { readSettings, type Settings } from "./settings.js";
import { SIDEBAR_VIEW, Sidebar } from "./sidebar.js";
import { statusBar } from "./status-bar.js";
import { Terminals } from "./terminals.js";
import { watchWaitingSessions } from "./claude-session.js";
import { registerCommands } from "./commands.js";
import { PolicyUi } from "./policy-ui.js";

/** What the extension exports; the extension-host tests use it. */
export interface SwitchboardApi {
  switchboard: BrokerLink;
  actions: Actions;
  terminals: Terminals;
  /** Resolves once this window's endpoint is registered (with the ms from activate() start). */
  registered: Promise<number>;
  /** CPU time this process spent from activate() start to registered (the rest was waiting on I/O). */
  registeredCpuMs: Promise<number>;
}

let active: { sb: BrokerLink; runner: EditorRunner } | undefined;
const profile = startActivationProfile();

export function activate(context: vscode.ExtensionContext): SwitchboardApi {
  const started = performance.now();
  const activatedAt = Date.now();
  const cpuAtStart = process.cpuUsage();
  profile?.start();
  let settings: Settings = readSettings();
  const sb = new BrokerLink(context.asAbsolutePath("dist/broker.js"), settings);
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
    (streamId, reason) => actions.stopStream(streamId, reason),
    context.workspaceState,
  );
  const policy = (s: StreamView) => (s.action === "env" ? settings.envTerminals : settings.shTerminals);
  const runner = new EditorRunner(sb, (stream) => {
    const p = policy(stream);
    if (p !== "none") terminals.show(stream, p === "reveal");
  });
  const actions = new Actions(sb, runner, (id) => approvedHere.add(id));
  const policyUi = new PolicyUi(sb);
  const allowSimilar = (id: string) =>
    void policyUi.allowSimilar(id).then(
      (msg: string | undefined) => msg && vscode.window.setStatusBarMessage(msg, 6000),
      (e: Error) => vscode.window.showErrorMessage(e.message),
    );
  const sidebar = new Sidebar(context.extensionUri, sb, actions, (id) => openStream(id), activatedAt, allowSimilar, policyUi);
  active = { sb, runner };

  const openStream = (streamId: string) => {
    const s = sb.state().streams.find((x) => x.stream_id === streamId);
    if (s) terminals.show(s, true);
    else void vscode.window.showInformationMessage("That output stream is no longer listed.");
  };
  const showApproval = (approvalId: string) => void sidebar.reveal("approvals", approvalId);
  /** Terminals open on their own only for streams that concern this window. */
  const concernsThisWindow = (s: StreamView) => {
    if (s.endpoint_id === sb.selfEndpointId || (s.approval_id && approvedHere.has(s.approval_id))) return true;
    const ep = sb.feed?.endpoints.get(s.endpoint_id);
    const w = ep?.workspace;
    const dir = !w ? undefined : typeof w === "string" ? w : (w.cwd ?? w.root);
    return !!dir && (vscode.workspace.workspaceFolders ?? []).some((f) => dir === f.uri.fsPath || dir.startsWith(f.uri.fsPath + "/"));
  };

  context.subscriptions.push(
    vscode.window.registerWebviewViewProvider(SIDEBAR_VIEW, sidebar),
    sidebar,
    policyUi,
    terminals,
    statusBar(sb),
    watchApprovals(sb, actions, () => settings, showApproval),
    watchWaitingSessions(sb),
    // Only the streams are needed here: read them from the feed instead of building the whole state.
    sb.onDidChange(() => {
      if (!sb.feed) return;
      const streams = [...sb.feed.streams.values()] as unknown as StreamView[];
      terminals.reopen(streams); // after a window reload: the terminals this window had open (once)
      terminals.autoOpen(streams, (s) => (concernsThisWindow(s) ? policy(s) : "none"));
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration("switchboard")) return;
      settings = readSettings();
      sb.updateSettings(settings);
    }),
    ...registerCommands({ extensionPath: context.extensionPath, sb, actions, sidebar, settings: () => settings, openStream }),
    vscode.commands.registerCommand("switchboard.showApprovalRules", () => policyUi.showRules().catch((e: Error) => void vscode.window.showErrorMessage(e.message))),
  );

  const registeredCpuMs = registered.then(() => {
    const cpu = process.cpuUsage(cpuAtStart);
    return (cpu.user + cpu.system) / 1000;
  });
  void Promise.all([registered, registeredCpuMs]).then(([ms, cpu]) => log().info(`activated and registered in ${ms.toFixed(1)} ms (${cpu.toFixed(1)} ms of CPU)`));
  if (profile) void registered.then(() => profile.stop()).catch((err: Error) => log().warn(`activation profile: ${err.message}`));
  sidebar.marks.activated = Date.now();
  return { switchboard: sb, actions, terminals, registered, registeredCpuMs };
}

export async function deactivate(): Promise<void> {
  const current = active;
  active = undefined;
  // Stop what this window runs (its streams end as aborted), then unregister this window's endpoint.
  await current?.runner.dispose();
  await current?.sb.dispose();
}
