// The client side of ACP's `terminal/*` and `fs/*`, for agents that ask the editor to run commands
// and touch files (none of the four npm agents does today, but the protocol lets any agent).
//
// - terminal/create runs the command with src/exec (own process group, stdout and stderr apart, exit
//   code and signal) and streams it to the broker on channels 1 and 2. It needs an approval: the one
//   the reviewer just gave for this same command through session/request_permission, or a new one.
//   terminal/output answers the output as one text in arrival order (what ACP wants), trimmed from
//   the start past outputByteLimit.
// - fs/read_text_file reads (line/limit in lines); fs/write_text_file writes only what the reviewer
//   approved: an approved edit permission for that path with that exact content, or a new `edit`
//   approval with the diff.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import type {
  CreateTerminalRequest,
  CreateTerminalResponse,
  KillTerminalRequest,
  ReadTextFileRequest,
  ReadTextFileResponse,
  ReleaseTerminalRequest,
  TerminalOutputRequest,
  TerminalOutputResponse,
  ToolCallUpdate,
  WaitForTerminalExitRequest,
  WaitForTerminalExitResponse,
  WriteTextFileRequest,
} from "@agentclientprotocol/sdk";
import { RequestError } from "@agentclientprotocol/sdk";
import type { StreamWriter } from "../../client/stream-writer.js";
import { execCommand, shellQuote, type ExecHandle } from "../../exec/index.js";
import type { StreamStartRequest } from "../../protocol/index.js";
import { classifyCommand } from "../shared/classify.js";
import { readExisting, writeRequest } from "../shared/requests.js";
import { diffsOf, type AcpGateRequest, type Verdict } from "./permission.js";

export interface ClientOpsDeps {
  cwd: string;
  ask(req: AcpGateRequest, key: string, signal: AbortSignal, created?: (approvalId: string) => void): Promise<Verdict>;
  /** A terminal runs the command of this approval: its tool call gets no stream of its own. */
  terminalFor(approvalId: string): void;
  startStream(req: Omit<StreamStartRequest, "endpoint_id">): Promise<StreamWriter>;
  log(msg: string): void;
  note(msg: string): void;
}

interface Term {
  id: string;
  handle: ExecHandle;
  output: string;
  truncated: boolean;
  limit: number | undefined;
  exit: { exitCode: number | null; signal: string | null } | undefined;
  done: Promise<void>;
  writer: Promise<StreamWriter | undefined>;
  streamId: string | undefined;
}

const DEFAULT_OUTPUT_LIMIT = 1024 * 1024;
/** How long an approved command may wait for the agent's terminal/create. */
const GRANT_TTL_MS = 60_000;

export class ClientOps {
  private readonly terms = new Map<string, Term>();
  private nextId = 1;
  /** Edits the reviewer approved through session/request_permission: path → approved new text. */
  private readonly approvedWrites = new Map<string, string>();
  /** Commands the reviewer approved through session/request_permission, each usable once by terminal/create. */
  private grants: { command: string; approvalId: string; at: number }[] = [];

  constructor(private readonly deps: ClientOpsDeps) {}

  /** An edit permission was approved: its diffs' new texts may be written without asking again. */
  editApproved(call: ToolCallUpdate): void {
    for (const d of diffsOf(call)) this.approvedWrites.set(this.abs(d.path), d.newText);
    // Edits the agent then made itself are never written through here: keep only the latest few.
    while (this.approvedWrites.size > 100) this.approvedWrites.delete(this.approvedWrites.keys().next().value!);
  }

  /** An execute permission was approved: a terminal/create for the same command runs under it. */
  executeApproved(command: string, approvalId: string): void {
    const now = Date.now();
    this.grants = this.grants.filter((g) => now - g.at < GRANT_TTL_MS).slice(-20);
    this.grants.push({ command, approvalId, at: now });
  }

  /** The approval a terminal/create may run under: the same command, given as is or as `sh -c COMMAND`. */
  private takeGrant(p: CreateTerminalRequest, quoted: string): string | undefined {
    const args = p.args ?? [];
    const forms = new Set([quoted, p.command]);
    if (args.length === 2 && /(^|\/)(ba|z|da|k)?sh$/.test(p.command) && /^-l?c$/.test(args[0]!)) forms.add(args[1]!);
    if (args.length) forms.delete(p.command);
    const now = Date.now();
    const i = this.grants.findIndex((g) => now - g.at < GRANT_TTL_MS && forms.has(g.command));
    if (i < 0) return undefined;
    return this.grants.splice(i, 1)[0]!.approvalId;
  }

  private abs(path: string): string {
    return isAbsolute(path) ? path : resolve(this.deps.cwd, path);
  }

  // ---- fs ----------------------------------------------------------------------------------------

  async readTextFile(p: ReadTextFileRequest): Promise<ReadTextFileResponse> {
    let text: string;
    try {
      text = await readFile(this.abs(p.path), "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw RequestError.resourceNotFound(p.path);
      throw RequestError.internalError(undefined, `Cannot read ${p.path}: ${code ?? (err as Error).message}`);
    }
    if (p.line == null && p.limit == null) return { content: text };
    const lines = text.split("\n");
    const start = Math.max(0, (p.line ?? 1) - 1);
    const end = p.limit == null ? lines.length : start + Math.max(0, p.limit);
    return { content: lines.slice(start, end).join("\n") };
  }

  async writeTextFile(p: WriteTextFileRequest, signal: AbortSignal): Promise<Record<string, never>> {
    const abs = this.abs(p.path);
    const granted = this.approvedWrites.get(abs);
    if (granted !== p.content) {
      const req = writeRequest(abs, p.content, this.deps.cwd, await readExisting(abs));
      const verdict = await this.deps.ask(req, `fs-write-${abs}-${Date.now()}`, signal);
      if (verdict.decision !== "approve")
        throw RequestError.internalError(undefined, verdict.decision === "reject" ? (verdict.reason ?? "Rejected in Switchboard.") : "The approval was withdrawn.");
    }
    this.approvedWrites.delete(abs);
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, p.content);
    return {};
  }

