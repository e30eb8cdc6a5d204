// Each endpoint's queue of pushes (messages and event frames), journaled before they count, pushed on
// the owner's socket while the endpoint is active, taken off the queue when acknowledged (or, without
// push_receipt_ack_v1, once written); and the waiters that let a dispatch answer "delivered".
import { randomUUID } from "node:crypto";
import { ProtocolError, type DeliveryStatus, type MessageReceivedFrame } from "../protocol/index.js";
import type { Clock } from "./clock.js";
import type { Durability } from "./durability.js";
import type { Feed } from "./feed.js";
import type { PidSockets } from "./pid-sockets.js";
import type { EndpointRecord, QueuedPush, Store, StoredMessage } from "./store.js";

export interface PushDeps {
  store: Store;
  durability: Durability;
  feed: Feed;
  sockets: PidSockets;
  clock: Clock;
  /** Undelivered pushes an endpoint may hold. */
  endpointBufferMax: number;
  /** How long a dispatch waits for the target's push_ack before answering "stored". */
  dispatchAckWaitMs: number;
}

export class Pushes {
  private readonly ackWaiters = new Map<string, () => void>();

  constructor(private readonly d: PushDeps) {}

  /** Adds a message to an endpoint's queue (journaled) and pushes it when the endpoint is active. */
  enqueue(endpointId: string, msg: StoredMessage, pushId = `push_${randomUUID()}`): DeliveryStatus {
    return this.enqueuePush(endpointId, { push_id: pushId, message: msg });
  }

  enqueuePush(endpointId: string, push: QueuedPush): DeliveryStatus {
    const { store, endpointBufferMax } = this.d;
    if (store.queueSize(endpointId) >= endpointBufferMax)
      throw new ProtocolError("endpoint_buffer_full", `Endpoint ${endpointId} already holds ${endpointBufferMax} undelivered messages; try again later.`, {
        retryable: true,
      });
    this.d.durability.persist({ t: "q_add", ep: endpointId, push });
    const ep = store.endpoints.get(endpointId)!;
    // Push before the fsync completes: delivery early is harmless, and an acknowledgement to the sender still waits for it.
    if (ep.state === "active" && this.pushOne(ep, push)) return "delivered";
    this.d.feed.publish({ kind: "endpoint_upserted", endpoint: store.view(ep) });
    return "stored";
  }

  /** Pushes everything queued for an endpoint (it became active again). */
  drain(endpointId: string): void {
    const ep = this.d.store.endpoints.get(endpointId);
    if (!ep) return;
    for (const push of [...this.d.store.queue(endpointId)]) this.pushOne(ep, push);
  }

  /** The owner acknowledged a push: off the queue, and whoever waits for it hears. */
  acked(endpointId: string, pushId: string): void {
    // Lazy: losing an ack in a crash only means the push is sent again with the same push_id.
    this.d.durability.persistLazy({ t: "q_del", ep: endpointId, push_id: pushId });
    this.ackWaiters.get(pushId)?.();
  }

  /** Resolves true once `pushId` is acknowledged, false after dispatchAckWaitMs. */
  waitForAck(pushId: string): Promise<boolean> {
    return new Promise((resolve) => {
      const cancel = this.d.clock.after(this.d.dispatchAckWaitMs, () => {
        this.ackWaiters.delete(pushId);
        resolve(false);
      });
      this.ackWaiters.set(pushId, () => {
        cancel();
        this.ackWaiters.delete(pushId);
        resolve(true);
      });
    });
  }

  /** Sends one push on the owner's stream. Without push_receipt_ack_v1 a written frame counts as delivered. */
  private pushOne(ep: EndpointRecord, push: QueuedPush): boolean {
    const conn = this.d.sockets.get(ep.plugin_pid);
    if (!conn || conn.ws.readyState !== conn.ws.OPEN) return false;
    if (conn.sent.has(push.push_id)) return true;
    const m = push.message;
    const frame: MessageReceivedFrame | Record<string, unknown> = m
      ? {
          event: "message_received",
          endpoint_id: ep.endpoint_id,
          from: m.from,
          content: m.content,
          contentType: m.content_type,
          metadata: m.metadata,
          sourceMessageId: m.message_id,
          ...(conn.ackMode ? { push_id: push.push_id } : {}),
        }
      : { ...push.frame, endpoint_id: ep.endpoint_id, ...(conn.ackMode ? { push_id: push.push_id } : {}) };
    conn.sent.set(push.push_id, ep.endpoint_id);
    this.d.sockets.cork(conn);
    conn.ws.send(JSON.stringify(frame), (err) => {
      if (err) {
        conn.sent.delete(push.push_id);
        return;
      }
      if (!conn.ackMode) {
        conn.sent.delete(push.push_id);
        this.acked(ep.endpoint_id, push.push_id);
      }
    });
    return true;
  }
}
