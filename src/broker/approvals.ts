// The approval desk: requests, long-polls, decisions, withdrawals and timeouts. The pure
// approvalTransition decides; this shell journals, audits, publishes and tells the requester.
import { randomBytes } from "node:crypto";
import { ProtocolError, type Approval, type ApprovalRequest, type ApprovalState, type DecisionRequest } from "../protocol/index.js";
import { approvalTransition, type ApprovalEvent } from "./approval-lifecycle.js";
import { systemClock, type Clock } from "./clock.js";
import type { AuditFields, AuditLog } from "./audit.js";
import type { Broker } from "./broker.js";
import { DEFAULT_LIMITS, limitReached, type Limits } from "./limits.js";
import type { Logger } from "./log.js";
import type { Store } from "./store.js";
import { decidedByRule } from "./policy-desk.js";
import { approvalPreview } from "./approval-preview.js";
import { SLICE_MS, inSlices } from "./slices.js";

/** The approval policy as the desk uses it: a verdict for each new request (see policy-desk.ts). */
export interface ApprovalPolicyJudge {
  judge(a: Approval): NonNullable<Approval["policy"]>;
}

/** Long-polls wait at most this long. */
export const MAX_WAIT_MS = 60_000;

/**
 * How long a pending approval still has after a restart. Only wall time spans a restart, so this is
 * `expires_at - now`, but never more than the approval's whole timeout: a clock set back while the
 * broker was down must not keep it pending for days. (A clock set forward expires it at once; there
 * is no way to tell that from time that really passed.)
 */
export function remainingAfterRestart(a: Pick<Approval, "created_at" | "expires_at">, now: number): number {
  const expires = Date.parse(a.expires_at!);
  const timeout = expires - Date.parse(a.created_at);
  return Math.min(Math.max(0, expires - now), Math.max(0, timeout));
}

export class ApprovalDesk {
  private readonly timers = new Map<string, () => void>(); // approval id -> cancel its timeout
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Pending approval ids by requesting endpoint, and their total: O(1) bounds and cancellation. */
  private readonly pendingBy = new Map<string, Set<string>>();
  private pendingTotal = 0;
  /** Approvals whose requester closed, cancelled a slice at a time (a FIFO: `cancelHead` is its front). */
  private cancelQueue: string[] = [];
  private cancelHead = 0;
  private cancelScheduled = false;

  constructor(
    private readonly store: Store,
    private readonly broker: Broker,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
    private readonly limits: Limits = DEFAULT_LIMITS,
    /** Applied to every request before anyone sees it; unset, every request asks a person. */
    public policy?: ApprovalPolicyJudge,
  ) {
    for (const a of store.approvals.values()) this.track(a);
    broker.onEndpointClosed((id) => this.cancelLater(this.pendingBy.get(id)));
  }

  /**
   * After a restart: first make the journal and the audit log agree (a decision's journal record and
   * its audit record are written side by side, so a crash can leave one without the other), then
   * cancel what lost its requester and re-arm timeouts.
   */
  async restore(): Promise<void> {
    const { from, outcomes } = this.audit.recent;
    for (const a of [...this.store.approvals.values()]) {
      const audited = outcomes.get(a.approval_id);
      if (a.state === "pending" && audited) {
        // Recorded in the audit log but not the journal: that outcome happened; keep it, never a second one.
        const decision = audited.outcome === "approved" ? "approve" : audited.outcome === "rejected" ? "reject" : null;
        await this.save({ ...a, state: audited.outcome, decided_at: audited.at, decision, reason: audited.reason, decided_by: audited.decided_by });
        this.log.warn("approval outcome restored from the audit log", { approval_id: a.approval_id, state: audited.outcome });
      } else if (a.state !== "pending" && !audited && a.decided_at && (from === undefined || a.decided_at >= from)) {
        // In the journal but not the audit log: record it now, so the chain holds every outcome.
        await this.audit.append(auditFields(a, a.state));
        this.log.warn("approval outcome added to the audit log after a crash", { approval_id: a.approval_id, state: a.state });
      }
    }
    for (const a of this.pending()) {
      const ep = this.store.endpoints.get(a.endpoint_id);
      if (!ep || ep.state === "closed") this.cancelLater([a.approval_id]);
      else if (a.expires_at) this.arm(a, remainingAfterRestart(a, this.clock.now()));
    }
  }

  pending(): Approval[] {
    return [...this.store.approvals.values()].filter((a) => a.state === "pending");
  }

