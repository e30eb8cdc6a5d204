// The observer feed as a pure reducer: a snapshot, then changes that must arrive with seq = last + 1.
// Anything else (another epoch, a skipped seq, a change before any snapshot) is a gap: the shell then
// reopens /v1/events without `since` and gets a fresh snapshot.
//
// Parsing is strict on the envelope (type, epoch, seq) and on the bodies the model uses, and tolerant
// of the rest: a broker of the same major that is older (no approvals/streams yet) or newer (change
// kinds this client does not know) must not break the feed. Unknown change kinds advance `seq` and are
// passed to the application unchanged.
import * as v from "valibot";
import { EndpointView, UndispatchedItem } from "../protocol/index.js";

const Keyed = <K extends string>(key: K) => v.looseObject({ [key]: v.string() } as { [P in K]: v.StringSchema<undefined> });

export const FeedSnapshotFrame = v.looseObject({
  type: v.literal("snapshot"),
  epoch: v.string(),
  seq: v.number(),
  endpoints: v.array(EndpointView),
  inbox: v.array(UndispatchedItem),
  /** Pending approvals (brokers with approvals); absent on older brokers. */
  approvals: v.optional(v.array(Keyed("approval_id")), []),
  /** Running and recently ended output streams; absent on older brokers. */
  streams: v.optional(v.array(Keyed("stream_id")), []),
});
export const FeedChangeFrame = v.looseObject({
  type: v.literal("change"),
  epoch: v.string(),
  seq: v.number(),
  change: v.looseObject({ kind: v.string() }),
});
export const FeedEnvelope = v.variant("type", [FeedSnapshotFrame, FeedChangeFrame]);
/** A frame of /v1/events as the client emits it (`feed` event). */
export type FeedEvent = v.InferOutput<typeof FeedEnvelope>;
export type FeedRecord = { readonly [key: string]: unknown };

/** Bodies of the change kinds the model applies. */
const KNOWN_CHANGES: Record<string, v.GenericSchema> = {
  endpoint_upserted: v.looseObject({ endpoint: EndpointView }),
  endpoint_closed: v.looseObject({ endpoint_id: v.string() }),
  inbox_added: v.looseObject({ item: UndispatchedItem }),
  inbox_removed: v.looseObject({ id: v.string() }),
  approval_upserted: v.looseObject({ approval: v.looseObject({ approval_id: v.string(), state: v.string() }) }),
  stream_upserted: v.looseObject({ stream: Keyed("stream_id") }),
};

export interface FeedModel {
  readonly epoch: string;
  readonly seq: number;
  readonly endpoints: ReadonlyMap<string, EndpointView>;
  readonly inbox: ReadonlyMap<string, UndispatchedItem>;
  /** Pending approvals by approval_id (decided ones leave, as in the broker's snapshot). */
  readonly approvals: ReadonlyMap<string, FeedRecord>;
  /** Output streams by stream_id. */
  readonly streams: ReadonlyMap<string, FeedRecord>;
}

export type FeedStep =
  /** Apply: the model after the frame. */
  | { kind: "applied"; model: FeedModel }
  /** A change already applied (seq <= current): ignore it. */
  | { kind: "stale" }
  /** Missed changes, another broker run, or a change that cannot be applied: resnapshot. */
  | { kind: "gap"; reason: string };

export function applyFeedFrame(model: FeedModel | undefined, frame: FeedEvent): FeedStep {
  if (frame.type === "snapshot") {
    return {
      kind: "applied",
      model: {
        epoch: frame.epoch,
        seq: frame.seq,
        endpoints: new Map(frame.endpoints.map((e) => [e.endpoint_id, e])),
        inbox: new Map(frame.inbox.map((i) => [i.id, i])),
        approvals: new Map(frame.approvals.map((a) => [a.approval_id, a])),
        streams: new Map(frame.streams.map((s) => [s.stream_id, s])),
      },
    };
  }
  if (!model) return { kind: "gap", reason: "a change arrived before any snapshot" };
  if (frame.epoch !== model.epoch) return { kind: "gap", reason: `the broker's feed epoch changed (${model.epoch} -> ${frame.epoch})` };
  if (frame.seq <= model.seq) return { kind: "stale" };
  if (frame.seq !== model.seq + 1) return { kind: "gap", reason: `expected change ${model.seq + 1}, got ${frame.seq}` };

  const c = frame.change as Record<string, unknown> & { kind: string };
  const schema = KNOWN_CHANGES[c.kind];
  if (schema && !v.safeParse(schema, c).success) return { kind: "gap", reason: `change ${frame.seq} (${c.kind}) is malformed` };
  let { endpoints, inbox, approvals, streams } = model;
  switch (c.kind) {
    case "endpoint_upserted": {
      const e = c.endpoint as EndpointView;
      endpoints = new Map(endpoints).set(e.endpoint_id, e);
      break;
    }
    case "endpoint_closed":
      endpoints = without(endpoints, c.endpoint_id as string);
      break;
    case "inbox_added": {
      const item = c.item as UndispatchedItem;
      inbox = new Map(inbox).set(item.id, item);
      break;
    }
    case "inbox_removed":
      inbox = without(inbox, c.id as string);
      break;
    case "approval_upserted": {
      const a = c.approval as FeedRecord & { approval_id: string; state: string };
      approvals = a.state === "pending" ? new Map(approvals).set(a.approval_id, a) : without(approvals, a.approval_id);
      break;
    }
    case "stream_upserted": {
      const s = c.stream as FeedRecord & { stream_id: string };
      streams = new Map(streams).set(s.stream_id, s);
      break;
    }
    default:
      // A kind this client does not know: keep the order, leave the model as it is.
      break;
  }
  return { kind: "applied", model: { epoch: model.epoch, seq: frame.seq, endpoints, inbox, approvals, streams } };
}

function without<T>(map: ReadonlyMap<string, T>, key: string): ReadonlyMap<string, T> {
  if (!map.has(key)) return map;
  const m = new Map(map);
  m.delete(key);
  return m;
}

/** The `since`/`epoch` query that resumes a feed, or "" to ask for a snapshot. */
export function feedResumeQuery(model: FeedModel | undefined): string {
  return model ? `?since=${model.seq}&epoch=${encodeURIComponent(model.epoch)}` : "";
}