  // ---- terminals -----------------------------------------------------------------------------------

  async createTerminal(p: CreateTerminalRequest): Promise<CreateTerminalResponse> {
    const command = p.args?.length ? [p.command, ...p.args].map(shellQuote).join(" ") : p.command;
    const cwd = p.cwd ? this.abs(p.cwd) : this.deps.cwd;
    const c = classifyCommand(command);
    const action = c.readOnly ? "env" : "sh";
    let approvalId = this.takeGrant(p, command);
    if (approvalId) this.deps.terminalFor(approvalId);
    else {
      const abort = new AbortController();
      const verdict = await this.deps.ask(
        { action, summary: command.slice(0, 300) || "(empty command)", command, cwd, detail: `${c.reason}\nThe agent asked the editor to run this (terminal/create).` },
        `term-${this.nextId}-${Date.now()}`,
        abort.signal,
        (id) => (approvalId = id),
      );
      if (verdict.decision !== "approve")
        throw RequestError.internalError(undefined, verdict.decision === "reject" ? (verdict.reason ?? "Rejected in Switchboard.") : "The approval was withdrawn.");
    }
    const env = { ...process.env };
    for (const e of p.env ?? []) env[e.name] = e.value;
    const id = `term_${this.nextId++}`;
    const limit = p.outputByteLimit ?? DEFAULT_OUTPUT_LIMIT;
    let term!: Term;
    const writer = this.deps.startStream({ action, command, cwd, ...(approvalId ? { approval_id: approvalId } : {}) }).catch((err: Error) => {
      this.deps.log(`no stream for ${command}: ${err.message}`);
      return undefined;
    });
    const handle = execCommand({
      command,
      cwd,
      env,
      login: false,
      onOutput: (channel, text) => {
        term.output += text;
        if (Buffer.byteLength(term.output) > limit) {
          term.truncated = true;
          const buf = Buffer.from(term.output);
          // Trim from the start, at a character boundary.
          let cut = buf.length - limit;
          while (cut < buf.length && (buf[cut]! & 0xc0) === 0x80) cut++;
          term.output = buf.subarray(cut).toString("utf8");
        }
        void writer.then((w) => w?.write(channel, text));
        return true;
      },
    });
    const done = handle.done.then(
      async (r) => {
        term.exit = { exitCode: r.exit_code, signal: r.signal };
        const w = await writer;
        await w?.complete({ exit_code: r.exit_code, signal: r.signal, duration_ms: Math.round(r.duration_ms) }).catch(() => {});
      },
      async (err: Error) => {
        term.exit = { exitCode: null, signal: null };
        term.output += `\n${err.message}\n`;
        const w = await writer;
        await w?.abort(`could not start: ${err.message}`).catch(() => {});
      },
    );
    term = { id, handle, output: "", truncated: false, limit, exit: undefined, done, writer, streamId: undefined };
    void writer.then((w) => (term.streamId = w?.streamId));
    this.terms.set(id, term);
    return { terminalId: id };
  }

  private term(id: string): Term {
    const t = this.terms.get(id);
    if (!t) throw RequestError.resourceNotFound(id);
    return t;
  }

  terminalOutput(p: TerminalOutputRequest): TerminalOutputResponse {
    const t = this.term(p.terminalId);
    return { output: t.output, truncated: t.truncated, ...(t.exit ? { exitStatus: t.exit } : {}) };
  }

  async waitForExit(p: WaitForTerminalExitRequest, signal: AbortSignal): Promise<WaitForTerminalExitResponse> {
    const t = this.term(p.terminalId);
    await Promise.race([t.done, new Promise((r) => signal.addEventListener("abort", r, { once: true }))]);
    return t.exit ?? { exitCode: null, signal: null };
  }

  async killTerminal(p: KillTerminalRequest): Promise<Record<string, never>> {
    const t = this.term(p.terminalId);
    if (!t.exit) await t.handle.stop("killed by the agent (terminal/kill)").catch(() => {});
    return {};
  }

  async releaseTerminal(p: ReleaseTerminalRequest): Promise<Record<string, never>> {
    const t = this.term(p.terminalId);
    if (!t.exit) await t.handle.stop("released by the agent").catch(() => {});
    this.terms.delete(p.terminalId);
    return {};
  }

  /** A viewer cancelled a stream in VS Code: stop its command. True if it was one of ours. */
  cancelStream(streamId: string, reason: string): boolean {
    for (const t of this.terms.values())
      if (t.streamId === streamId) {
        void t.handle.stop(`cancelled from Switchboard: ${reason}`).catch(() => {});
        return true;
      }
    return false;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.terms.values()].map((t) => (t.exit ? undefined : t.handle.stop("the agent session ended"))));
    this.terms.clear();
  }
}
