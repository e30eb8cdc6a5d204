// The reviewer of the adapter benches (pi, Claude Code, ACP): this process on the broker's observer feed,
// as VS Code would be, approving each pending request the moment it shows. The benches take its time
// (decided_at - created_at) out of what they measure: a human would fill it with thinking.
import type { BrokerApi } from "../../src/client/api.js";
import { BrokerClient } from "../../src/client/client.js";
import type { Approval } from "../../src/protocol/index.js";

export interface AutoReviewer {
  /** The observer connection (a bench may register an endpoint on it too). */
  readonly client: BrokerClient;
  /** Approvals decided so far, in the order their answers came back. */
  readonly decided: Approval[];
  /** Off: pending requests are only seen (onPending), not decided. */
  approving: boolean;
  close(): Promise<void>;
}

export async function startAutoReviewer(o: {
  home: string;
  api: BrokerApi;
  log: (msg: string) => void;
  decidedBy?: string;
  /** Called once per pending request, when it is first seen; `approving`: whether it is now decided. */
  onPending?: (a: Approval, approving: boolean) => void;
  /** Called with each decision's answer. */
  onDecided?: (a: Approval) => void;
}): Promise<AutoReviewer> {
  const client = await BrokerClient.create({ discover: { home: o.home, spawn: false }, clientKind: "bench-reviewer", observe: true });
  const seen = new Set<string>();
  const reviewer: AutoReviewer = { client, decided: [], approving: true, close: () => client.close() };
  const pending = (a: Approval) => {
    if (a.state !== "pending" || seen.has(a.approval_id)) return;
    seen.add(a.approval_id);
    o.onPending?.(a, reviewer.approving);
    if (!reviewer.approving) return;
    void o.api.decide(a.approval_id, { decision: "approve", decided_by: o.decidedBy ?? "bench-reviewer" }).then(
      (d) => {
        reviewer.decided.push(d);
        o.onDecided?.(d);
      },
      (err: Error) => o.log(`decide ${a.approval_id} failed: ${err.message}`),
    );
  };
  client.on("feed", (f) => {
    if (f.type === "snapshot") for (const a of f.approvals) pending(a as Approval);
    else if (f.change.kind === "approval_upserted") pending((f.change as unknown as { approval: Approval }).approval);
  });
  return reviewer;
}
