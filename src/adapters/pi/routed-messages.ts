// Messages routed to the pi session: each becomes a pi user message (a new turn when pi is idle, a
// follow-up while it works), and pi's answer goes back to the sender with metadata.in_reply_to when
// the turn ends (which answer belongs to which message is the pure replies.ts). A message that arrives
// as the session ends is answered as not taken up rather than dropped.
import type { ClientMessage } from "../../client/client.js";
import { BrokerError } from "../../client/errors.js";
import { errText } from "../shared/failures.js";
import { replyRequest, routedMessage } from "../shared/routed.js";
import type { PiConnection } from "./connection.js";
import { ReplyTracker, contentText, type DueReply } from "./replies.js";
import type { PiSession } from "./session.js";

export class RoutedMessages {
  private readonly replies = new ReplyTracker();

  constructor(
    private readonly session: PiSession,
    private readonly conn: PiConnection,
  ) {}

  onMessage(m: ClientMessage): void {
    const text = m.content;
    if (!text.trim()) return this.session.log(`ignored an empty message ${m.sourceMessageId} from ${m.from}`);
    const routed = routedMessage(m);
    // Acknowledged by the client once this returns, so it is answered rather than dropped.
    if (this.session.stopped) return this.send({ message: routed, text: "(The pi session ended before it took up this message.)" });
    for (const due of this.replies.delivered(routed)) this.send(due);
    this.session.log(`message ${m.sourceMessageId} from ${m.from} handed to pi`);
    // Starts a turn when pi is idle; queued as a follow-up while it works.
    this.session.pi.sendUserMessage(text, { deliverAs: "followUp" });
  }

  onUserMessage(content: unknown): void {
    for (const due of this.replies.userMessage(contentText(content))) this.send(due);
  }

  onAssistantMessage(message: { content?: unknown; stopReason?: string; errorMessage?: string }): void {
    this.replies.assistantMessage({ text: contentText(message.content), stopReason: message.stopReason, errorMessage: message.errorMessage });
  }

  onAgentEnd(): void {
    for (const due of this.replies.agentEnd()) this.send(due);
  }

  /** The session ends: answer what is still waiting. */
  close(): void {
    for (const due of this.replies.close()) this.send(due);
  }

  private send(due: DueReply): void {
    const { session } = this;
    const client = this.conn.client;
    const endpointId = this.conn.endpointId;
    const m = due.message;
    if (!client || !endpointId) return session.log(`reply to ${m.messageId} dropped: not connected to a broker`);
    session.track(
      client
        .send(replyRequest(endpointId, m, due.text))
        .then((res) => session.log(`replied to ${m.messageId}: ${res.status}`))
        .catch((err: unknown) => {
          if (err instanceof BrokerError && err.code === "recipient_unknown" && !m.replyToEndpoint)
            session.log(`reply to ${m.messageId} skipped: the sender "${m.from}" is not a session`);
          else session.log(`reply to ${m.messageId} failed: ${errText(err)}`);
        }),
    );
  }
}
