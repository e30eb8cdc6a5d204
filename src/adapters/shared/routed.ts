// A message routed to an agent session, as every adapter keeps it in order to answer it: where the
// reply goes (the sender's endpoint when a session sent it, else the sender's name, which may name no
// session) and what the reply says it answers (the conversation's correlation id, else the message id).
import type { ClientMessage } from "../../client/client.js";
import type { SendRequest } from "../../protocol/index.js";

export interface RoutedMessage {
  /** the broker's message id */
  messageId: string;
  /** what was given to the agent */
  text: string;
  /** the sender as the broker names it */
  from: string;
  /** where the reply goes: the sender's endpoint id, or a session name */
  replyTo: string;
  /** whether replyTo is the sender's endpoint (else it is `from`, which may name no session) */
  replyToEndpoint: boolean;
  /** the value for the reply's metadata.in_reply_to */
  inReplyTo: string;
}

export function routedMessage(m: ClientMessage): RoutedMessage {
  const source = typeof m.metadata.source_endpoint_id === "string" ? m.metadata.source_endpoint_id : undefined;
  const correlation = typeof m.metadata.correlation_id === "string" ? m.metadata.correlation_id : undefined;
  return {
    messageId: m.sourceMessageId,
    text: m.content,
    from: m.from,
    replyTo: source ?? m.from,
    replyToEndpoint: source !== undefined,
    inReplyTo: correlation ?? m.sourceMessageId,
  };
}

/** The send request that answers `m` from `endpointId`. */
export function replyRequest(endpointId: string, m: RoutedMessage, content: string): SendRequest {
  return { endpoint_id: endpointId, to: m.replyTo, content, metadata: { in_reply_to: m.inReplyTo, reply_to_message_id: m.messageId } };
}
