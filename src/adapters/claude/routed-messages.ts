// Messages routed to a Claude Code session: queued durably on arrival (before the broker's push is
// acknowledged), handed to a hook at the next turn boundary, forgotten only once the hook confirms it
// printed them, answered with Claude's last message when that turn ends, and returned to the inbox
// when the session ends with some never taken up.
import type { BrokerClient } from "../../client/client.js";
import type { ClientMessage } from "../../client/client-types.js";
import { errText } from "../shared/failures.js";
import { replyRequest, routedMessage } from "../shared/routed.js";
import { MessageQueue, type QueuedMessage } from "./queue.js";

export interface MessagesHost {
  client(): BrokerClient | undefined;
  endpointId(): string | undefined;
  sessionName(): string;
  /** The number of queued messages changed (the task hint shows it). */
  changed(): void;
  log(msg: string): void;
}

export class RoutedMessages {
  private readonly queue: MessageQueue;
  /** Handed to a hook, not yet confirmed printed. */
  private readonly handed = new Map<string, QueuedMessage>();
  /** Handed to Claude in the current turn, answered at the next Stop. */
  private active: QueuedMessage[] = [];

  constructor(
    private readonly dir: string,
    private readonly host: MessagesHost,
  ) {
    this.queue = new MessageQueue(dir);
  }

  get size(): number {
    return this.queue.size;
  }

  /** A routed message arrived: durable before this returns, which is when the client acknowledges the push. */
  add(m: ClientMessage): void {
    const text = m.content;
    if (!text.trim()) return;
    const added = this.queue.add({ ...routedMessage(m), arrivedAt: new Date().toISOString() });
    if (added) this.host.log(`queued ${m.sourceMessageId} from ${m.from}`);
    this.host.changed();
  }

  /** Up to `n` queued messages, oldest first, handed to a hook (still queued until confirmed). */
  take(n: number): QueuedMessage[] {
    const out: QueuedMessage[] = [];
    for (const { message } of this.queue.list()) {
      if (out.length >= n) break;
      out.push(message);
      this.handed.set(message.messageId, message);
    }
    return out;
  }

  /** The hook printed them for Claude: they are delivered, and answered when this turn ends. */
  confirm(ids: string[]): void {
    for (const id of ids) {
      const m = this.handed.get(id);
      this.handed.delete(id);
      this.queue.remove(id);
      if (m && !this.active.some((a) => a.messageId === id)) this.active.push(m);
    }
    this.host.changed();
  }

  /** Claude's turn ended: its last message goes back to the senders of what it was handed. */
  answerActive(lastText: string): void {
    const due = this.active;
    this.active = [];
    for (const m of due) this.reply(m, lastText.trim() ? lastText : "(Claude ended the turn without a text answer.)");
  }

  private reply(m: QueuedMessage, text: string): void {
    const client = this.host.client();
    const ep = this.host.endpointId();
    if (!client || !ep) return this.host.log(`reply to ${m.messageId} dropped: not connected`);
    void client
      .send(replyRequest(ep, m, text))
      .then((r) => this.host.log(`replied to ${m.messageId}: ${r.status}`))
      .catch((err: unknown) => this.host.log(`reply to ${m.messageId} failed: ${errText(err)}`));
  }

  /** The session ended: what Claude never took up goes back to the inbox, so that someone can route it elsewhere. */
  async returnToInbox(client: BrokerClient): Promise<void> {
    for (const { message: m } of this.queue.list()) {
      try {
        await client.ingress({
          from: m.from,
          content: m.text,
          metadata: { returned_from_session: this.host.sessionName(), original_message_id: m.messageId, in_reply_to: m.inReplyTo },
        });
        this.queue.remove(m.messageId);
      } catch (err) {
        this.host.log(`could not return ${m.messageId} to the inbox (kept in ${this.dir}): ${errText(err)}`);
      }
    }
  }
}
