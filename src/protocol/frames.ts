// Frames on the /v1/stream WebSocket (broker <-> endpoint owner) and on the /v1/events observer feed.
import { z } from "zod";
import { EndpointView, Metadata, UndispatchedItem } from "./schemas.js";

// ---- /v1/stream: broker -> client ----------------------------------------------------------------
export const MessageReceivedFrame = z.looseObject({
  event: z.literal("message_received"),
  /** Switchboard addition: which of the pid's endpoints this is for. */
  endpoint_id: z.string().optional(),
  from: z.string(),
  content: z.string(),
  contentType: z.string(),
  metadata: Metadata,
  sourceMessageId: z.string(),
  push_id: z.string().optional(),
});
export type MessageReceivedFrame = z.infer<typeof MessageReceivedFrame>;

export const PresenceChangedFrame = z.looseObject({
  event: z.literal("presence_changed"),
  presence: z.enum(["online", "reconnecting", "offline"]),
  reason: z.string(),
});
export type PresenceChangedFrame = z.infer<typeof PresenceChangedFrame>;

/** Sent when a client frame could not be understood; the socket stays open. */
export const FrameErrorFrame = z.looseObject({ event: z.literal("error"), error: z.string(), message: z.string() });

export const ServerPushFrame = z.discriminatedUnion("event", [MessageReceivedFrame, PresenceChangedFrame, FrameErrorFrame]);
export type ServerPushFrame = z.infer<typeof ServerPushFrame>;

// ---- /v1/stream: client -> broker ----------------------------------------------------------------
export const PushAckFrame = z.looseObject({ event: z.literal("push_ack"), push_id: z.string().min(1).max(128) });
export const ClientFrame = z.discriminatedUnion("event", [PushAckFrame]);
export type ClientFrame = z.infer<typeof ClientFrame>;

// ---- /v1/events: observer feed -------------------------------------------------------------------
export const FeedSnapshot = z.object({
  type: z.literal("snapshot"),
  epoch: z.string(),
  seq: z.number(),
  endpoints: z.array(EndpointView),
  inbox: z.array(UndispatchedItem),
});
export type FeedSnapshot = z.infer<typeof FeedSnapshot>;

export const FeedChangeBody = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("endpoint_upserted"), endpoint: EndpointView }),
  z.object({ kind: z.literal("endpoint_closed"), endpoint_id: z.string(), reason: z.string() }),
  z.object({ kind: z.literal("inbox_added"), item: UndispatchedItem }),
  z.object({
    kind: z.literal("inbox_removed"),
    id: z.string(),
    reason: z.enum(["dispatched", "dismissed"]),
    target_endpoint_id: z.string().optional(),
    note: z.string().optional(),
  }),
]);
export type FeedChangeBody = z.infer<typeof FeedChangeBody>;

export const FeedChange = z.object({ type: z.literal("change"), epoch: z.string(), seq: z.number(), change: FeedChangeBody });
export type FeedChange = z.infer<typeof FeedChange>;

export const FeedFrame = z.discriminatedUnion("type", [FeedSnapshot, FeedChange]);
export type FeedFrame = z.infer<typeof FeedFrame>;
