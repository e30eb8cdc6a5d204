// Accepting messages: POST /v1/send from an endpoint (checked, given a correlation id) and
// /v1/ingress from outside; the pure router decides where each goes (the target's queue, or the inbox).
import { randomUUID } from "node:crypto";
import { ProtocolError, takesMessages, type IngressRequest, type SendRequest, type SendResponse } from "../protocol/index.js";
import type { Durability } from "./durability.js";
import { newId, now } from "./ids.js";
import type { Inbox } from "./inbox.js";
import type { Pushes } from "./pushes.js";
import { requireTakesMessages, resolveRecipient } from "./recipients.js";
import { route } from "./router.js";
import type { Store, StoredMessage } from "./store.js";

export interface MessageDeps {
  store: Store;
  durability: Durability;
  pushes: Pushes;
  inbox: Inbox;
}

export class Messages {
  constructor(private readonly d: MessageDeps) {}

  async send(body: SendRequest): Promise<SendResponse> {
    const { store } = this.d;
    const sender = store.endpoints.get(body.endpoint_id);
    if (!sender || sender.state === "closed") throw new ProtocolError("unknown_endpoint", `No open endpoint has id ${body.endpoint_id}.`);
    if (sender.state !== "active") throw new ProtocolError("endpoint_not_active", "This endpoint is reconnecting; reattach it before sending.");
    const meta = { ...(body.metadata ?? {}) };
    if ("correlation_id" in meta) throw new ProtocolError("correlation_id_forbidden", "metadata.correlation_id is issued by the broker; remove it.");
    if ("target_endpoint_id" in meta) throw new ProtocolError("target_endpoint_id_forbidden", "metadata.target_endpoint_id is set by the broker from `to`; remove it.");
    if ("source_endpoint_id" in meta && meta.source_endpoint_id !== sender.endpoint_id)
      throw new ProtocolError("source_endpoint_id_mismatch", "metadata.source_endpoint_id must be the sending endpoint's id.");

    const target = resolveRecipient(store, body.to);
    requireTakesMessages(store, target);
    // A reply reuses the correlation id it answers, so the original sender can match it.
    const inReplyTo = typeof meta.in_reply_to === "string" && store.correlations.has(meta.in_reply_to) ? meta.in_reply_to : undefined;
    const correlationId = inReplyTo ?? randomUUID();
    meta.correlation_id = correlationId;
    meta.source_endpoint_id = sender.endpoint_id;
    meta.source_session = store.view(sender).label;
    meta.require_live = body.require_live ?? false;
    meta.target_endpoint_id = target; // a closed target makes the router file it as a continuation
    if (!inReplyTo) this.d.durability.persist({ t: "corr", id: correlationId, ep: sender.endpoint_id });
    store.touch(sender, now());

    const msg = message(store.view(sender).label, body.content, body.contentType, meta);
    const res = await this.accept(msg);
    return { ...res, correlation_id: correlationId };
  }

  ingress(body: IngressRequest): Promise<SendResponse> {
    const meta = { ...(body.metadata ?? {}) };
    if (body.to) meta.target_endpoint_id = resolveRecipient(this.d.store, body.to);
    if (typeof meta.target_endpoint_id === "string") requireTakesMessages(this.d.store, meta.target_endpoint_id);
    return this.accept(message(body.from, body.content, body.contentType, meta));
  }

  /** Routes one accepted message, persists where it went, pushes it if possible; resolves once durable. */
  private async accept(msg: StoredMessage): Promise<SendResponse> {
    const { store } = this.d;
    const decision = route(msg.metadata, {
      endpointState: (id) => store.endpoints.get(id)?.state,
      correlationOwner: (cid) => store.correlations.get(cid),
      takesMessages: (id) => takesMessages(store.endpoints.get(id)?.runtime_capabilities),
    });
    if (decision.to === "endpoint") {
      // MASONS clients only see metadata (not our frame's endpoint_id), so name the target there too.
      msg.metadata.target_endpoint_id = decision.endpointId;
      const status = this.d.pushes.enqueue(decision.endpointId, msg);
      await this.d.durability.latest;
      return { messageId: msg.message_id, status, target_endpoint_id: decision.endpointId };
    }
    const item = await this.d.inbox.file(msg, decision.reason, {
      ...(decision.originalTargetEndpointId ? { original_target_endpoint_id: decision.originalTargetEndpointId } : {}),
      ...(decision.originalCorrelationId ? { original_correlation_id: decision.originalCorrelationId } : {}),
    });
    return { messageId: msg.message_id, status: "undispatched", undispatched_id: item.id };
  }
}

function message(from: string, content: string, contentType: string | undefined, metadata: Record<string, unknown>): StoredMessage {
  return { message_id: newId("msg"), from, content, content_type: contentType ?? "text", metadata, arrived_at: now() };
}
