// Approvals, sessions, streams and sidebar states for tests (the webview's, the broker's) and the benchmark.
import type { Approval } from "../../../src/protocol/approvals.js";
import type { PolicyView } from "../../../src/protocol/policy.js";
import type { EndpointView, UndispatchedItem } from "../../../src/protocol/schemas.js";
import type { StreamView } from "../../../src/protocol/streams.js";
import type { SidebarState, WindowMessage } from "../../../src/protocol/webview.js";

export const NOW = "2025-06-01T12:00:00.000Z";
const ago = (ms: number) => new Date(Date.parse(NOW) - ms).toISOString();
const S = 1000;
const M = 60 * S;

/** Agent text that would run script if it ever reached innerHTML. */
export const HOSTILE = `<img src=x onerror="window.__xss=1"> & <b>bold</b> <script>window.__xss=2</script>`;

export const DIFF = [
  "diff --git a/src/app.ts b/src/app.ts",
  "--- a/src/app.ts",
  "+++ b/src/app.ts",
  "@@ -1,6 +1,7 @@",
  ' import { start } from "./server.js";',
  "-const port = 3000;",
  "+const port = Number(process.env.PORT ?? 3000);",
  "+const host = '127.0.0.1';",
  " ",
  " start(port);",
  "@@ -20,4 +21,4 @@ export function main() {",
  "-  console.log('listening');",
  "+  console.log(`listening on ${host}:${port}`);",
  "   return 0;",
  " }",
  " // end",
].join("\n");

export function approval(p: Partial<Approval> & { approval_id: string }): Approval {
  return {
    endpoint_id: "ep-agent-1",
    session: "agent-1",
    session_kind: "pi",
    action: "sh",
    summary: "Run the unit tests",
    command: "npm test",
    cwd: "/home/dev/project",
    detail: null,
    diff: null,
    execute: "agent",
    idempotency_key: null,
    state: "pending",
    created_at: ago(2 * M + 5 * S),
    expires_at: null,
    decided_at: null,
    decision: null,
    reason: null,
    decided_by: null,
    stream_id: null,
    ...p,
  };
}

export function inboxItem(p: Partial<UndispatchedItem> & { id: string }): UndispatchedItem {
  return {
    source_message_id: `msg-${p.id}`,
    arrived_at: ago(3 * M),
    sender_address: "ci-bot",
    content: "Build 1423 failed on main: 3 tests in test/unit/router.test.ts",
    content_type: "text/plain",
    metadata: {},
    reason: "unaddressed",
    claim_policy: "owner_select_required",
    ...p,
  };
}

export function session(p: Partial<EndpointView> & { endpoint_id: string }): EndpointView {
  return {
    kind: "pi",
    label: "agent-1",
    session_name: "agent-1",
    workspace: { root: "/home/dev/project", cwd: "/home/dev/project/packages/api", branch: "feature/login" },
    task_hint: "Fix the flaky router tests",
    state: "active",
    plugin_pid: 4242,
    agent_id: null,
    client_kind: null,
    registered_at: ago(40 * M),
    last_seen_at: ago(10 * S),
    buffered_count: 0,
    ...p,
  };
}

export function stream(p: Partial<StreamView> & { stream_id: string }): StreamView {
  return {
    endpoint_id: "ep-agent-1",
    session: "agent-1",
    action: "sh",
    command: "npm test",
    cwd: "/home/dev/project",
    approval_id: null,
    state: "streaming",
    status: 102,
    created_at: ago(30 * S),
    ended_at: null,
    exit_code: null,
    signal: null,
    duration_ms: null,
    reason: null,
    last_seq: 12,
    channels: { "1": { bytes: 2048, truncated: false } },
    ...p,
  };
}

export function message(p: Partial<WindowMessage> & { id: string }): WindowMessage {
  return {
    from: "agent-2",
    content: "Done with the refactor. Can you review the diff in src/router.ts?",
    content_type: "text/plain",
    metadata: {},
    received_at: ago(5 * M),
    correlation_id: "corr-1",
    source_endpoint_id: "ep-agent-2",
    replied: false,
    ...p,
  };
}

const LONG_TEXT = [
  "Here is the summary of the nightly run.",
  "",
  "1. test/unit/router.test.ts: 3 failures (timeouts in the reconnect suite)",
  "2. test/integration/streams.test.ts: passed after retry",
  "3. bench/broker.ts: p99 latency up 12% since yesterday",
  "",
  "Please route this to whoever owns the router.",
].join("\n");

export const USER_RULES = "/home/dev/.local/state/agent-switchboard/policy/rules.json";
export const WS_RULES = "/home/dev/project/.switchboard/policy.json";

/** The rules in force: a guard, user rules, a workspace file not accepted yet, a session rule. */
export function policyView(): PolicyView {
  const user = `user rules (${USER_RULES})`;
  const ws = `workspace rules (${WS_RULES})`;
  return {
    rules: [
      { rule: { id: "builtin:git-output", decision: "ask", command: "git * --output* *" }, scope: "builtin", where: "built-in guards", active: true, endpoint_id: null },
      {
        rule: { id: "builtin:read-only:ls", decision: "allow", command: "ls *" },
        scope: "builtin",
        where: "built-in read-only rules (autoApproveEnv)",
        active: false,
        endpoint_id: null,
      },
      { rule: { id: "tests", decision: "allow", command: "npm run test:*" }, scope: "user", where: user, active: true, endpoint_id: null },
      { rule: { id: "no-push", decision: "deny", command: "git push *", note: "Pushing is for people." }, scope: "user", where: user, active: true, endpoint_id: null },
      { rule: { id: "ws-curl", decision: "allow", command: "curl *" }, scope: "workspace", where: ws, active: false, endpoint_id: null },
      { rule: { id: "ws-deploy", decision: "ask", command: "make deploy" }, scope: "workspace", where: ws, active: true, endpoint_id: null },
      { rule: { id: "allow-src", decision: "allow", edit: "src/**" }, scope: "session", where: "session agent-1", active: true, endpoint_id: "ep-agent-1" },
    ],
    workspaces: [{ root: "/home/dev/project", file: WS_RULES, sha256: "ab".repeat(32), accepted: false, error: null }],
    builtin: { read_only: false },
    user_file: USER_RULES,
  };
}

