// pi without a broker (the fail-closed policy of ../shared/offline.ts): the person is told once that
// the broker is gone and what gated calls do meanwhile, and once that it is back; a gated call made
// meanwhile is blocked with a sentence (default) or runs unreviewed (SWITCHBOARD_PI_OFFLINE=allow).
import { offlineDenial } from "../shared/offline.js";
import type { PiSession } from "./session.js";

export class PiOffline {
  /** Why the broker cannot be used, for the next notice or denial. */
  reason = "not connected yet";
  private said = false;

  constructor(private readonly session: PiSession) {}

  /** The person was told the broker is gone, and it has not come back since. */
  get announced(): boolean {
    return this.said;
  }

  /** No broker: say so, once. */
  lost(why: string): void {
    this.reason = why;
    if (this.said) return;
    this.said = true;
    this.session.notify(
      this.session.settings.offline === "block"
        ? `no broker (${why}). pi's bash, write and edit calls are BLOCKED until it is reachable; set SWITCHBOARD_PI_OFFLINE=allow to run them without approval.`
        : `no broker (${why}). Approvals are OFF: pi's bash, write and edit calls run without review (SWITCHBOARD_PI_OFFLINE=allow).`,
      "warning",
    );
  }

  /** Connected (`first`: a new client registered; else the client reconnected): say so if the person heard it was gone. */
  back(first: boolean): void {
    if (!this.said) return;
    this.said = false;
    this.session.notify(
      first
        ? "connected to the broker; pi's bash, write and edit calls ask for approval in VS Code."
        : "the broker is back; pi's bash, write and edit calls ask for approval in VS Code again.",
      "info",
    );
  }

  /** What a gated call does without a broker: run unreviewed, or not at all (with the reason). */
  verdict(why: string): { run: "unsupervised" } | { block: string } {
    this.lost(why);
    return this.session.settings.offline === "allow" ? { run: "unsupervised" } : { block: offlineDenial(why, "SWITCHBOARD_PI_OFFLINE") };
  }
}
