// The session's durable queue of routed messages not yet delivered to Claude: one file per message in
// `claude/<session_id>/queue/`, written and fsynced before the broker's push is acknowledged, removed
// only after the hook that delivered it has printed it for Claude. A message is therefore delivered at
// least once even if the hook, the companion or the broker is killed in between (a hook killed after
// printing but before confirming delivers it again at the next turn boundary).
import { readFileSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { writeDurable } from "./session-files.js";

export interface QueuedMessage {
  /** the broker's message id (sourceMessageId) */
  messageId: string;
  from: string;
  text: string;
  /** where the reply goes: the sender's endpoint id, or a session name */
  replyTo: string;
  replyToEndpoint: boolean;
  /** metadata.in_reply_to for the reply */
  inReplyTo: string;
  arrivedAt: string;
}

const safeName = (id: string) => id.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 120);

export class MessageQueue {
  private seq = 0;
  constructor(private readonly dir: string) {
    for (const f of this.files()) this.seq = Math.max(this.seq, Number(f.split("-")[0]) || 0);
  }

  private files(): string[] {
    try {
      return readdirSync(this.dir)
        .filter((f) => f.endsWith(".json"))
        .sort();
    } catch {
      return [];
    }
  }

  /** Oldest first. */
  list(): { file: string; message: QueuedMessage }[] {
    const out: { file: string; message: QueuedMessage }[] = [];
    for (const file of this.files()) {
      try {
        out.push({ file, message: JSON.parse(readFileSync(join(this.dir, file), "utf8")) as QueuedMessage });
      } catch {
        // torn by a crash mid-write: the temporary file was never renamed, so this cannot be ours
      }
    }
    return out;
  }

  has(messageId: string): boolean {
    return this.files().some((f) => f.endsWith(`-${safeName(messageId)}.json`));
  }

  /** Durable when it returns. False if it was already queued (a re-push). */
  add(m: QueuedMessage): boolean {
    if (this.has(m.messageId)) return false;
    const file = `${String(++this.seq).padStart(9, "0")}-${safeName(m.messageId)}.json`;
    writeDurable(join(this.dir, file), JSON.stringify(m), this.dir);
    return true;
  }

  remove(messageId: string): void {
    for (const f of this.files())
      if (f.endsWith(`-${safeName(messageId)}.json`))
        try {
          unlinkSync(join(this.dir, f));
        } catch {
          // gone already
        }
  }

  get size(): number {
    return this.files().length;
  }
}
