// A clock moved by hand (src/broker/clock.ts): monotonic time advances only through advance(), which
// fires due timers in order; wall time moves with it, and can also be stepped on its own (jumpWall),
// as NTP or a person setting the date would.
import type { Clock } from "../../src/broker/clock.js";

interface Pending {
  at: number;
  order: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  private mono = 0;
  private order = 0;
  private timers: Pending[] = [];

  constructor(private wall = Date.now()) {}

  now(): number {
    return this.wall;
  }

  after(ms: number, fn: () => void): () => void {
    const t: Pending = { at: this.mono + Math.max(0, ms), order: this.order++, fn };
    this.timers.push(t);
    return () => {
      this.timers = this.timers.filter((x) => x !== t);
    };
  }

  /** Monotonic time passes (wall time with it); timers that come due fire in order. */
  advance(ms: number): void {
    const target = this.mono + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.wall += due.at - this.mono;
      this.mono = due.at;
      due.fn();
    }
    this.wall += target - this.mono;
    this.mono = target;
  }

  /** The wall clock is stepped (forward or back); no monotonic time passes. */
  jumpWall(ms: number): void {
    this.wall += ms;
  }

  get pendingTimers(): number {
    return this.timers.length;
  }
}
