// Where an inbound message goes: a pure decision over the endpoint table and the correlation map.
import type { EndpointState, UndispatchedReason } from "../protocol/index.js";

export interface RouteLookup {
  endpointState(id: string): EndpointState | undefined;
  correlationOwner(correlationId: string): string | undefined;
  /** False for an endpoint that registered without messages (`runtime_capabilities.messages_v1: false`). */
  takesMessages(id: string): boolean;
}

export type RouteDecision =
  | { to: "endpoint"; endpointId: string; via: "target" | "correlation" }
  | { to: "inbox"; reason: UndispatchedReason; originalTargetEndpointId?: string; originalCorrelationId?: string };

const isOpen = (s: EndpointState | undefined) => s === "active" || s === "reconnecting";

export function route(metadata: Record<string, unknown>, lookup: RouteLookup): RouteDecision {
  const target = typeof metadata.target_endpoint_id === "string" ? metadata.target_endpoint_id : undefined;
  const correlation = typeof metadata.correlation_id === "string" ? metadata.correlation_id : undefined;

  // 1. An explicit target that is open: push it (active) or buffer it (reconnecting).
  if (target && isOpen(lookup.endpointState(target))) return { to: "endpoint", endpointId: target, via: "target" };

  // 2. An answer to a message some endpoint sent goes back to that endpoint.
  // (An owner that takes no messages cannot read the answer: the answer waits in the inbox.)
  const owner = correlation ? lookup.correlationOwner(correlation) : undefined;
  if (owner && isOpen(lookup.endpointState(owner)) && lookup.takesMessages(owner)) return { to: "endpoint", endpointId: owner, via: "correlation" };

  // 3. Otherwise the inbox: a continuation of a closed session, or simply unaddressed.
  if (target && lookup.endpointState(target) === "closed") return { to: "inbox", reason: "closed_session_continuation", originalTargetEndpointId: target };
  if (owner && isOpen(lookup.endpointState(owner))) return { to: "inbox", reason: "unaddressed", originalCorrelationId: correlation };
  if (owner) return { to: "inbox", reason: "closed_session_continuation", originalTargetEndpointId: owner, originalCorrelationId: correlation };
  return { to: "inbox", reason: "unaddressed", ...(target ? { originalTargetEndpointId: target } : {}) };
}
