// Another session that sends routed messages to the session under test and collects the replies it gets
// back (`in_reply_to`), as a user's other agent would.
import { BrokerClient } from "../../src/client/client.js";
import type { ClientMessage } from "../../src/client/client-types.js";

export interface Sender {
  client: BrokerClient;
  endpointId: string;
  /** Messages this session received, in order (the replies). */
  replies: ClientMessage[];
  /** Sends `content` to the endpoint `to`. */
  send(to: string, content: string): ReturnType<BrokerClient["send"]>;
  close(): Promise<void>;
}

/** A client of the broker in `home` (never starting one) with an endpoint named `name`. */
export async function openSender(home: string, name: string, kind = "test"): Promise<Sender> {
  const client = await BrokerClient.create({ discover: { home, spawn: false }, clientKind: "test" });
  try {
    const replies: ClientMessage[] = [];
    client.on("message", (m) => void replies.push(m));
    const { endpointId } = await client.registerEndpoint({ kind, session_name: name });
    return { client, endpointId, replies, send: (to, content) => client.send({ endpoint_id: endpointId, to, content }), close: () => client.close() };
  } catch (err) {
    await client.close();
    throw err;
  }
}
