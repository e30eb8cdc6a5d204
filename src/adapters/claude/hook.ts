// `switchboard hook claude` (also dist/claude-hook.js): the command Claude Code runs for each hook
// event. It reads the event on stdin, hands it to the session's companion (starting one when there is
// none: SessionStart, or a companion that died) and prints the companion's answer on stdout.
//
// Fail closed: for PreToolUse, anything that goes wrong (no companion, no broker, a crash, a timeout)
// prints `permissionDecision: "deny"` with a sentence saying why and how to fix it, unless
// SWITCHBOARD_CLAUDE_OFFLINE=allow. A broken hook never allows silently, and never answers `ask`.
// Other events never block Claude: on failure they print nothing and say why on stderr.
//
// Kept small (no broker client in here): it runs when claude-hook.sh cannot hand an event to the
// companion itself (no companion yet, another event, no bash or curl).
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { request } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stateHome } from "../../platform/paths.js";
import { pidAlive } from "../../platform/process.js";
import { approvalTimeoutMs, type ClaudeHookEvent, type HookAnswer, type HookCall } from "./protocol.js";
import { ensureSessionDir, readCompanion, sessionDir, validSessionId, type CompanionRecord } from "./session-files.js";

export const OFFLINE_VAR = "SWITCHBOARD_CLAUDE_OFFLINE";
/** Claude Code's default hook timeout, used when the settings entry does not say. */
export const DEFAULT_HOOK_TIMEOUT_S = 600;
const COMPANION_START_MS = 8000;

export interface HookOptions {
  home?: string | undefined;
  /** The `timeout` of the hook's settings entry, in seconds. */
  hookTimeoutS?: number | undefined;
  env?: NodeJS.ProcessEnv;
  /** dist/claude-companion.js; default beside this bundle. */
  companionEntry?: string;
}

export interface HookResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** Routed messages in `stdout`, to confirm to the companion once printed. */
  confirm?: { rec: CompanionRecord; ids: string[] };
}

function offlinePolicy(env: NodeJS.ProcessEnv): "allow" | "block" {
  return (env[OFFLINE_VAR] ?? "").trim().toLowerCase() === "allow" ? "allow" : "block";
}

function preToolUse(decision: "allow" | "deny", reason: string): string {
  return JSON.stringify({ hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: decision, permissionDecisionReason: reason } });
}

/** The pid of the `claude` process: Claude Code names it to its hooks; else the first ancestor that is not a shell. */
export function claudePid(env: NodeJS.ProcessEnv): number {
  const named = Number(env.CLAUDE_PID);
  if (Number.isInteger(named) && named > 1) return named;
  let pid = process.ppid;
  for (let i = 0; i < 4 && pid > 1; i++) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    } catch {
      return pid;
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    if (!/^(sh|bash|dash|zsh|ksh|fish|env|timeout)$/.test(comm)) return pid;
    pid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  }
  return pid;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The live companion of this session, started if there is none. */
async function ensureCompanion(home: string, event: ClaudeHookEvent, env: NodeJS.ProcessEnv, entry: string): Promise<CompanionRecord> {
  const sid = event.session_id;
  const live = (r: CompanionRecord | undefined) => (r && pidAlive(r.pid) ? r : undefined);
  const found = live(readCompanion(home, sid));
  if (found) return found;
  ensureSessionDir(home, sid);
  const lock = join(sessionDir(home, sid), "start.lock");
  const deadline = Date.now() + COMPANION_START_MS;
  while (Date.now() < deadline) {
    let fd: number | undefined;
    try {
      fd = openSync(lock, "wx", 0o600);
    } catch {
      // Another hook is starting it; a lock whose owner died is stale.
      let owner = 0;
      try {
        owner = Number(readFileSync(lock, "utf8").trim() || "0");
      } catch {
        owner = 0; // released meanwhile: try again
      }
      if (owner && !pidAlive(owner)) {
        try {
          unlinkSync(lock);
        } catch {
          // someone else removed it
        }
      }
      await sleep(20);
      const r = live(readCompanion(home, sid));
      if (r) return r;
      continue;
    }
    try {
      writeSync(fd, String(process.pid));
      closeSync(fd);
      const again = live(readCompanion(home, sid));
      if (again) return again;
      const log = openSync(join(sessionDir(home, sid), "companion.log"), "a", 0o600);
      const args = [
        entry,
        "--session",
        sid,
        "--claude-pid",
        String(claudePid(env)),
        "--home",
        home,
        "--cwd",
        typeof event.cwd === "string" && event.cwd ? event.cwd : process.cwd(),
      ];
      const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", log, log], env: { ...env, SWITCHBOARD_HOME: home }, cwd: sessionDir(home, sid) });
      child.unref();
      closeSync(log);
      while (Date.now() < deadline) {
        const r = readCompanion(home, sid);
        if (r && r.pid === child.pid) return r;
        if (child.exitCode !== null) throw new Error(`the session companion exited at start (code ${child.exitCode}); see ${join(sessionDir(home, sid), "companion.log")}`);
        await sleep(10);
      }
      throw new Error(`the session companion did not start within ${COMPANION_START_MS / 1000} s; see ${join(sessionDir(home, sid), "companion.log")}`);
    } finally {
      try {
        unlinkSync(lock);
      } catch {
        // gone
      }
    }
  }
  throw new Error(`another hook held the companion start lock for ${COMPANION_START_MS / 1000} s`);
}