export function fixtureState(): SidebarState {
  return {
    connection: { phase: "connected", reason: null, broker_url: "http://127.0.0.1:41237", broker_version: "0.1.0" },
    self: { endpoint_id: "ep-window", session_name: "vscode-project" },
    approvals: [
      approval({ approval_id: "ap-1" }),
      approval({
        approval_id: "ap-2",
        endpoint_id: "ep-agent-2",
        session: "agent-2",
        session_kind: "cli",
        action: "edit",
        summary: "Make the port configurable",
        command: null,
        cwd: "/home/dev/project",
        diff: DIFF,
        created_at: ago(40 * S),
      }),
      approval({
        approval_id: "ap-3",
        session: "agent-3",
        endpoint_id: "ep-agent-3",
        action: "env",
        summary: "List the files in the build folder",
        command: "ls -la dist/",
        created_at: ago(12 * M),
        expires_at: new Date(Date.parse(NOW) + 45 * S).toISOString(),
        execute: "editor",
      }),
      approval({ approval_id: "ap-done", state: "approved", decision: "approve", summary: "Already decided" }),
    ],
    inbox: [inboxItem({ id: "in-1" }), inboxItem({ id: "in-2", sender_address: "slack:#ops", content: LONG_TEXT, reason: "closed_session_continuation", arrived_at: ago(70 * M) })],
    sessions: [
      // Connected for a while: the broker's last_seen_at is from when it registered (heartbeats are not published).
      session({ endpoint_id: "ep-window", kind: "vscode", label: "vscode-project", session_name: "vscode-project", task_hint: null, last_seen_at: ago(16 * M) }),
      session({ endpoint_id: "ep-agent-1" }),
      session({
        endpoint_id: "ep-agent-2",
        kind: "cli",
        label: "agent-2",
        session_name: "agent-2",
        state: "reconnecting",
        workspace: "/home/dev/other",
        last_seen_at: ago(3 * M + 2 * S),
        buffered_count: 2,
      }),
      session({ endpoint_id: "ep-script", kind: "other", label: "nightly-script", session_name: null, workspace: null, task_hint: null }),
      session({ endpoint_id: "ep-closed", label: "gone", state: "closed" }),
    ],
    streams: [
      stream({ stream_id: "st-run", command: "npm run watch", state: "streaming" }),
      stream({ stream_id: "st-ok", command: "npm test", state: "completed", status: 200, exit_code: 0, ended_at: ago(4 * M), duration_ms: 5300 }),
      stream({ stream_id: "st-fail", command: "npm run lint", state: "completed", status: 500, exit_code: 3, ended_at: ago(6 * M), duration_ms: 1200 }),
      stream({ stream_id: "st-sig", command: "sleep 100", state: "completed", status: 500, exit_code: null, signal: "SIGINT", ended_at: ago(7 * M) }),
      stream({ stream_id: "st-cancel", command: "make deploy", state: "cancelled", status: 499, reason: "stopped from VS Code", ended_at: ago(8 * M) }),
    ],
    messages: [message({ id: "m-1" }), message({ id: "m-2", from: "ci-bot", content: LONG_TEXT, correlation_id: null, source_endpoint_id: null, replied: false })],
    now: NOW,
    policy: policyView(),
  };
}

export function emptyState(): SidebarState {
  return { ...fixtureState(), approvals: [], inbox: [], sessions: [], streams: [], messages: [], policy: { ...policyView(), rules: [], workspaces: [] } };
}

/** Agent-supplied text everywhere it can appear. */
export function hostileState(): SidebarState {
  const s = fixtureState();
  return {
    ...s,
    approvals: [approval({ approval_id: "ap-x", session: HOSTILE, summary: `Summary: ${HOSTILE}`, command: HOSTILE, cwd: HOSTILE, diff: `+${HOSTILE}` })],
    inbox: [inboxItem({ id: "in-x", sender_address: HOSTILE, content: HOSTILE })],
    sessions: [session({ endpoint_id: "ep-x", label: HOSTILE, task_hint: HOSTILE, workspace: HOSTILE })],
    streams: [stream({ stream_id: "st-x", command: HOSTILE, session: `agent ${HOSTILE}` })],
    messages: [message({ id: "m-x", from: HOSTILE, content: HOSTILE })],
  };
}

export function bigInboxState(n: number, seed = 0): SidebarState {
  const inbox: UndispatchedItem[] = [];
  for (let i = 0; i < n; i++) {
    inbox.push(
      inboxItem({
        id: `in-${seed}-${i}`,
        sender_address: `agent-${i % 17}`,
        content: i % 5 === 0 ? `${LONG_TEXT}\n(item ${i})` : `Message number ${i}: please look at task ${i * 7}`,
        arrived_at: ago(i * 20 * S),
        reason: i % 3 === 0 ? "closed_session_continuation" : "unaddressed",
      }),
    );
  }
  return { ...fixtureState(), inbox };
}
