// What can keep a command from starting (a working directory that is not one, no usable shell, a
// failed spawn), each as an ExecError whose message says what to fix, and the handle such a command
// gets: no pid, and a `done` that rejects without crashing a host that never awaits it.
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import type { ShellChoice } from "./shell.js";
import { ExecError, type ExecHandle, type ExecResult } from "./types.js";

export function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function cwdProblem(cwd: string): ExecError | null {
  try {
    if (!statSync(cwd).isDirectory()) {
      return new ExecError("cwd_not_directory", `working directory ${cwd} is not a directory: pass a directory as cwd`);
    }
    accessSync(cwd, fsConstants.X_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      return new ExecError("cwd_missing", `working directory ${cwd} does not exist: create it or pass an existing cwd`);
    }
    return new ExecError("cwd_inaccessible", `working directory ${cwd} cannot be entered (${code ?? String(err)}): fix its permissions or pass another cwd`);
  }
}

export function spawnError(shellFile: string, command: string, err: Error): ExecError {
  const code = (err as NodeJS.ErrnoException).code;
  const hint =
    code === "E2BIG"
      ? `the command is too long (${Buffer.byteLength(command)} bytes): pass long input through a file or stdin`
      : code === "EACCES"
        ? `permission denied: make ${shellFile} executable or choose another shell`
        : code === "EAGAIN" || code === "EMFILE" || code === "ENFILE"
          ? "the system is out of processes or file descriptors: retry later"
          : "check the shell and the working directory";
  return new ExecError("spawn_failed", `could not start ${shellFile} (${err.message}): ${hint}`, { cause: err });
}

export function failedHandle(error: ExecError, shell: ShellChoice | null): ExecHandle {
  const done = Promise.reject<ExecResult>(error);
  done.catch(() => {}); // handled: a caller that ignores `done` must not crash the host
  return {
    pid: undefined,
    shell,
    done,
    bytes: { 1: 0, 2: 0 },
    paused: false,
    stop: () => done,
    resume: () => {},
    writeStdin: () => false,
    endStdin: () => {},
  };
}