function post(rec: CompanionRecord, path: string, body: unknown): Promise<HookAnswer> {
  return new Promise<HookAnswer>((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = request(
      {
        host: "127.0.0.1",
        port: rec.port,
        path,
        method: "POST",
        headers: { authorization: `Bearer ${rec.token}`, "content-type": "application/json", "content-length": data.length },
        agent: false,
      },
      (res) => {
        let raw = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (raw += c));
        res.on("end", () => {
          if (res.statusCode !== 200) return reject(new Error(`the session companion answered ${res.statusCode}: ${raw.slice(0, 300)}`));
          try {
            resolve(JSON.parse(raw) as HookAnswer);
          } catch {
            reject(new Error("the session companion answered something that is not JSON"));
          }
        });
        res.on("error", reject);
      },
    );
    req.on("error", (e) => reject(new Error(`the session companion cannot be reached (${e.message})`)));
    req.end(data);
  });
}

/** Handles one hook call: `input` is what Claude wrote on stdin. Never throws. */
export async function runHook(input: string, opts: HookOptions = {}): Promise<HookResult> {
  const env = opts.env ?? process.env;
  const offline = offlinePolicy(env);
  let event: ClaudeHookEvent | undefined;
  try {
    event = JSON.parse(input) as ClaudeHookEvent;
  } catch {
    event = undefined;
  }
  const name = event && typeof event.hook_event_name === "string" ? event.hook_event_name : /"hook_event_name"\s*:\s*"PreToolUse"/.test(input) ? "PreToolUse" : "";
  const gate = name === "PreToolUse";
  const fail = (why: string): HookResult => {
    if (!gate) return { stdout: "", stderr: `Switchboard: ${why}\n`, exitCode: 0 };
    if (offline === "allow")
      return { stdout: preToolUse("allow", `Switchboard is not reviewing this call (${why}); running it because ${OFFLINE_VAR}=allow.`), stderr: "", exitCode: 0 };
    return {
      stdout: preToolUse(
        "deny",
        `Not run: Switchboard must approve this call but ${why}. Start the broker (VS Code with Agent Switchboard, or \`switchboard broker\`) and check \`switchboard install claude\`; or set ${OFFLINE_VAR}=allow to run Claude Code's tools unreviewed.`,
      ),
      stderr: "",
      exitCode: 0,
    };
  };
  if (!event || typeof event !== "object") return fail("the hook got input that is not a Claude Code hook event");
  if (!validSessionId(event.session_id)) return fail("the hook event has no valid session_id");
  const home = opts.home ?? stateHome(env);
  const hookTimeoutMs = (opts.hookTimeoutS ?? DEFAULT_HOOK_TIMEOUT_S) * 1000;
  const entry = opts.companionEntry ?? join(dirname(fileURLToPath(import.meta.url)), "claude-companion.js");
  try {
    let rec: CompanionRecord | undefined;
    // Nothing to end or publish without a companion: never start one for these.
    if (name === "SessionEnd" || name === "PostToolUse" || name === "PostToolUseFailure") {
      rec = readCompanion(home, event.session_id);
      if (!rec || !pidAlive(rec.pid)) return { stdout: "", stderr: "", exitCode: 0 };
    } else rec = await ensureCompanion(home, event, env, entry);
    const call: HookCall = { event, offline, approvalTimeoutMs: approvalTimeoutMs(hookTimeoutMs / 1000) };
    // Claude kills a hook at its timeout; answer (deny) a little before that instead.
    const answer = await Promise.race([
      post(rec, "/hook", call),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no decision came before the hook's timeout")), Math.max(500, hookTimeoutMs - 5000)).unref()),
    ]);
    const stdout = answer.stdout ? JSON.stringify(answer.stdout) : "";
    if (gate && !stdout) return fail("the session companion gave no decision");
    return { stdout, stderr: "", exitCode: 0, ...(answer.confirm?.length ? { confirm: { rec, ids: answer.confirm } } : {}) };
  } catch (err) {
    return fail((err as Error)?.message ?? String(err));
  }
}

/**
 * Reads stdin, runs the hook, prints, confirms printed messages; resolves to the exit code, never
 * rejects. Should anything here still fail: 2 for PreToolUse (Claude Code denies, with stderr as the
 * reason), 1 otherwise (for other events 2 would feed stderr to Claude or block its Stop).
 */
export async function hookMain(opts: HookOptions = {}): Promise<number> {
  let input = "";
  try {
    input = readFileSync(0, "utf8");
  } catch {
    input = "";
  }
  try {
    const res = await runHook(input, opts);
    if (res.stdout) await new Promise<void>((r, reject) => process.stdout.write(res.stdout + "\n", (err) => (err ? reject(err) : r())));
    if (res.stderr) process.stderr.write(res.stderr);
    // Printed: only now may the companion forget the messages (killed before this, they come again).
    if (res.confirm) await post(res.confirm.rec, "/confirm", { ids: res.confirm.ids }).catch(() => {});
    return res.exitCode;
  } catch (err) {
    process.stderr.write(`Not run: Switchboard's hook failed (${(err as Error)?.message ?? String(err)}).\n`);
    return /"hook_event_name"\s*:\s*"PreToolUse"/.test(input) ? 2 : 1;
  }
}
