// How an adapter learns the decision on an approval it asked for: the broker pushes
// `approval_resolved` to the requester's stream (queued and re-sent like a message, so also after a
// reconnect), and it may even arrive before the answer to the request itself. Every adapter (pi, ACP)
// feeds its frames in here and waits here; a plain GET every few seconds (the caller's) covers a push
// that cannot come.
import type { StreamEventFrame } from "../../client/index.js";
import type { Approval } from "../../protocol/index.js";

/** Decisions that beat the answer to their own request are kept until asked for; a few are enough. */
const EARLY_MAX = 100;

export class Decisions {
  private readonly early = new Map<string, Approval>();
  private readonly waiters = new Map<string, (a: Approval | undefined) => void>();

  /** Takes an `approval_resolved` frame (true), or leaves any other frame alone (false). */
  onFrame(f: StreamEventFrame): boolean {
    if (f.event !== "approval_resolved") return false;
    const a = f.approval as Approval | undefined;
    if (!a || typeof a.approval_id !== "string" || typeof a.state !== "string" || a.state === "pending") return true;
    const waiter = this.waiters.get(a.approval_id);
    if (waiter) {
      waiter(a);
      return true;
    }
    this.early.set(a.approval_id, a);
    if (this.early.size > EARLY_MAX) this.early.delete(this.early.keys().next().value!);
    return true;
  }

  /** The decision on `id` if its push came, else waits up to `ms` (or until `signal` aborts) for it; undefined if none came. */
  next(id: string, ms: number, signal?: AbortSignal): Promise<Approval | undefined> {
    const got = this.early.get(id);
    if (got) {
      this.early.delete(id);
      return Promise.resolve(got);
    }
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise<Approval | undefined>((resolve) => {
      const finish = (a: Approval | undefined) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.waiters.delete(id);
        resolve(a);
      };
      const timer = setTimeout(() => finish(undefined), ms);
      const onAbort = () => finish(undefined);
      this.waiters.set(id, finish);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
