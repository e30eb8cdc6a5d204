// The endpoint lifecycle as a pure state machine: transition(state, event) -> { next, effects }.
// The broker (the I/O shell) performs the effects: timers, draining buffers, journaling, closing.
import type { EndpointState } from "../protocol/index.js";
import type { ErrorCode } from "../protocol/index.js";

export type EndpointEvent =
  | { type: "stream_closed"; pidAlive: boolean }
  | { type: "stream_replaced" }
  | { type: "reattach"; samePid: boolean; streamOpen: boolean }
  | { type: "grace_expired" }
  /** While reconnecting, the owner process was found gone (it may still have been exiting when its stream closed). */
  | { type: "owner_gone" }
  | { type: "unregister" }
  | { type: "restored"; pidAlive: boolean };

export type CloseReason = "plugin_exit" | "grace_timeout" | "explicit_unregister";

export type EndpointEffect =
  | { type: "start_grace" }
  | { type: "cancel_grace" }
  /** Push every buffered message, in order, on the pid's current stream. */
  | { type: "drain" }
  | { type: "close"; reason: CloseReason }
  | { type: "reject"; code: ErrorCode; message: string };

export interface Transition {
  next: EndpointState;
  effects: EndpointEffect[];
}

const stay = (state: EndpointState, ...effects: EndpointEffect[]): Transition => ({ next: state, effects });

export function transition(state: EndpointState, event: EndpointEvent): Transition {
  if (state === "closed") {
    return event.type === "reattach" ? stay(state, { type: "reject", code: "endpoint_unknown", message: "This endpoint is closed; register a new one." }) : stay(state);
  }
  switch (event.type) {
    case "stream_closed":
      if (state !== "active") return stay(state);
      return event.pidAlive ? { next: "reconnecting", effects: [{ type: "start_grace" }] } : { next: "closed", effects: [{ type: "close", reason: "plugin_exit" }] };
    case "restored":
      // After a broker restart every open endpoint waits for its owner to reattach, if the owner still lives.
      return event.pidAlive ? { next: "reconnecting", effects: [{ type: "start_grace" }] } : { next: "closed", effects: [{ type: "close", reason: "plugin_exit" }] };
    case "stream_replaced":
      // The same pid opened a new stream: active endpoints move to it, and unacknowledged pushes go out again.
      return state === "active" ? stay(state, { type: "drain" }) : stay(state);
    case "reattach":
      if (!event.samePid) return stay(state, { type: "reject", code: "reattach_pid_mismatch", message: "Only the process that registered this endpoint can reattach it." });
      if (!event.streamOpen) return stay(state, { type: "reject", code: "ipc_channel_missing", message: "Open the /v1/stream WebSocket for this pid before reattaching." });
      // Already active on this pid's open stream (the broker rebound it when the stream was replaced):
      // reattaching is then a harmless repeat, answered as success so clients need no special case.
      if (state === "active") return stay(state);
      return { next: "active", effects: [{ type: "cancel_grace" }, { type: "drain" }] };
    case "grace_expired":
      return state === "reconnecting" ? { next: "closed", effects: [{ type: "close", reason: "grace_timeout" }] } : stay(state);
    case "owner_gone":
      return state === "reconnecting" ? { next: "closed", effects: [{ type: "cancel_grace" }, { type: "close", reason: "plugin_exit" }] } : stay(state);
    case "unregister":
      return { next: "closed", effects: [{ type: "cancel_grace" }, { type: "close", reason: "explicit_unregister" }] };
  }
}
