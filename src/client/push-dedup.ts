// Hands each push to the application once. A push can come again after a reattach, a stream rebind
// or a broker restart; its keys (push_id, and for messages the source message id) tell a repeat
// from a new one. If a listener throws, the keys are forgotten again, so the unacknowledged push
// that the broker sends once more is delivered then.
import { RecentSet } from "./recent-set.js";

export class PushDedup {
  private readonly seen: RecentSet;

  /** Remembers about `capacity` keys (the oldest are forgotten first). */
  constructor(capacity: number) {
    this.seen = new RecentSet(capacity);
  }

  /** Runs `emit` unless one of `keys` was delivered before. */
  deliver(keys: readonly string[], emit: () => void): void {
    if (keys.some((k) => this.seen.has(k))) return;
    for (const k of keys) this.seen.add(k);
    try {
      emit();
    } catch (err) {
      for (const k of keys) this.seen.delete(k);
      throw err;
    }
  }
}
