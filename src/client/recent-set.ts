// A bounded set that forgets its oldest entries: remembers which pushes were already handed to the
// application, so that a message the broker pushes again (same push_id after a reattach or a restart,
// same sourceMessageId after a replay) is delivered once.
export class RecentSet {
  private readonly items = new Set<string>();

  constructor(readonly capacity = 10_000) {
    if (!(capacity >= 1)) throw new RangeError("RecentSet capacity must be at least 1");
  }

  get size(): number {
    return this.items.size;
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  add(key: string): void {
    // Re-adding refreshes the entry's age.
    this.items.delete(key);
    this.items.add(key);
    while (this.items.size > this.capacity) this.items.delete(this.items.values().next().value!);
  }

  delete(key: string): void {
    this.items.delete(key);
  }
}
