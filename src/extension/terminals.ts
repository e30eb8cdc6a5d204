// One VS Code terminal per output stream: a Pseudoterminal that replays the stream from the start,
// then follows it live. stdout as is, stderr in red, a header with the command and a footer with how
// it ended. Ctrl+C (or closing the terminal while it runs) stops the command, unless the agent runs it
// itself (`cancellable: false`): then Ctrl+C says so and closing the terminal leaves it running.
import * as vscode from "vscode";
import { followStream, type Following } from "../client/index.js";
import type { DiscoveryRecord, StreamView } from "../protocol/index.js";
import { log } from "./log.js";
import { terminalFooter, terminalHeader, terminalName, terminalNotice, toPty } from "./terminal-format.js";
import { DEFAULT_FG, DIM, NORMAL, RED } from "./ansi.js";

export { describeEnd, terminalName, toPty } from "./terminal-format.js";

const FLUSH_MS = 16;
/** The tail of what a terminal showed, kept for Copy Output and for tests. */
const TRANSCRIPT_CHARS = 64 * 1024;
const FLUSH_BYTES = 256 * 1024;

export class StreamTerminal implements vscode.Pseudoterminal {
  private readonly writes = new vscode.EventEmitter<string>();
  readonly onDidWrite = this.writes.event;
  private readonly closes = new vscode.EventEmitter<number | undefined>();
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
  ) {}

  open(): void {
    const s = this.stream;
    // The broker copies who approved the request into the stream (`rule <id> (<where>)` when a rule did).
    this.write(terminalHeader(s, s.decided_by ?? null));
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
    if (data.includes("\x03") && !this.ended && this.stream.cancellable === false) {
      this.write(terminalNotice("Ctrl+C cannot stop this command: the agent runs it itself and this is a copy of its output; stop it in the agent"));
      return;
    }
    if (data.includes("\x03") && !this.ended) {
      this.write(`${DIM}^C stopping…${NORMAL}\r\n`);
      void this.stop("stopped with Ctrl+C").catch((e: Error) => this.write(terminalNotice(`could not stop: ${e.message}`)));
    }
  }

  /**
   * VS Code closed the terminal: the person did, or the window is closing or reloading. Only the
   * first stops the command; Terminals tells them apart by the terminal's exit reason (closedByUser).
   */
  close(): void {
    this.following?.close();
    this.flush();
    clearTimeout(this.timer);
  }

  /** The person closed the terminal of a running command: "I don't want this", so stop it. */
  closedByUser(): void {
    if (!this.ended && this.stream.cancellable !== false) void this.stop("stopped by closing its terminal").catch(() => {});
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

/** workspaceState key: the streams whose terminal is open in this window, and whether only those are. */
const OPEN_KEY = "switchboard.streamTerminals";
interface Remembered {
  streams: string[];
  /** Every terminal in the window was a stream terminal (so a shell VS Code opens at start-up is not the user's). */
  onlyOurs: boolean;
}

/**
 * Stream terminals of this window. They are Pseudoterminals, which VS Code cannot restore after a
 * window reload, so the window remembers which were open (workspaceState) and reopens them, replayed
 * from the start (then live, for a stream that still runs). VS Code also opens a fresh default shell at start-up
 * when its terminal panel was visible but nothing was restored: if the panel held only stream
 * terminals, that shell is not the user's, and it is closed as soon as they are back.
 */
export class Terminals implements vscode.Disposable {
  private readonly open = new Map<string, vscode.Terminal>();
  private readonly ptys = new Map<string, StreamTerminal>();
  private readonly seen = new Set<string>();
  private readonly subscriptions: vscode.Disposable[];
  /** What was remembered before this activation; consumed by the first reopen(). */
  private previous: Remembered | undefined;
  /** Terminals VS Code opened before this window's stream terminals were back (start-up shells). */
  private readonly startupTerminals = new Set<vscode.Terminal>();
  private reopened = false;
  /** Until when (ms) a blank shell that opens is taken for VS Code's start-up shell; 0: not at all. */
  private closeStartupShellUntil = 0;

  constructor(
    private readonly record: () => DiscoveryRecord | undefined,
    private readonly stop: (streamId: string, reason: string) => Promise<unknown>,
    private readonly memory?: vscode.Memento,
  ) {
    this.previous = memory?.get<Remembered>(OPEN_KEY);
    for (const t of vscode.window.terminals) this.startupTerminals.add(t);
    this.subscriptions = [
      vscode.window.onDidOpenTerminal((t) => {
        if (!this.reopened) this.startupTerminals.add(t);
        // VS Code's terminal view may initialise (and open its shell) only after the stream terminals
        // are back, when the machine is busy: still the start-up shell, if it comes soon after.
        else if (this.closeStartupShellUntil > Date.now() && isBlankShell(t)) this.closeStartupShell(t);
        this.remember();
      }),
      vscode.window.onDidCloseTerminal((t) => {
        this.startupTerminals.delete(t);
        for (const [id, term] of this.open) {
          if (term !== t) continue;
          // A window reload closes every terminal too (reason Shutdown); the command must go on then.
          if (t.exitStatus?.reason === vscode.TerminalExitReason.User) this.ptys.get(id)?.closedByUser();
          this.open.delete(id);
          this.ptys.delete(id);
        }
        // Terminals closed by the window closing or reloading are the ones to bring back: keep the record.
        if (t.exitStatus?.reason !== vscode.TerminalExitReason.Shutdown) this.remember();
      }),
    ];
  }

  /**
   * After activation, once the broker's streams are known: reopens (once) the terminals this window
   * had open, for the streams the broker still lists, then closes a start-up shell that replaced them.
   */
  reopen(streams: readonly StreamView[]): void {
    if (this.reopened) return;
    this.reopened = true;
    const before = this.previous;
    this.previous = undefined;
    if (!before?.streams.length) return this.remember();
    // Those the broker still lists: running ones replay and go on live; ended ones replay to their footer.
    const back = before.streams.map((id) => streams.find((s) => s.stream_id === id)).filter((s): s is StreamView => !!s);
    for (const s of back) this.show(s, false);
    log().info(`reopened ${back.length} stream terminal(s) after a reload`);
    if (back.length && before.onlyOurs) {
      const last = this.open.get(back.at(-1)!.stream_id);
      const shells = [...this.startupTerminals].filter(isBlankShell);
      for (const t of shells) this.closeStartupShell(t);
      if (!shells.length) this.closeStartupShellUntil = Date.now() + STARTUP_SHELL_WINDOW_MS;
      last?.show(true);
    }
    this.startupTerminals.clear();
    this.remember();
  }

  private closeStartupShell(t: vscode.Terminal): void {
    this.closeStartupShellUntil = 0; // there is one start-up shell at most
    log().info(`closing the shell VS Code opened at start-up in place of the stream terminals ("${t.name}")`);
    t.dispose();
  }

  private remember(): void {
    if (!this.memory || !this.reopened) return; // keep the previous record until it was used
    const ours = new Set(this.open.values());
    const value: Remembered = { streams: [...this.open.keys()], onlyOurs: vscode.window.terminals.every((t) => ours.has(t)) };
    log().info(`stream terminals to reopen after a reload: ${JSON.stringify(value)}`);
    void this.memory.update(OPEN_KEY, value);
  }

  /** Opens (or shows) the terminal of a stream; a terminal opened late replays from the start. */
  show(stream: StreamView, reveal: boolean): vscode.Terminal {
    this.seen.add(stream.stream_id);
    let term = this.open.get(stream.stream_id);
    if (!term) {
      const pty = new StreamTerminal(stream, this.record, (reason) => this.stop(stream.stream_id, reason));
      term = vscode.window.createTerminal({
        name: terminalName(stream),
        pty,
        iconPath: new vscode.ThemeIcon(stream.action === "env" ? "eye" : "terminal"),
        isTransient: true,
      });
      this.open.set(stream.stream_id, term);
      this.ptys.set(stream.stream_id, pty);
      log().info(`terminal for ${stream.stream_id} (${stream.command})`);
      this.remember();
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
    for (const s of this.subscriptions) s.dispose();
  }
}

/**
 * How long after the stream terminals are back a blank shell is still taken for VS Code's start-up
 * shell (its terminal view opens it when it initialises, which a busy machine can delay). Only in a
 * window whose panel held nothing but stream terminals before the reload.
 */
const STARTUP_SHELL_WINDOW_MS = 10_000;

/** A shell VS Code opened with no options that nobody has typed into. */
function isBlankShell(t: vscode.Terminal): boolean {
  const o = t.creationOptions as vscode.TerminalOptions;
  return !("pty" in o) && !o.name && !o.shellPath && !o.shellArgs && !t.state.isInteractedWith && t.exitStatus === undefined;
}
