// What arrives on the client's /v1/stream: message pushes, presence changes and other event frames,
// each checked against its schema, handed to the application once (push-dedup.ts) and acknowledged
// (push_ack) only after its listeners returned, or, with manualMessageAck, when the application says
// it is done with a message. A frame that fails its check is reported and not acknowledged: the
// broker keeps it, so a fixed client can still get it.
import * as v from "valibot";
import WebSocket from "ws";
import { MessageReceivedFrame, PresenceChangedFrame, describeIssues } from "../protocol/index.js";
import type { BrokerClientEvents, ClientMessage, StreamEventFrame } from "./client-types.js";
import { BrokerError } from "./errors.js";
import { PushDedup } from "./push-dedup.js";
import { rawToString } from "./sockets.js";

/** What the receiver needs from its client. */
export interface PushHost {
  /** Messages are acknowledged by the application (`ackMessage`), not when the listeners return. */
  manualAck: boolean;
  /** The current id of the endpoint a frame is for (the only endpoint, when the frame names none). */
  endpointOf(raw: unknown): string | undefined;
  message(m: ClientMessage): void;
  presence(p: BrokerClientEvents["presence"][0]): void;
  frame(f: StreamEventFrame): void;
  report(err: Error): void;
}

export class PushReceiver {
  private readonly pushes: PushDedup;
  /** push ids of messages the application has not acknowledged yet (manualAck). */
  private readonly held = new Set<string>();

  constructor(
    private readonly host: PushHost,
    dedupeCapacity: number,
  ) {
    this.pushes = new PushDedup(2 * dedupeCapacity);
  }

  onFrame(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    let frame: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = isBinary ? undefined : JSON.parse(rawToString(data));
      frame = parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
    } catch {
      frame = undefined;
    }
    if (!frame) return this.host.report(new Error("The broker sent a stream frame that is not a JSON object."));
    const event = frame.event;
    if (typeof event !== "string") return; // objects without `event` are ignored, as MASONS clients do
    if (event === "error") {
      return this.host.report(new BrokerError(String(frame.error ?? "stream_error"), 0, String(frame.message ?? "The broker reported a stream error.")));
    }
    const pushId = typeof frame.push_id === "string" ? frame.push_id : undefined;
    if (event === "message_received") {
      const parsed = v.safeParse(MessageReceivedFrame, frame);
      // Not acknowledged: the broker keeps it, and a fixed client can still get it.
      if (!parsed.success) return this.host.report(new Error(`Ignored a bad message_received frame: ${describeIssues(parsed.issues, "frame")}`));
      const m = parsed.output;
      const endpointId = this.host.endpointOf(m.endpoint_id ?? m.metadata.target_endpoint_id);
      const hold = this.host.manualAck && pushId !== undefined;
      this.pushes.deliver([`m:${m.sourceMessageId}`, ...(pushId ? [`p:${pushId}`] : [])], () => {
        if (hold) this.held.add(pushId);
        try {
          this.host.message({ ...m, endpointId });
        } catch (err) {
          if (hold) this.held.delete(pushId);
          throw err;
        }
      });
      // Held by the application (also when pushed again before it was done with it): no ack yet.
      if (hold && this.held.has(pushId)) return;
    } else if (event === "presence_changed") {
      const parsed = v.safeParse(PresenceChangedFrame, frame);
      if (!parsed.success) return this.host.report(new Error(`Ignored a bad presence_changed frame: ${describeIssues(parsed.issues, "frame")}`));
      this.host.presence(parsed.output);
    } else {
      const endpointId = this.host.endpointOf(frame.endpoint_id);
      this.pushes.deliver(pushId ? [`p:${pushId}`] : [], () => this.host.frame({ ...frame, event, endpointId }));
    }
    // Acknowledge only after the listeners ran; a duplicate too (its first ack may have been lost).
    if (pushId && ws.readyState === WebSocket.OPEN) sendAck(ws, pushId);
  }

  /** The application is done with a held message: acknowledge it on `ws` (or, without one, when it is pushed again). */
  release(pushId: string | undefined, ws: WebSocket | undefined): void {
    if (!pushId || !this.held.delete(pushId)) return;
    if (ws && ws.readyState === WebSocket.OPEN) sendAck(ws, pushId);
  }
}

function sendAck(ws: WebSocket, pushId: string): void {
  ws.send(JSON.stringify({ event: "push_ack", push_id: pushId }));
}
