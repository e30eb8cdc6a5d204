// Cancelled streams whose producer has not yet reported how the command ended. Their followers' `end`
// waits for that report, so that every viewer (terminal footer, sidebar, CLI) shows the same outcome:
// cancelled, with the signal and the duration.

/**
 * After a viewer's cancel, how long followers wait for the producer to report how the command ended
 * (its exit code, signal and duration) before they get the stream's end without it. The producers'
 * own stop escalation (SIGINT, SIGTERM, SIGKILL) takes at most about 4 s.
 */
const CANCEL_REPORT_WAIT_MS = 10_000;

export class CancelReports {
  private readonly reports = new Map<string, { done: Promise<void>; release: () => void }>();

  /** From a cancel until the producer reports (or CANCEL_REPORT_WAIT_MS passes), followers' `end` waits. */
  await(id: string): void {
    if (this.reports.has(id)) return;
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const timer = setTimeout(() => release(), CANCEL_REPORT_WAIT_MS);
    const release = () => {
      clearTimeout(timer);
      if (this.reports.get(id)?.done === done) this.reports.delete(id);
      resolve();
    };
    this.reports.set(id, { done, release });
  }

  /** The report is in (or will never come): followers get their `end`. */
  release(id: string): void {
    this.reports.get(id)?.release();
  }

  releaseAll(): void {
    for (const r of [...this.reports.values()]) r.release();
  }

  /** The streams still waiting for a report. */
  ids(): string[] {
    return [...this.reports.keys()];
  }

  /** Resolves once the stream's report is in; undefined when none is awaited. */
  done(id: string): Promise<void> | undefined {
    return this.reports.get(id)?.done;
  }
}
