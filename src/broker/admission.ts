// Admission of connections that have not shown the token yet. Anyone on the machine can open a TCP
// connection to 127.0.0.1, so such connections are held briefly and counted: one that has not sent an
// authenticated request within `deadlineMs` is closed, and beyond `max` of them the oldest is closed
// to make room. A connection becomes trusted with its first request that carries the right token and
// then no longer counts. Answers on an unauthenticated connection close it (see server.ts), so the
// only ones held are those still sending their first request, or sending nothing at all.
import type { Socket } from "node:net";

export interface AdmissionLimits {
  /** Unauthenticated connections held at once; the oldest is closed beyond it. */
  max: number;
  /** How long a connection may stay unauthenticated. */
  deadlineMs: number;
}

export const DEFAULT_ADMISSION: AdmissionLimits = { max: 128, deadlineMs: 3000 };

export interface AdmissionCounts {
  unauthenticated: number;
  /** Closed for taking too long or for making room, since the start. */
  closedUnauthenticated: number;
}

export class ConnectionGuard {
  /** Unauthenticated sockets with their admission time (monotonic ms), oldest first (insertion order). */
  private readonly waiting = new Map<Socket, number>();
  private readonly trusted = new WeakSet<Socket>();
  private closed = 0;
  private readonly sweeper: NodeJS.Timeout;

  /** The limits in force (after falling back to the defaults for values that are no number). */
  readonly limits: AdmissionLimits;

  constructor(
    limits: AdmissionLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    // A setting that is no number (NaN from the environment) must not turn the limits off or close
    // every connection at once: it falls back to the default.
    this.limits = {
      max: Number.isInteger(limits.max) && limits.max >= 1 ? limits.max : DEFAULT_ADMISSION.max,
      deadlineMs: Number.isFinite(limits.deadlineMs) && limits.deadlineMs >= 100 ? limits.deadlineMs : DEFAULT_ADMISSION.deadlineMs,
    };
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, this.limits.deadlineMs / 3)));
    this.sweeper.unref();
  }

  /** A new connection: held until it authenticates, closes, or its deadline passes. */
  admit(socket: Socket): void {
    this.waiting.set(socket, this.now());
    socket.once("close", () => this.waiting.delete(socket));
    while (this.waiting.size > this.limits.max) {
      const oldest = this.waiting.keys().next().value as Socket;
      this.drop(oldest);
    }
  }

  /** The connection presented the token: it is the user's, and no longer counted or timed. */
  authenticate(socket: Socket): void {
    this.trusted.add(socket);
    this.waiting.delete(socket);
  }

  isTrusted(socket: Socket): boolean {
    return this.trusted.has(socket);
  }

  get counts(): AdmissionCounts {
    return { unauthenticated: this.waiting.size, closedUnauthenticated: this.closed };
  }

  stop(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const cutoff = this.now() - this.limits.deadlineMs;
    const expired: Socket[] = [];
    for (const [socket, since] of this.waiting) {
      if (since > cutoff) break; // insertion order is admission order: the rest are younger
      expired.push(socket);
    }
    if (!expired.length) return;
    // Timers run before the event loop reads sockets: after a stall, a request may already be waiting
    // in the kernel. Read it first (the poll phase), then close only what is still unauthenticated.
    setImmediate(() => {
      for (const socket of expired) if (this.waiting.has(socket)) this.drop(socket);
    });
  }

  private drop(socket: Socket): void {
    this.waiting.delete(socket);
    this.closed++;
    socket.destroy();
  }
}
