// Frames on the /v1/stream WebSocket (broker <-> endpoint owner) and on the /v1/events observer feed.
import * as v from "valibot";
import { EndpointView, Metadata, UndispatchedItem } from "./schemas.js";
import { Approval } from "./approvals.js";
import { PolicyChanged } from "./policy.js";
import { StreamChunkFrame, StreamView } from "./streams.js";

// ---- /v1/stream: broker -> client ----------------------------------------------------------------
export const MessageReceivedFrame = v.looseObject({
  event: v.literal("message_received"),
  /** Switchboard addition: which of the pid's endpoints this is for. */
  endpoint_id: v.optional(v.string()),
  from: v.string(),
  content: v.string(),
  contentType: v.string(),
  metadata: Metadata,
  sourceMessageId: v.string(),
  push_id: v.optional(v.string()),
});
export type MessageReceivedFrame = v.InferOutput<typeof MessageReceivedFrame>;

export const PresenceChangedFrame = v.looseObject({
  event: v.literal("presence_changed"),
  presence: v.picklist(["online", "reconnecting", "offline"]),
  reason: v.string(),
});
export type PresenceChangedFrame = v.InferOutput<typeof PresenceChangedFrame>;

/** Sent when a client frame could not be understood; the socket stays open. */
export const FrameErrorFrame = v.looseObject({ event: v.literal("error"), error: v.string(), message: v.string() });

export const ServerPushFrame = v.variant("event", [MessageReceivedFrame, PresenceChangedFrame, FrameErrorFrame]);
export type ServerPushFrame = v.InferOutput<typeof ServerPushFrame>;

// ---- /v1/stream: client -> broker ----------------------------------------------------------------
export const PushAckFrame = v.object({ event: v.literal("push_ack"), push_id: v.pipe(v.string(), v.minLength(1), v.maxLength(128)) });
export const ClientFrame = v.variant("event", [PushAckFrame, StreamChunkFrame]);
export type ClientFrame = v.InferOutput<typeof ClientFrame>;

// ---- /v1/events: observer feed -------------------------------------------------------------------
export const FeedSnapshot = v.object({
  type: v.literal("snapshot"),
  epoch: v.string(),
  seq: v.number(),
  endpoints: v.array(EndpointView),
  inbox: v.array(UndispatchedItem),
  /** Pending approvals, oldest first. */
  approvals: v.array(Approval),
  /** Running streams and the most recent ended ones. */
  streams: v.array(StreamView),
});
export type FeedSnapshot = v.InferOutput<typeof FeedSnapshot>;

export const FeedChangeBody = v.variant("kind", [
  v.object({ kind: v.literal("endpoint_upserted"), endpoint: EndpointView }),
  v.object({ kind: v.literal("endpoint_closed"), endpoint_id: v.string(), reason: v.string() }),
  v.object({ kind: v.literal("inbox_added"), item: UndispatchedItem }),
  v.object({ kind: v.literal("approval_upserted"), approval: Approval }),
  v.object({ kind: v.literal("stream_upserted"), stream: StreamView }),
  v.object({
    kind: v.literal("inbox_removed"),
    id: v.string(),
    reason: v.picklist(["dispatched", "dismissed"]),
    target_endpoint_id: v.optional(v.string()),
    note: v.optional(v.string()),
  }),
  PolicyChanged,
]);
export type FeedChangeBody = v.InferOutput<typeof FeedChangeBody>;

export const FeedChange = v.object({ type: v.literal("change"), epoch: v.string(), seq: v.number(), change: FeedChangeBody });
export type FeedChange = v.InferOutput<typeof FeedChange>;

export const FeedFrame = v.variant("type", [FeedSnapshot, FeedChange]);
export type FeedFrame = v.InferOutput<typeof FeedFrame>;
