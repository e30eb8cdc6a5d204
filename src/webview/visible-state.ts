// The sidebar shows agent text with its hidden characters made visible (the shared visibleText of
// src/protocol/visible-text.ts): bidi controls cannot reorder a command, zero-width and tag characters
// cannot hide part of it, ESC/CR/C1 show as escapes. Applied once, to the state as it arrives from the
// host, so every template, tooltip and aria-label renders the same visible text. Ids are left alone:
// they are what the webview sends back. Multi-line blocks (a command, a diff, a message) keep their line
// breaks and tabs; one-line fields show `\n`, so a line break cannot fake a second line.
import type { Approval } from "../protocol/approvals.js";
import type { EndpointView, UndispatchedItem } from "../protocol/schemas.js";
import type { PolicyView } from "../protocol/policy.js";
import type { StreamView } from "../protocol/streams.js";
import { visibleText } from "../protocol/visible-text.js";
import type { SidebarState, WindowMessage } from "../protocol/webview.js";

// A value that is not a string (a host bug) is passed on as it is: the renderer's own error handling
// then says the state could not be shown, as it would without this step.
const line = <T extends string | null>(t: T): T => (typeof t === "string" ? (visibleText(t) as T) : t);
const block = <T extends string | null>(t: T): T => (typeof t === "string" ? (visibleText(t, { keepLines: true }) as T) : t);
const lineOrNull = line;
const blockOrNull = block;

function approval(a: Approval): Approval {
  return {
    ...a,
    session: line(a.session),
    session_kind: line(a.session_kind),
    summary: line(a.summary),
    command: blockOrNull(a.command),
    cwd: lineOrNull(a.cwd),
    detail: blockOrNull(a.detail),
    diff: blockOrNull(a.diff),
    reason: lineOrNull(a.reason),
    decided_by: lineOrNull(a.decided_by),
  };
}

function inboxItem(i: UndispatchedItem): UndispatchedItem {
  // `reason` is one of a few words on the wire; a host bug or a newer broker could send another.
  return { ...i, sender_address: line(i.sender_address), content: block(i.content), content_type: line(i.content_type), reason: line(i.reason) as UndispatchedItem["reason"] };
}

function session(e: EndpointView): EndpointView {
  const ws = e.workspace;
  return {
    ...e,
    label: line(e.label),
    kind: line(e.kind),
    session_name: lineOrNull(e.session_name),
    task_hint: lineOrNull(e.task_hint),
    agent_id: lineOrNull(e.agent_id),
    client_kind: lineOrNull(e.client_kind),
    workspace:
      ws === null || ws === undefined
        ? ws
        : typeof ws === "string"
          ? line(ws)
          : {
              ...ws,
              root: line(ws.root),
              ...(ws.cwd !== undefined ? { cwd: line(ws.cwd) } : {}),
              ...(ws.remote !== undefined ? { remote: line(ws.remote) } : {}),
              ...(ws.branch !== undefined ? { branch: line(ws.branch) } : {}),
            },
  };
}

function stream(s: StreamView): StreamView {
  return { ...s, command: line(s.command), session: line(s.session), cwd: lineOrNull(s.cwd), reason: lineOrNull(s.reason), signal: lineOrNull(s.signal) };
}

/** Rules come from files anyone may have written (a cloned repository's workspace rules). */
function policy(p: PolicyView): PolicyView {
  return {
    ...p,
    user_file: line(p.user_file),
    user_error: lineOrNull(p.user_error ?? null),
    rules: p.rules.map((r) => ({
      ...r,
      where: line(r.where),
      rule: {
        ...r.rule,
        ...(r.rule.command !== undefined ? { command: line(r.rule.command) } : {}),
        ...(r.rule.edit !== undefined ? { edit: line(r.rule.edit) } : {}),
        ...(r.rule.note !== undefined ? { note: line(r.rule.note) } : {}),
      },
    })),
    workspaces: p.workspaces.map((w) => ({ ...w, root: line(w.root), file: line(w.file), error: lineOrNull(w.error) })),
  };
}

function message(m: WindowMessage): WindowMessage {
  return { ...m, from: line(m.from), content: block(m.content), content_type: line(m.content_type) };
}

/** The state with every piece of agent (or broker) text made visible; ids unchanged. */
export function visibleState(s: SidebarState): SidebarState {
  try {
    return mapState(s);
  } catch {
    return s; // not the shape of a state (a host bug): the renderer reports it and shows nothing of it
  }
}

function mapState(s: SidebarState): SidebarState {
  return {
    ...s,
    connection: {
      ...s.connection,
      reason: lineOrNull(s.connection.reason),
      broker_url: lineOrNull(s.connection.broker_url),
      broker_version: lineOrNull(s.connection.broker_version),
    },
    self: s.self && { ...s.self, session_name: line(s.self.session_name) },
    approvals: s.approvals.map(approval),
    inbox: s.inbox.map(inboxItem),
    sessions: s.sessions.map(session),
    streams: s.streams.map(stream),
    messages: s.messages.map(message),
    ...(s.warnings ? { warnings: s.warnings.map(line) } : {}),
    ...(s.policy ? { policy: policy(s.policy) } : {}),
  };
}
