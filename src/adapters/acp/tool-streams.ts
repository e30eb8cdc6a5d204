// Every `execute` tool call the agent ran becomes an output stream in the broker (a VS Code terminal).
//
// - Live, when the agent streams it: `_meta.terminal_output {terminal_id, data}` on tool_call_update
//   (announced with clientCapabilities._meta.terminal_output), ended by `_meta.terminal_exit
//   {exit_code, signal}`.
// - Otherwise at the end, from the final tool_call_update: codex-acp's rawOutput has stdout and
//   stderr apart (channels 1 and 2); others give one text (content, or rawOutput.output), which is
//   stdout and stderr merged: the stream says so (`output_merged`) rather than pretending it is stdout.
// - An agent that sent no output for a call that ran: the stream's header says so (`note`) rather
//   than showing an empty terminal as if the command printed nothing. gemini-cli 0.61 sends none at
//   all in its default set-up (see noOutputNote), and calls a command that exited non-zero
//   "completed", so its streams end with no exit code ("ended") instead of a made-up 0.
// A tool call that was rejected or never ran gets no stream.
import type { ToolCallUpdate } from "@agentclientprotocol/sdk";
import type { StreamStartRequest } from "../../protocol/index.js";
import type { StreamWriter } from "../../client/stream-writer.js";

export interface ToolOutcome {
  /** channel → text */
  output: [1 | 2, string][];
  merged: boolean;
  exitCode: number | null;
  signal: string | null;
}

interface TerminalMeta {
  terminal_output?: { data?: unknown };
  terminal_exit?: { exit_code?: unknown; signal?: unknown };
}

const meta = (u: ToolCallUpdate): TerminalMeta => (u._meta ?? {}) as TerminalMeta;

/** Live output carried by this update, if any. */
export function liveOutput(u: ToolCallUpdate): string | undefined {
  const d = meta(u).terminal_output?.data;
  return typeof d === "string" ? d : undefined;
}

export function liveExit(u: ToolCallUpdate): { exitCode: number | null; signal: string | null } | undefined {
  const e = meta(u).terminal_exit;
  if (!e) return undefined;
  return { exitCode: typeof e.exit_code === "number" ? e.exit_code : null, signal: typeof e.signal === "string" ? e.signal : null };
}

/** Strips the ``` fence agents wrap command output in. */
export function unfence(text: string): string {
  const m = /^```[a-z]*\n([\s\S]*?)\n?```\s*$/.exec(text.trim());
  return m ? m[1]! + (m[1]!.endsWith("\n") || !m[1] ? "" : "\n") : text;
}

/** What a finished tool call produced, from its final update (merged with the earlier ones). */
export function finalOutcome(call: ToolCallUpdate): ToolOutcome {
  const raw = call.rawOutput as Record<string, unknown> | string | null | undefined;
  const numOrNull = (v: unknown) => (typeof v === "number" && Number.isInteger(v) ? v : null);
  if (raw && typeof raw === "object" && (typeof raw.stdout === "string" || typeof raw.stderr === "string")) {
    const output: [1 | 2, string][] = [];
    if (typeof raw.stdout === "string" && raw.stdout) output.push([1, raw.stdout]);
    if (typeof raw.stderr === "string" && raw.stderr) output.push([2, raw.stderr]);
    return { output, merged: false, exitCode: numOrNull(raw.exit_code), signal: null };
  }
  let text = "";
  for (const c of call.content ?? []) if (c?.type === "content" && c.content?.type === "text") text += unfence(c.content.text);
  if (!text && typeof raw === "string") text = raw;
  if (!text && raw && typeof raw === "object" && typeof raw.output === "string") text = raw.output;
  const md = raw && typeof raw === "object" && raw.metadata && typeof raw.metadata === "object" ? (raw.metadata as Record<string, unknown>) : undefined;
  const exitCode = numOrNull(raw && typeof raw === "object" ? (raw.exit_code ?? md?.exit) : undefined);
  return { output: text ? [[1, text]] : [], merged: true, exitCode, signal: null };
}

/** The agent, from its agentInfo: `name` identifies it, `title` is for people. */
export interface AgentId {
  name: string;
  title: string;
}

/** Agents whose `completed` status says nothing about the exit code. */
const NO_EXIT_CODE = new Set(["gemini-cli"]);

/** The header note of a stream whose agent sent no output for it. */
export function noOutputNote(agent: AgentId): string {
  // gemini-cli 0.61 runs commands in a pseudo-terminal by default and then hands its ACP layer the
  // screen as styled lines, which that layer drops (toToolCallContent keeps only text and diffs).
  if (agent.name === "gemini-cli")
    return `${agent.title} sent no output for this command: it sends none over ACP while it runs commands in a pseudo-terminal, its default ("tools": {"shell": {"enableInteractiveShell": false}} in its settings.json makes it send the output).`;
  return `${agent.title} sent no output for this command.`;
}

