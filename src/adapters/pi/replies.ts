// Which answer of pi replies to which routed message (pure). A message routed to the pi session is
// handed to pi as a user message; when pi's user message with that text shows up, that message becomes
// the one being answered, and the last assistant text after it is its reply. The reply is due when pi
// ends the run (agent_end) or when the next user message starts another exchange.
import type { RoutedMessage } from "../shared/routed.js";

export type { RoutedMessage };

export interface DueReply {
  message: RoutedMessage;
  text: string;
}

export interface AssistantOutcome {
  text: string;
  stopReason?: string | undefined;
  errorMessage?: string | undefined;
}

/** How many routed messages may wait for pi before the oldest is answered as not handled. */
export const MAX_WAITING = 100;

export class ReplyTracker {
  private waiting: RoutedMessage[] = [];
  private active: { message: RoutedMessage; last?: AssistantOutcome } | undefined;

  get waitingCount(): number {
    return this.waiting.length;
  }

  get activeMessage(): RoutedMessage | undefined {
    return this.active?.message;
  }

  /** A routed message was handed to pi. */
  delivered(message: RoutedMessage): DueReply[] {
    this.waiting.push(message);
    const due: DueReply[] = [];
    while (this.waiting.length > MAX_WAITING) {
      const dropped = this.waiting.shift()!;
      due.push({ message: dropped, text: "(The pi session did not take up this message: too many messages were waiting.)" });
    }
    return due;
  }

  /** pi recorded a user message (message_end, role user). */
  userMessage(text: string): DueReply[] {
    const due = this.finish();
    const i = this.waiting.findIndex((m) => m.text === text);
    if (i >= 0) {
      const [message] = this.waiting.splice(i, 1);
      this.active = { message: message! };
    }
    return due;
  }

  /** pi recorded an assistant message (message_end, role assistant). */
  assistantMessage(outcome: AssistantOutcome): void {
    if (!this.active) return;
    // Keep the last message that said something; a later tool-call-only message does not erase it.
    if (outcome.text.trim() || !this.active.last || outcome.stopReason === "error" || outcome.stopReason === "aborted") this.active.last = outcome;
  }

  /** pi finished the run (agent_end). */
  agentEnd(): DueReply[] {
    return this.finish();
  }

  /** The session is ending: answer what is being worked on, and tell the rest they were not handled. */
  close(): DueReply[] {
    const due = this.finish();
    for (const message of this.waiting) due.push({ message, text: "(The pi session ended before it took up this message.)" });
    this.waiting = [];
    return due;
  }

  private finish(): DueReply[] {
    const a = this.active;
    this.active = undefined;
    if (!a) return [];
    return [{ message: a.message, text: replyText(a.last) }];
  }
}

export function replyText(last: AssistantOutcome | undefined): string {
  if (!last) return "(pi ended the turn without answering.)";
  if (last.stopReason === "error") return `(pi could not answer: ${last.errorMessage || "the model request failed"}.)${last.text.trim() ? `\n\n${last.text}` : ""}`;
  if (last.stopReason === "aborted") return `(pi's turn was stopped before it finished.)${last.text.trim() ? `\n\n${last.text}` : ""}`;
  return last.text.trim() ? last.text : "(pi ended the turn without a text answer.)";
}

/** The text blocks of a pi message's content (a string or an array of parts). */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter(
      (p): p is { type: "text"; text: string } => !!p && typeof p === "object" && (p as { type?: unknown }).type === "text" && typeof (p as { text?: unknown }).text === "string",
    )
    .map((p) => p.text)
    .join("\n");
}
