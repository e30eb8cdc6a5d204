// Output streams (the rummy stream contract): channel 1 = stdout, 2 = stderr, higher = other channels;
// states streaming (102), completed (200 for exit 0, 500 otherwise), aborted or cancelled (499).
import * as v from "valibot";

export const StreamAction = v.picklist(["sh", "env"]);
export const StreamState = v.picklist(["streaming", "completed", "aborted", "cancelled"]);
export type StreamState = v.InferOutput<typeof StreamState>;

export const MAX_CHANNEL = 16;
const channel = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_CHANNEL));
const seq = v.pipe(v.number(), v.integer(), v.minValue(1));
const reason = v.optional(v.pipe(v.string(), v.maxLength(2000)));

export const StreamStartRequest = v.object({
  endpoint_id: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  action: StreamAction,
  command: v.pipe(v.string(), v.minLength(1), v.maxLength(64 * 1024)),
  cwd: v.optional(v.pipe(v.string(), v.maxLength(4096))),
  approval_id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
  /** A sentence for the terminal header about how the output arrives (e.g. "shown when the command ends"). */
  note: v.optional(v.pipe(v.string(), v.maxLength(500))),
  /** The producer only has stdout and stderr mixed into one text (e.g. an ACP agent's tool output), sent on channel 1. */
  output_merged: v.optional(v.boolean()),
  /** false: the producer cannot stop the command (an agent runs it itself); a cancel is refused with `stream_not_cancellable`. */
  cancellable: v.optional(v.boolean()),
});
export type StreamStartRequest = v.InferOutput<typeof StreamStartRequest>;

/** One piece of output. `seq` increases across all channels of a stream; the broker assigns it when absent. */
export const Chunk = v.object({ channel, seq: v.optional(seq), data: v.pipe(v.string(), v.maxLength(1024 * 1024)) });
export type Chunk = v.InferOutput<typeof Chunk>;
export const ChunksRequest = v.object({ chunks: v.pipe(v.array(Chunk), v.maxLength(10_000)) });

export const CompleteRequest = v.object({
  exit_code: v.nullable(v.pipe(v.number(), v.integer())),
  signal: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(32)))),
  duration_ms: v.optional(v.pipe(v.number(), v.minValue(0))),
  /** The producer's last chunk `seq`: chunks sent on the socket may still be in flight, so the broker waits for them. */
  last_seq: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  /** What the producer knows beside the exit code, e.g. why there is none ("exit status not reported"). */
  reason,
});
export type CompleteRequest = v.InferOutput<typeof CompleteRequest>;
export const ReasonRequest = v.object({ reason });
/** The producer stops its stream; it may say how the process ended (say, it was interrupted with Ctrl+C). */
export const AbortRequest = v.object({
  reason,
  exit_code: v.optional(v.nullable(v.pipe(v.number(), v.integer()))),
  signal: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(32)))),
  duration_ms: v.optional(v.pipe(v.number(), v.minValue(0))),
});
export type AbortRequest = v.InferOutput<typeof AbortRequest>;

export const ChannelInfo = v.object({ bytes: v.number(), truncated: v.boolean() });

export const StreamView = v.object({
  stream_id: v.string(),
  endpoint_id: v.string(),
  session: v.string(),
  action: StreamAction,
  command: v.string(),
  cwd: v.nullable(v.string()),
  approval_id: v.nullable(v.string()),
  /** Who approved the request it follows, as the approval records it (a person, or `rule <id> (<where>)`); absent without one. */
  decided_by: v.optional(v.nullable(v.string())),
  /** Present (true) when stdout and stderr arrive merged on channel 1. */
  output_merged: v.optional(v.boolean()),
  /** Present (false) when nobody can stop the command from here (the agent runs it itself). */
  cancellable: v.optional(v.boolean()),
  state: StreamState,
  status: v.picklist([102, 200, 500, 499]),
  created_at: v.string(),
  ended_at: v.nullable(v.string()),
  exit_code: v.nullable(v.number()),
  signal: v.nullable(v.string()),
  duration_ms: v.nullable(v.number()),
  reason: v.nullable(v.string()),
  last_seq: v.number(),
  channels: v.record(v.string(), ChannelInfo),
  /** The producer's note from StreamStartRequest, if any. */
  note: v.optional(v.string()),
});
export type StreamView = v.InferOutput<typeof StreamView>;

export const StreamsResponse = v.object({ streams: v.array(StreamView) });
export const ReplayResponse = v.object({
  stream: StreamView,
  chunks: v.array(v.object({ channel: v.number(), seq: v.number(), data: v.string() })),
  /** True when output beyond the file cap was dropped; `tail` then holds the last bytes per channel. */
  truncated: v.boolean(),
  tail: v.record(v.string(), v.string()),
  /** The `from_seq` of the next page when this answer stopped at its `max_bytes`; null at the end. */
  next_from_seq: v.optional(v.nullable(v.number())),
});
export type ReplayResponse = v.InferOutput<typeof ReplayResponse>;

/** Frames of the live stream follower (`GET /v1/streams/:id/live`, WebSocket). */
export type LiveFrame =
  | { type: "hello"; stream: StreamView }
  | { type: "chunk"; channel: number; seq: number; data: string }
  /** The follower fell behind; what follows is a replay from `from_seq`, then live chunks again. */
  | { type: "resync"; from_seq: number }
  | { type: "end"; stream: StreamView };

/** Producer frames on /v1/stream (for throughput, instead of HTTP chunk posts). */
export const StreamChunkFrame = v.object({
  event: v.literal("stream_chunk"),
  stream_id: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  channel,
  seq: v.optional(seq),
  data: v.pipe(v.string(), v.maxLength(1024 * 1024)),
});