  /** Pending approvals as previews, oldest first: what observer snapshots carry. */
  pendingPreviews(): Approval[] {
    return this.pending().map(approvalPreview);
  }

  get pendingCount(): number {
    return this.pendingTotal;
  }

  async request(body: ApprovalRequest): Promise<Approval> {
    const ep = this.broker.requireOpenEndpoint(body.endpoint_id);
    for (const [field, max, setting] of [
      ["command", this.limits.approvalCommandBytes, "approvalCommandBytes"],
      ["detail", this.limits.approvalDetailBytes, "approvalDetailBytes"],
      ["diff", this.limits.approvalDiffBytes, "approvalDiffBytes"],
    ] as const) {
      const text = body[field];
      if (text !== undefined && text.length > max / 3 && Buffer.byteLength(text) > max)
        throw limitReached(
          "approval_too_large",
          setting,
          this.limits,
          `The approval's ${field} is ${Buffer.byteLength(text)} bytes, more than this broker takes; shorten it or write it to a file and name the file`,
        );
    }
    if (body.idempotency_key) {
      const existing = this.store.approvalByKey(ep.endpoint_id, body.idempotency_key);
      if (existing) {
        // A retry must ask for the same thing: the key must never turn one request into another's answer.
        const changed = differentRequest(existing, body);
        if (changed.length)
          throw new ProtocolError(
            "idempotency_key_reused",
            `Idempotency key "${body.idempotency_key}" was already used by this endpoint for approval ${existing.approval_id}, which asked for something else (${changed.join(", ")} differ); use a new key for a new request.`,
            { approval_id: existing.approval_id, fields: changed },
          );
        await this.broker.whenDurable();
        return existing;
      }
    }
    if ((this.pendingBy.get(ep.endpoint_id)?.size ?? 0) >= this.limits.approvalsPerSession)
      throw limitReached(
        "session_approvals_full",
        "approvalsPerSession",
        this.limits,
        "This session already has as many pending approvals as it may; wait until some are decided or withdraw them",
      );
    if (this.pendingTotal >= this.limits.approvalsTotal)
      throw limitReached("approvals_full", "approvalsTotal", this.limits, "The broker already holds as many pending approvals as it may; decide or withdraw some first");
    const now = this.clock.now();
    const approval: Approval = {
      approval_id: `apr_${randomBytes(16).toString("base64url")}`,
      endpoint_id: ep.endpoint_id,
      session: this.broker.label(ep),
      session_kind: ep.kind,
      ...shownFields(body),
      idempotency_key: body.idempotency_key ?? null,
      state: "pending",
      created_at: new Date(now).toISOString(),
      expires_at: body.timeout_ms ? new Date(now + body.timeout_ms).toISOString() : null,
      decided_at: null,
      decision: null,
      reason: null,
      decided_by: null,
      stream_id: null,
      path: body.path ?? null,
      ...(body.always_offered ? { always_offered: true } : {}),
    };
    if (this.policy) {
      // Judged before anyone sees it: a rule's allow or deny is recorded like a person's decision.
      approval.policy = this.policy.judge(approval);
      if (approval.policy.decision !== "ask") {
        this.log.info("approval decided by the policy", { approval_id: approval.approval_id, decision: approval.policy.decision, rule: approval.policy.rule });
        return this.apply(
          approval,
          { type: "decide", decision: approval.policy.decision === "allow" ? "approve" : "reject" },
          approval.policy.reason,
          decidedByRule(approval.policy),
        );
      }
    }
    const durable = this.save(approval);
    if (body.timeout_ms) this.arm(approval, body.timeout_ms);
    this.log.info("approval requested", { approval_id: approval.approval_id, action: approval.action, endpoint_id: ep.endpoint_id });
    await durable;
    return approval;
  }

  /** Previews (long texts cut; `GET /v1/approvals/:id` has them whole), oldest first. */
  list(state?: ApprovalState): Approval[] {
    const all = [...this.store.approvals.values()];
    return (state ? all.filter((a) => a.state === state) : all).sort((a, b) => byText(a.created_at, b.created_at)).map(approvalPreview);
  }

  history(limit = 100): Approval[] {
    // Only the ended ones (at most the history limit), however many are pending.
    return this.store
      .endedApprovalList()
      .sort((a, b) => byText(b.decided_at ?? "", a.decided_at ?? ""))
      .slice(0, limit)
      .map(approvalPreview);
  }

