// Routed messages in and replies out. A message pushed to the session becomes a RoutedMessage (the
// shared one of adapters/shared/routed.ts, with its push id); the agent's answer goes back to the
// sender's endpoint (else the session it named) with in_reply_to, retried while the broker is away or
// our endpoint is being re-registered.
import type { BrokerClient, ClientMessage } from "../../client/client.js";
import { BrokerError } from "../../client/errors.js";
import { errText } from "../shared/failures.js";
import { replyRequest, routedMessage } from "../shared/routed.js";
import type { RoutedMessage } from "./turns.js";

const REPLY_MAX_CHARS = 500_000;
const RETRY_MS = 250;
const RETRIES = 40;

export function routedMessageOf(m: ClientMessage): RoutedMessage {
  return { ...routedMessage(m), pushId: m.push_id };
}

export async function sendReply(
  client: BrokerClient,
  endpointId: string,
  m: RoutedMessage,
  content: string,
  o: { stopping: () => boolean; log: (msg: string) => void },
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await client.send(replyRequest(client.resolveEndpointId(endpointId), m, content.slice(0, REPLY_MAX_CHARS)));
      return o.log(`replied to ${m.messageId}: ${res.status}`);
    } catch (err) {
      if (err instanceof BrokerError && err.code === "recipient_unknown") return o.log(`reply to ${m.messageId} skipped: "${m.from}" is not a session`);
      if (err instanceof BrokerError && err.status >= 400 && err.status < 500 && err.code !== "unknown_endpoint" && err.code !== "endpoint_not_active")
        return o.log(`reply to ${m.messageId} refused: ${errText(err)}`);
      if (o.stopping() || attempt >= RETRIES) throw err;
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
}
