// The per-session prompt queue of `switchboard acp` (pure). One ACP `session/prompt` runs at a time;
// prompts typed in the terminal and messages routed through the broker start a turn at once when the
// session is idle, and otherwise wait in order (FIFO), bounded like the pi gateway's queue: past
// MAX_QUEUED a message is refused with a "queue full" answer to its sender.
//
// A routed message is acknowledged to the broker only once its turn has ended and the reply has been
// sent (the host does that), so until then the broker still holds it: if `switchboard acp` dies, the
// broker moves it to the inbox, and after a broker restart it is pushed again.
import type { RoutedMessage as SharedRoutedMessage } from "../shared/routed.js";

/** A routed message (adapters/shared/routed.ts) and the push to acknowledge once it is answered. */
export interface RoutedMessage extends SharedRoutedMessage {
  pushId: string | undefined;
}

export type Turn = { origin: "user"; text: string } | { origin: "message"; text: string; message: RoutedMessage };

export const MAX_QUEUED = 32;

export type Offer = { kind: "start"; turn: Turn } | { kind: "queued"; position: number } | { kind: "full" } | { kind: "duplicate" };

export class TurnQueue {
  private running: Turn | undefined;
  private readonly waiting: Turn[] = [];

  constructor(private readonly max = MAX_QUEUED) {}

  get current(): Turn | undefined {
    return this.running;
  }

  get queued(): readonly Turn[] {
    return this.waiting;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** A new prompt: started when idle, else queued (or refused when the queue is full). */
  offer(turn: Turn): Offer {
    if (turn.origin === "message" && this.has(turn.message.messageId)) return { kind: "duplicate" };
    if (!this.running) {
      this.running = turn;
      return { kind: "start", turn };
    }
    if (this.waiting.length >= this.max) return { kind: "full" };
    this.waiting.push(turn);
    return { kind: "queued", position: this.waiting.length };
  }

  /** The running turn ended; returns the next one to start, if any. */
  finish(): Turn | undefined {
    this.running = this.waiting.shift();
    return this.running;
  }

  /** Everything not started yet, removed (the session is ending). */
  drain(): Turn[] {
    return this.waiting.splice(0);
  }

  private has(messageId: string): boolean {
    const same = (t: Turn | undefined) => t?.origin === "message" && t.message.messageId === messageId;
    return same(this.running) || this.waiting.some(same);
  }
}

/**
 * The agent's answer in a turn: its message text, cut into segments by tool calls. The reply is the
 * last segment that says something (what the agent concluded), else everything it said.
 */
export class AnswerText {
  private segments: string[] = [""];

  chunk(text: string): void {
    this.segments[this.segments.length - 1] += text;
  }

  toolCall(): void {
    if (this.segments[this.segments.length - 1]!.trim()) this.segments.push("");
  }

  reply(): string {
    const said = this.segments.filter((s) => s.trim());
    return said.length ? said[said.length - 1]!.trim() : "";
  }
}

export function replyText(answer: string, stopReason: string | undefined, error: string | undefined, agent: string): string {
  if (error) return `(${agent} could not answer: ${error})${answer ? `\n\n${answer}` : ""}`;
  if (stopReason === "cancelled") return `(${agent}'s turn was cancelled before it finished.)${answer ? `\n\n${answer}` : ""}`;
  if (stopReason === "refusal") return `(${agent} refused to continue.)${answer ? `\n\n${answer}` : ""}`;
  if (stopReason === "max_tokens" || stopReason === "max_turn_requests") return `${answer || `(${agent} stopped: ${stopReason}.)`}\n\n(stopped early: ${stopReason})`;
  return answer || `(${agent} ended the turn without a text answer.)`;
}