  get(id: string): Approval {
    const a = this.store.approvals.get(id);
    if (!a) throw new ProtocolError("approval_unknown", `No approval has id ${id}.`);
    return a;
  }

  /** Answers at once unless the approval is pending, then when it is resolved or after `waitMs`. */
  async wait(id: string, waitMs: number): Promise<Approval> {
    const a = this.get(id);
    if (a.state !== "pending" || waitMs <= 0) return a;
    await new Promise<void>((resolve) => {
      const done = () => {
        cancel();
        this.waiters.get(id)?.delete(done);
        resolve();
      };
      const cancel = this.clock.after(Math.min(waitMs, MAX_WAIT_MS), done);
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      set.add(done);
    });
    return this.get(id);
  }

  decide(id: string, body: DecisionRequest): Promise<Approval> {
    return this.apply(this.get(id), { type: "decide", decision: body.decision }, body.reason ?? null, body.decided_by);
  }

  /** `pid`: the caller's x-plugin-pid, if it sent one; only the requesting endpoint's process may withdraw. */
  withdraw(id: string, pid?: number): Promise<Approval> {
    const a = this.get(id);
    if (pid !== undefined && this.store.endpoints.get(a.endpoint_id)?.plugin_pid !== pid)
      throw new ProtocolError("ownership_mismatch", "Only the process that asked for this approval can withdraw it.", { state: a.state });
    return this.apply(a, { type: "withdraw" }, "withdrawn by the requester", null);
  }

  /**
   * Judges the pending approvals again (after a rule was added, a workspace file accepted…) and decides
   * those a rule now allows or denies. Answers the ids it decided.
   */
  async applyPolicy(): Promise<string[]> {
    const policy = this.policy;
    if (!policy) return [];
    // Judging is CPU work (each command is parsed): a slice at a time, so that a large backlog never
    // holds up other requests. The decisions are journaled together, not one fdatasync after another.
    const decisions: Promise<string | undefined>[] = [];
    for await (const id of inSlices(this.pending().map((a) => a.approval_id))) {
      const a = this.store.approvals.get(id);
      if (a?.state !== "pending") continue; // decided while an earlier slice waited
      const verdict = policy.judge(a);
      if (verdict.decision === "ask") continue;
      decisions.push(
        this.apply({ ...a, policy: verdict }, { type: "decide", decision: verdict.decision === "allow" ? "approve" : "reject" }, verdict.reason, decidedByRule(verdict)).then(
          () => id,
          (err) => {
            if (err instanceof ProtocolError) return undefined; // decided meanwhile by someone else
            throw err;
          },
        ),
      );
    }
    return (await Promise.all(decisions)).filter((id): id is string => id !== undefined);
  }

  /** Links an output stream to its approval, so the requester and every window can follow it. */
  linkStream(id: string, streamId: string): void {
    const a = this.store.approvals.get(id);
    if (a && !a.stream_id) void this.save({ ...a, stream_id: streamId });
  }

  private async apply(a: Approval, event: ApprovalEvent, reason: string | null, decidedBy: string | null): Promise<Approval> {
    const outcome = approvalTransition(a.state, event);
    if (outcome.kind === "refused") throw new ProtocolError(outcome.code, outcome.message, { state: a.state, approval: a });
    if (outcome.kind === "unchanged") {
      await this.broker.whenDurable(); // the recorded outcome may still be on its way to disk
      return this.get(a.approval_id);
    }
    const decided: Approval = {
      ...a,
      state: outcome.next,
      decided_at: new Date(this.clock.now()).toISOString(),
      decision: event.type === "decide" ? event.decision : null,
      reason,
      decided_by: decidedBy,
    };
    this.timers.get(a.approval_id)?.();
    this.timers.delete(a.approval_id);
    const durable = this.save(decided);
    const audited = this.audit.append(auditFields(decided, outcome.next));
    // The requester gets the whole approval: it may act on its text, which must never be a cut preview.
    this.broker.enqueueFrame(a.endpoint_id, { event: "approval_resolved", approval: decided });
    for (const wake of this.waiters.get(a.approval_id) ?? []) wake();
    this.log.info("approval resolved", { approval_id: a.approval_id, state: outcome.next, decided_by: decidedBy });
    await Promise.all([durable, audited, this.broker.whenDurable()]);
    return decided;
  }

