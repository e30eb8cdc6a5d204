// The undispatched inbox: messages no endpoint can take (no target, a closed session's continuation,
// a closing endpoint's buffer) wait here until the user dispatches them to a session or dismisses them.
import { randomUUID } from "node:crypto";
import { ProtocolError, type DispatchResponse, type UndispatchedItem } from "../protocol/index.js";
import type { Durability } from "./durability.js";
import type { Feed } from "./feed.js";
import type { Logger } from "./log.js";
import type { Pushes } from "./pushes.js";
import { requireTakesMessages } from "./recipients.js";
import type { EndpointRecord, Store, StoredMessage } from "./store.js";

export interface InboxDeps {
  store: Store;
  durability: Durability;
  feed: Feed;
  pushes: Pushes;
  log: Logger;
  inboxMax: number;
}

/** A message as an inbox item. */
export function inboxItem(msg: StoredMessage, reason: UndispatchedItem["reason"], extra: Partial<UndispatchedItem>): UndispatchedItem {
  return {
    id: msg.message_id,
    source_message_id: msg.message_id,
    arrived_at: msg.arrived_at,
    sender_address: msg.from,
    content: msg.content,
    content_type: msg.content_type,
    metadata: msg.metadata,
    reason,
    claim_policy: "owner_select_required",
    ...extra,
  };
}

export class Inbox {
  constructor(private readonly d: InboxDeps) {}

  list(): UndispatchedItem[] {
    return [...this.d.store.inbox.values()];
  }

  /** Files an accepted message no endpoint takes; resolves with its item once durable. Refused while the inbox is full. */
  async file(msg: StoredMessage, reason: UndispatchedItem["reason"], extra: Partial<UndispatchedItem>): Promise<UndispatchedItem> {
    const { inboxMax } = this.d;
    if (this.d.store.inbox.size >= inboxMax)
      throw new ProtocolError("inbox_full", `The undispatched inbox is full (${inboxMax} items); route or dismiss items (switchboard inbox) and try again.`, {
        retryable: true,
      });
    const item = inboxItem(msg, reason, extra);
    const durable = this.d.durability.persist({ t: "in_add", item });
    this.d.feed.publish({ kind: "inbox_added", item });
    await durable;
    return item;
  }

  /** A closing endpoint's buffered messages are not dropped: they go to the inbox. */
  takeQueueOf(ep: EndpointRecord): void {
    for (const push of this.d.store.queue(ep.endpoint_id)) {
      if (!push.message) continue; // event frames (approval_resolved, …) mean nothing to anyone else
      const item = inboxItem(push.message, "closed_session_continuation", { original_target_endpoint_id: ep.endpoint_id });
      this.d.durability.persist({ t: "in_add", item });
      this.d.feed.publish({ kind: "inbox_added", item });
    }
  }

  async dispatch(undispatchedId: string, targetId: string): Promise<DispatchResponse> {
    const { store, durability, feed, pushes } = this.d;
    const item = store.inbox.get(undispatchedId);
    if (!item) throw new ProtocolError("dispatch_failed", `unknown undispatched_id: ${undispatchedId}`);
    const target = store.endpoints.get(targetId);
    if (!target || target.state === "closed") throw new ProtocolError("dispatch_failed", `target endpoint not found: ${targetId}`);
    requireTakesMessages(store, targetId); // the item stays in the inbox
    const msg: StoredMessage = {
      message_id: item.source_message_id,
      from: item.sender_address,
      content: item.content,
      content_type: item.content_type,
      metadata: { ...item.metadata, target_endpoint_id: targetId, dispatched_from: item.id },
      arrived_at: item.arrived_at,
    };
    // Enqueue first (it may refuse a full buffer), then take the item out of the inbox: a crash in
    // between can at worst leave a copy in both places, never in neither.
    const pushId = `push_${randomUUID()}`;
    const status = pushes.enqueue(targetId, msg, pushId);
    const acked = status === "delivered" ? pushes.waitForAck(pushId) : Promise.resolve(false);
    durability.persist({ t: "in_del", id: item.id });
    feed.publish({ kind: "inbox_removed", id: item.id, reason: "dispatched", target_endpoint_id: targetId });
    this.d.log.info("dispatched", { id: item.id, target: targetId });
    await durability.latest;
    return { ok: true, status: (await acked) ? "delivered" : "stored", target_endpoint_id: targetId };
  }

  dismiss(id: string, reason: string | undefined): Promise<void> {
    if (!this.d.store.inbox.has(id)) throw new ProtocolError("undispatched_unknown", `No inbox item has id ${id}.`);
    const durable = this.d.durability.persist({ t: "in_del", id });
    this.d.feed.publish({ kind: "inbox_removed", id, reason: "dismissed", ...(reason ? { note: reason } : {}) });
    this.d.log.info("dismissed", { id, reason });
    return durable;
  }
}
