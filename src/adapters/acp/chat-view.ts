// The terminal side of `switchboard acp`: what the agent says and does, as readable lines. Every piece
// of agent text goes through the shared visibleText (line breaks kept) or visibleLine, so it cannot
// drive the terminal.
import type { PlanEntry, SessionUpdate, ToolCallUpdate } from "@agentclientprotocol/sdk";
import { visibleLine, visibleText } from "../../protocol/visible-text.js";

/** Agent text for the chat: hidden characters made visible, line breaks and tabs kept. */
const visibleChatText = (text: string) => visibleText(text, { keepLines: true });

export interface ChatOutput {
  write(text: string): void;
  color: boolean;
}

const STATUS_MARK: Record<string, string> = { pending: "…", in_progress: "▶", completed: "✓", failed: "✗" };
const PLAN_MARK: Record<string, string> = { pending: "☐", in_progress: "▶", completed: "☑" };

export class ChatView {
  /** Inside an agent message (text without its final line break yet). */
  private inMessage = false;
  private inThought = false;
  private readonly toolStatus = new Map<string, string>();

  constructor(private readonly out: ChatOutput) {}

  private sgr(code: string, text: string): string {
    return this.out.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  private endBlock(): void {
    if (this.inMessage || this.inThought) this.out.write("\n");
    this.inMessage = false;
    this.inThought = false;
  }

  /** A line of ours (not the agent's), e.g. status and errors. */
  note(text: string, kind: "info" | "warn" | "error" = "info"): void {
    this.endBlock();
    const code = kind === "error" ? "31" : kind === "warn" ? "33" : "2";
    this.out.write(this.sgr(code, `[switchboard] ${text}`) + "\n");
  }

  prompt(origin: string, text: string): void {
    this.endBlock();
    this.out.write(this.sgr("1", `${origin}> `) + visibleChatText(text) + "\n");
  }

  update(u: SessionUpdate, merged?: ToolCallUpdate): void {
    switch (u.sessionUpdate) {
      case "agent_message_chunk":
        if (u.content.type !== "text" || !u.content.text) return;
        if (this.inThought) this.endBlock();
        this.inMessage = true;
        this.out.write(visibleChatText(u.content.text));
        return;
      case "agent_thought_chunk":
        if (u.content.type !== "text" || !u.content.text) return;
        if (this.inMessage) this.endBlock();
        this.inThought = true;
        this.out.write(this.sgr("2;3", visibleChatText(u.content.text)));
        return;
      case "tool_call":
      case "tool_call_update":
        return this.tool(merged ?? (u as ToolCallUpdate));
      case "plan":
        return this.plan(u.entries);
      default:
        return;
    }
  }

  private tool(call: ToolCallUpdate): void {
    const status = call.status ?? "pending";
    if (this.toolStatus.get(call.toolCallId) === status) return;
    this.toolStatus.set(call.toolCallId, status);
    if (status === "completed" || status === "failed") this.toolStatus.delete(call.toolCallId);
    this.endBlock();
    const mark = STATUS_MARK[status] ?? "·";
    const title = visibleLine(call.title ?? call.toolCallId);
    const color = status === "failed" ? "31" : status === "completed" ? "32" : "36";
    this.out.write(this.sgr(color, `${mark} ${call.kind ?? "tool"}: `) + title + this.sgr("2", ` (${status})`) + "\n");
  }

  private plan(entries: PlanEntry[]): void {
    this.endBlock();
    this.out.write(this.sgr("1", "plan:") + "\n");
    for (const e of entries) this.out.write(`  ${PLAN_MARK[e.status] ?? "·"} ${visibleLine(e.content)}\n`);
  }

  turnEnded(stopReason: string): void {
    this.endBlock();
    if (stopReason !== "end_turn") this.note(`turn ended: ${stopReason}`);
  }
}
