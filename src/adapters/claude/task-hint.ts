// The session's task hint in the sidebar: "[working] <first line of the prompt> (N messages queued)",
// "[waiting for you: …]", "[idle]" (text from hintText in protocol.ts). One update at a time, so that
// the broker always ends with the latest value.
import type { BrokerClient } from "../../client/client.js";
import { errText } from "../shared/failures.js";
import { firstLine } from "../shared/task-hint.js";
import { hintText } from "./protocol.js";

export type Status = "working" | "waiting for you" | "idle";

export interface HintHost {
  client(): BrokerClient | undefined;
  endpointId(): string | undefined;
  queued(): number;
  log(msg: string): void;
}

export class TaskHint {
  private status: Status = "idle";
  private note: string | undefined;
  private task = "";
  private sent = "";
  private busy = false;

  constructor(private readonly host: HintHost) {}

  get value(): string {
    return hintText(this.status, this.note, this.task, this.host.queued());
  }

  setStatus(status: Status, note?: string): void {
    this.status = status;
    this.note = note;
    this.push();
  }

  /** What the session works on: the first non-blank line of the user's prompt. */
  setTask(prompt: string): void {
    const line = firstLine(prompt);
    if (line) this.task = line;
  }

  /** The endpoint was registered with `value`. */
  registered(value: string): void {
    this.sent = value;
    this.push();
  }

  /** Sends the hint when it changed. */
  push(): void {
    if (this.busy) return;
    const value = this.value;
    const client = this.host.client();
    const ep = this.host.endpointId();
    if (!client || !ep || value === this.sent) return;
    this.busy = true;
    client
      .setTaskHint(ep, value)
      .then(
        () => (this.sent = value),
        (err: unknown) => this.host.log(`task hint: ${errText(err)}`),
      )
      .finally(() => {
        this.busy = false;
        if (this.value !== this.sent) this.push();
      });
  }
}
