/**
 * Stops a command's process group when the process that supervises it dies without stopping it,
 * SIGKILL included (no handler runs then, so `killAllRunning` cannot).
 *
 * Why this design: Linux's PR_SET_PDEATHSIG is not reachable from Node, works only for direct children
 * (and is reset by the shell's exec of setuid programs), and does not exist on macOS. What every POSIX
 * system does guarantee is that a dead process's file descriptors are closed by the kernel. So a tiny
 * watchdog, `/bin/sh` blocked in `read` on a pipe whose only writer is the supervisor, learns of the
 * supervisor's death as end-of-file, however it died, and then signals the group: SIGTERM, up to 2 s to
 * exit, then SIGKILL. When the command ends normally the supervisor writes `release` and the watchdog
 * exits without signalling anything (so a later process that reuses the group id is never touched).
 *
 * The watchdog runs in its own session and process group (`detached`), so Ctrl+C in the supervisor's
 * terminal and the signals `stop()` sends to the command's group do not reach it; it holds no pipe of
 * the command, and the supervisor does not wait for it (unref). It costs one `sh` process per command.
 * The pipe's write end is close-on-exec (libuv opens pipes with O_CLOEXEC), so no other child inherits
 * it and keeps the watchdog waiting.
 */
import { spawn, type ChildProcess } from "node:child_process";

// `kill -TERM "-PGID"` (no `--`): dash's kill takes a negative pid after the signal but refuses `--`.
const SCRIPT = [
  "IFS= read -r line",
  '[ "$line" = release ] && exit 0',
  'kill -TERM "-$1" 2>/dev/null || exit 0',
  "i=0",
  'while [ "$i" -lt 20 ] && kill -0 "-$1" 2>/dev/null; do sleep 0.1 2>/dev/null || sleep 1; i=$((i + 1)); done',
  'kill -KILL "-$1" 2>/dev/null',
  "exit 0",
].join("\n");

export interface GroupWatchdog {
  /** The watchdog's pid (for tests); undefined if it could not be started. */
  readonly pid: number | undefined;
  /** The command ended under supervision: the watchdog exits and signals nothing. */
  release(): void;
}

/** Starts a watchdog for process group `pgid` that fires when this process dies. Best effort: never throws. */
export function watchGroup(pgid: number, sh = "/bin/sh"): GroupWatchdog {
  let child: ChildProcess;
  try {
    child = spawn(sh, ["-c", SCRIPT, "switchboard-watchdog", String(pgid)], { detached: true, stdio: ["pipe", "ignore", "ignore"] });
  } catch {
    return { pid: undefined, release: () => {} };
  }
  child.on("error", () => {}); // no /bin/sh: the command just runs without the guard
  child.stdin!.on("error", () => {}); // EPIPE if the watchdog is already gone
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  let released = false;
  return {
    pid: child.pid,
    release: () => {
      if (released) return;
      released = true;
      child.stdin!.end("release\n");
    },
  };
}