export interface ToolStreamDeps {
  start(req: Omit<StreamStartRequest, "endpoint_id">): Promise<StreamWriter>;
  /** The agent (known once the session has started). */
  agent(): AgentId;
  log(msg: string): void;
  track(p: Promise<unknown>): void;
}

interface Tracked {
  call: ToolCallUpdate;
  approvalId: string | undefined;
  action: "sh" | "env";
  command: string;
  rejected: boolean;
  writer: Promise<StreamWriter | undefined> | undefined;
  live: boolean;
  ended: boolean;
  startedAt: number;
}

/** Follows a session's execute tool calls and feeds their streams. */
export class ToolStreams {
  private readonly calls = new Map<string, Tracked>();

  constructor(
    private readonly deps: ToolStreamDeps,
    private readonly cwd: string,
  ) {}

  /** The reviewer decided on this tool call (its stream links the approval). */
  decided(call: ToolCallUpdate, approvalId: string | undefined, action: "sh" | "env", command: string, approved: boolean): void {
    if (call.kind !== "execute") return;
    let t = this.calls.get(call.toolCallId);
    if (!t) {
      t = { call, approvalId: undefined, action, command, rejected: false, writer: undefined, live: false, ended: false, startedAt: Date.now() };
      this.calls.set(call.toolCallId, t);
    }
    t.approvalId = approved ? approvalId : undefined;
    t.action = action;
    t.command = command;
    t.rejected = !approved;
  }

  /** The command of this approval runs in a client terminal (terminal/create), which has its own stream. */
  skipApproval(approvalId: string): void {
    for (const t of this.calls.values()) if (t.approvalId === approvalId && !t.writer) t.ended = true;
  }

  /** A tool_call or tool_call_update, already merged with what was known (`call`). */
  update(u: ToolCallUpdate, call: ToolCallUpdate, command: string, action: "sh" | "env"): void {
    if (call.kind !== "execute") return;
    let t = this.calls.get(u.toolCallId);
    if (!t) {
      t = { call, approvalId: undefined, action, command, rejected: false, writer: undefined, live: false, ended: false, startedAt: Date.now() };
      this.calls.set(u.toolCallId, t);
    }
    t.call = call;
    if (!t.approvalId) {
      t.command = command;
      t.action = action;
    }
    const status = u.status ?? undefined;
    if (t.ended || t.rejected) {
      if (status === "completed" || status === "failed") this.calls.delete(u.toolCallId);
      return;
    }
    const data = liveOutput(u);
    if (data !== undefined) {
      t.live = true;
      const w = this.open(t, true);
      if (data) this.deps.track(w.then((s) => s?.write(1, data)));
    }
    const exit = liveExit(u);
    if (exit && t.live) return this.end(t, { output: [], merged: true, ...exit });
    if (status === "completed" || status === "failed") {
      if (t.live) return this.end(t, { output: [], merged: true, exitCode: status === "completed" ? 0 : null, signal: null });
      const outcome = finalOutcome(call);
      // Nothing ran: a failed call with no output and no exit code (e.g. rejected, or refused by the agent).
      if (status === "failed" && !outcome.output.length && outcome.exitCode === null && !t.approvalId) {
        t.ended = true;
        return;
      }
      if (outcome.exitCode === null && status === "completed" && !NO_EXIT_CODE.has(this.deps.agent().name)) outcome.exitCode = 0;
      this.end(t, outcome);
    }
  }

  private open(t: Tracked, merged: boolean, note?: string): Promise<StreamWriter | undefined> {
    return (t.writer ??= this.deps
      .start({
        action: t.action,
        command: t.command || "(command)",
        cwd: this.cwd,
        ...(t.approvalId ? { approval_id: t.approvalId } : {}),
        ...(merged ? { output_merged: true } : {}),
        ...(note ? { note } : {}),
      })
      .catch((err: Error) => {
        this.deps.log(`no output stream for ${t.command}: ${err.message}`);
        return undefined;
      }));
  }

  private end(t: Tracked, o: ToolOutcome): void {
    t.ended = true;
    // Only a stream opened here, at the end, is known to have had no output from the agent.
    const w = this.open(t, o.merged, !t.writer && !o.output.length ? noOutputNote(this.deps.agent()).slice(0, 500) : undefined);
    this.deps.track(
      w.then(async (s) => {
        if (!s) return;
        for (const [ch, text] of o.output) s.write(ch, text);
        await s.complete({ exit_code: o.signal ? null : o.exitCode, signal: o.signal, duration_ms: Date.now() - t.startedAt });
      }),
    );
    this.calls.delete(t.call.toolCallId);
  }

  /** The session is ending: streams still open are aborted. */
  async close(): Promise<void> {
    for (const t of this.calls.values()) {
      if (!t.writer || t.ended) continue;
      t.ended = true;
      const s = await t.writer;
      await s?.abort("the agent session ended").catch(() => {});
    }
    this.calls.clear();
  }
}
