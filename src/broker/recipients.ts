// Who a message is for: `to` (an endpoint id or a session name) resolved against the endpoints, and
// the refusal of a recipient that takes no messages. Pure: reads the store, changes nothing.
import { ProtocolError, takesMessages } from "../protocol/index.js";
import type { Store } from "./store.js";

/** What resolving reads of the store. */
export type Directory = Pick<Store, "endpoints" | "openEndpoints" | "view">;

/** `to` is an endpoint id or a session name. Open endpoints win; a closed one means a continuation. */
export function resolveRecipient(dir: Directory, to: string): string {
  const byId = dir.endpoints.get(to);
  if (byId) return byId.endpoint_id;
  const open = dir.openEndpoints().filter((e) => e.session_name === to || dir.view(e).label === to);
  if (open.length === 1) return open[0]!.endpoint_id;
  if (open.length > 1)
    throw new ProtocolError("recipient_ambiguous", `${open.length} open sessions are named "${to}"; send to one of their endpoint ids instead.`, {
      candidates: open.map((e) => e.endpoint_id),
    });
  const closed = [...dir.endpoints.values()].reverse().find((e) => e.session_name === to);
  if (closed) return closed.endpoint_id;
  throw new ProtocolError("recipient_unknown", `No session is named "${to}" and no endpoint has that id; list them with GET /v1/endpoints.`);
}

/**
 * An open endpoint that registered with `runtime_capabilities.messages_v1: false` (e.g. `switchboard
 * run`) never reads a message: refuse rather than queue one nobody will take.
 */
export function requireTakesMessages(dir: Directory, endpointId: string): void {
  const ep = dir.endpoints.get(endpointId);
  if (!ep || ep.state === "closed" || takesMessages(ep.runtime_capabilities)) return;
  const label = dir.view(ep).label;
  throw new ProtocolError("recipient_takes_no_messages", `Session "${label}" (${ep.kind}) takes no messages; send or route it to another session.`, {
    endpoint_id: ep.endpoint_id,
  });
}
