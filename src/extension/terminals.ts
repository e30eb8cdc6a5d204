// One VS Code terminal per output stream: a Pseudoterminal that replays the stream from the start,
// then follows it live. stdout as is, stderr in red, a header with the command and a footer with how
// it ended. Ctrl+C (or closing the terminal while it runs) stops the command.
import * as vscode from "vscode";
import { followStream, type Following } from "../client/index.js";
import type { DiscoveryRecord, StreamView } from "../protocol/index.js";
import { log } from "./log.js";
import { terminalFooter, terminalHeader, terminalName, terminalNotice, toPty } from "./terminal-format.js";

export { describeEnd, terminalName, toPty } from "./terminal-format.js";

const FLUSH_MS = 16;
/** The tail of what a terminal showed, kept for Copy Output and for tests. */
const TRANSCRIPT_CHARS = 64 * 1024;
const FLUSH_BYTES = 256 * 1024;
const RED = "\x1b[31m";
const DEFAULT_FG = "\x1b[39m";
const DIM = "\x1b[2m";
const NORMAL = "\x1b[22m";

export class StreamTerminal implements vscode.Pseudoterminal {
  private readonly writes = new vscode.EventEmitter<string>();
  readonly onDidWrite = this.writes.event;
  private readonly closes = new vscode.EventEmitter<number | void>();
  readonly onDidClose = this.closes.event;
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private following: Following | undefined;
  private ended = false;
  private recent = "";

  constructor(
    private readonly stream: StreamView,
    private readonly record: () => DiscoveryRecord | undefined,
    private readonly stop: (reason: string) => Promise<unknown>,
    private readonly decidedBy: string | null = null,
  ) {}

  open(): void {
    const s = this.stream;
    this.write(terminalHeader(s, this.decidedBy));
    const record = this.record();
    if (!record) {
      this.write(`${RED}Not connected to the broker; reconnect and open this terminal again.${DEFAULT_FG}\r\n`);
      return;
    }
    this.following = followStream(record, s.stream_id, {
      onChunk: (channel, data) => this.write(channel === 2 ? `${RED}${toPty(data)}${DEFAULT_FG}` : toPty(data)),
    });
    this.following.done.then(
      (end) => this.finish(end),
      (err: Error) => this.write(terminalNotice(err.message, { leadingNewline: true })),
    );
  }

  handleInput(data: string): void {
    if (data.includes("\x03") && !this.ended) {
      this.write(`${DIM}^C stopping…${NORMAL}\r\n`);
      void this.stop("Ctrl+C in the terminal").catch((e: Error) => this.write(terminalNotice(`could not stop: ${e.message}`)));
    }
  }

  close(): void {
    this.following?.close();
    // Closing the terminal of a running command means "I don't want this": stop it.
    if (!this.ended) void this.stop("its terminal was closed").catch(() => {});
    this.flush();
    clearTimeout(this.timer);
  }

  private finish(end: StreamView): void {
    this.ended = true;
    this.write(terminalFooter(end));
  }

  /** Pseudoterminal writes have no backpressure, so they are batched per frame. */
  private write(text: string): void {
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= FLUSH_BYTES) return this.flush();
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending.length) return;
    const text = this.pending.join("");
    this.pending = [];
    this.pendingBytes = 0;
    this.recent = (this.recent + text).slice(-TRANSCRIPT_CHARS);
    this.writes.fire(text);
  }

  /** The last 64 KiB written to the terminal, escape sequences included. */
  get transcript(): string {
    return (this.recent + this.pending.join("")).slice(-TRANSCRIPT_CHARS);
  }

  get isEnded(): boolean {
    return this.ended;
  }
}

export class Terminals implements vscode.Disposable {
  private readonly open = new Map<string, vscode.Terminal>();
  private readonly ptys = new Map<string, StreamTerminal>();
  private readonly seen = new Set<string>();
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly record: () => DiscoveryRecord | undefined,
    private readonly stop: (streamId: string, reason: string) => Promise<unknown>,
    private readonly decidedBy: (approvalId: string) => string | null = () => null,
  ) {
    this.subscription = vscode.window.onDidCloseTerminal((t) => {
      for (const [id, term] of this.open) if (term === t) (this.open.delete(id), this.ptys.delete(id));
    });
  }

  /** Opens (or shows) the terminal of a stream; a terminal opened late replays from the start. */
  show(stream: StreamView, reveal: boolean): vscode.Terminal {
    this.seen.add(stream.stream_id);
    let term = this.open.get(stream.stream_id);
    if (!term) {
      const pty = new StreamTerminal(stream, this.record, (reason) => this.stop(stream.stream_id, reason), stream.approval_id ? this.decidedBy(stream.approval_id) : null);
      term = vscode.window.createTerminal({
        name: terminalName(stream),
        pty,
        iconPath: new vscode.ThemeIcon(stream.action === "env" ? "eye" : "terminal"),
        isTransient: true,
      });
      this.open.set(stream.stream_id, term);
      this.ptys.set(stream.stream_id, pty);
      log().info(`terminal for ${stream.stream_id} (${stream.command})`);
    }
    if (reveal) term.show(true);
    return term;
  }

  /** Streams seen for the first time while running are opened per policy, if `relevant` says so. */
  autoOpen(streams: readonly StreamView[], policy: (s: StreamView) => "reveal" | "background" | "none"): void {
    for (const s of streams) {
      if (this.seen.has(s.stream_id)) continue;
      this.seen.add(s.stream_id);
      if (s.state !== "streaming") continue;
      const p = policy(s);
      if (p !== "none") this.show(s, p === "reveal");
    }
  }

  /** What the stream's terminal has shown so far (its last 64 KiB), if it is open. */
  transcript(streamId: string): { text: string; ended: boolean } | undefined {
    const pty = this.ptys.get(streamId);
    return pty && { text: pty.transcript, ended: pty.isEnded };
  }

  terminal(streamId: string): vscode.Terminal | undefined {
    return this.open.get(streamId);
  }

  dispose(): void {
    this.subscription.dispose();
  }
}