  private save(a: Approval): Promise<void> {
    const before = this.store.approvals.get(a.approval_id);
    // A known approval whose texts did not change is journaled as the fields that did.
    const durable = this.broker.journal(
      before && before.command === a.command && before.detail === a.detail && before.diff === a.diff && before.summary === a.summary
        ? {
            t: "apr_upd",
            id: a.approval_id,
            set: {
              state: a.state,
              decided_at: a.decided_at,
              decision: a.decision,
              reason: a.reason,
              decided_by: a.decided_by,
              stream_id: a.stream_id,
              ...(a.policy ? { policy: a.policy } : {}),
            },
          }
        : { t: "apr", a },
    );
    this.track(a);
    this.broker.feed.publish({ kind: "approval_upserted", approval: approvalPreview(a) });
    return durable;
  }

  /** Keeps the pending index in step with an approval's state. */
  private track(a: Approval): void {
    let set = this.pendingBy.get(a.endpoint_id);
    if (a.state === "pending") {
      if (!set) this.pendingBy.set(a.endpoint_id, (set = new Set()));
      if (!set.has(a.approval_id)) {
        set.add(a.approval_id);
        this.pendingTotal++;
      }
    } else if (set?.delete(a.approval_id)) {
      this.pendingTotal--;
      if (set.size === 0) this.pendingBy.delete(a.endpoint_id);
    }
  }

  /** Cancels these approvals (their requester closed) a slice at a time, oldest first. */
  private cancelLater(ids: Iterable<string> | undefined): void {
    if (!ids) return;
    for (const id of ids) this.cancelQueue.push(id);
    if (this.cancelScheduled) return;
    this.cancelScheduled = true;
    this.cancelSlice(); // the first slice now: a few approvals are cancelled before the close is answered
  }

  /** Cancels a slice of the queue per turn of the event loop (a session with a thousand pending ones exits): /health and everyone else get a turn in between. */
  private cancelSlice(): void {
    const until = performance.now() + SLICE_MS;
    while (this.cancelHead < this.cancelQueue.length && performance.now() < until) {
      const a = this.store.approvals.get(this.cancelQueue[this.cancelHead++]!);
      if (a?.state === "pending") void this.apply(a, { type: "requester_closed" }, "requester closed", "broker").catch(() => {});
    }
    if (this.cancelHead < this.cancelQueue.length) return void setImmediate(() => this.cancelSlice());
    this.cancelQueue = [];
    this.cancelHead = 0;
    this.cancelScheduled = false;
  }

  /** Expires the approval after `delayMs` of monotonic time (wall-clock steps do not move it). */
  private arm(a: Approval, delayMs: number): void {
    const cancel = this.clock.after(delayMs, () => {
      this.timers.delete(a.approval_id);
      const current = this.store.approvals.get(a.approval_id);
      if (current) void this.apply(current, { type: "expire" }, "timed out", "broker").catch(() => {});
    });
    this.timers.set(a.approval_id, cancel);
  }

  stop(): void {
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    for (const set of this.waiters.values()) for (const wake of set) wake();
  }
}

/** ISO-8601 times of one format compare as text; `<` is what localeCompare gives them, at a fraction of its cost. */
const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The audit record of a decided approval. */
function auditFields(a: Approval, outcome: AuditFields["outcome"]): AuditFields {
  return {
    at: a.decided_at!,
    approval_id: a.approval_id,
    endpoint_id: a.endpoint_id,
    session: a.session,
    action: a.action,
    summary: a.summary,
    command: a.command,
    cwd: a.cwd,
    outcome,
    reason: a.reason,
    decided_by: a.decided_by,
  };
}

/** The fields of a request that the approver is shown, compared with what an approval holds. */
const SHOWN_FIELDS = ["action", "summary", "command", "cwd", "detail", "diff", "execute"] as const;

/** Which shown fields of `body` differ from the approval it would repeat. */
export function differentRequest(existing: Approval, body: ApprovalRequest): string[] {
  const asked = shownFields(body);
  return SHOWN_FIELDS.filter((f) => asked[f] !== existing[f]);
}

/** What the approver is shown of a request, with the defaults an approval stores for absent fields. */
function shownFields(body: ApprovalRequest): Pick<Approval, (typeof SHOWN_FIELDS)[number]> {
  return {
    action: body.action,
    summary: body.summary,
    command: body.command ?? null,
    cwd: body.cwd ?? null,
    detail: body.detail ?? null,
    diff: body.diff ?? null,
    execute: body.execute ?? "agent",
  };
}
