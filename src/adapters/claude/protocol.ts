// What a hook and the session's companion say to each other (pure): the hook forwards Claude Code's
// event with the policy it was started with; the companion answers with what the hook prints for
// Claude, and the ids of routed messages the hook must confirm once printed.
import type { QueuedMessage } from "./queue.js";

/** The JSON Claude Code writes to a hook's stdin (the fields Switchboard reads). */
export interface ClaudeHookEvent {
  hook_event_name: string;
  session_id: string;
  transcript_path?: string;
  cwd?: string;
  prompt?: string;
  message?: string;
  tool_name?: string;
  tool_input?: unknown;
  tool_use_id?: string;
  tool_response?: unknown;
  error?: string;
  is_interrupt?: boolean;
  duration_ms?: number;
  last_assistant_message?: string;
  stop_hook_active?: boolean;
  [key: string]: unknown;
}

export interface HookCall {
  event: ClaudeHookEvent;
  /** SWITCHBOARD_CLAUDE_OFFLINE as the hook saw it. */
  offline: "block" | "allow";
  /** How long an approval may stay pending: it must end before Claude Code's own hook timeout. */
  approvalTimeoutMs: number;
}

export interface HookAnswer {
  /** Printed on stdout as JSON. */
  stdout?: Record<string, unknown>;
  /** Message ids to confirm after printing. */
  confirm?: string[];
}

/** Routed messages as Claude reads them: who sent each, then the text verbatim. */
export function formatForClaude(messages: readonly QueuedMessage[]): string {
  if (messages.length === 1) {
    const m = messages[0]!;
    return `[Switchboard] A message for you from ${m.from}:\n\n${m.text}`;
  }
  return `[Switchboard] ${messages.length} messages for you:\n\n${messages.map((m, i) => `--- ${i + 1}. from ${m.from}:\n${m.text}`).join("\n\n")}`;
}

/**
 * The session's task hint as the sidebar shows it: the state in brackets, what it works on, and how
 * many routed messages wait for the next turn boundary.
 */
export function hintText(status: string, note: string | undefined, hint: string, queued: number): string {
  const head = status === "waiting for you" && note ? `[waiting for you: ${note.split("\n")[0]!.slice(0, 80)}]` : `[${status}]`;
  const tail = queued > 0 ? ` (${queued} message${queued === 1 ? "" : "s"} queued)` : "";
  return [...`${head}${hint ? ` ${hint}` : ""}${tail}`].slice(0, 200).join("");
}

/** The approval must expire before Claude Code kills the hook (at `hookTimeoutS`): 20 s before it. */
export function approvalTimeoutMs(hookTimeoutS: number): number {
  return Math.max(1000, hookTimeoutS * 1000 - 20_000);
}
