/**
 * Choosing the shell that runs a command (pure: no I/O; the caller passes the file test).
 *
 * Order:
 *   1. `override` (ExecOptions.shell), if given                        -> `<override> -lc CMD`
 *      (if it is not executable the result is null: no silent fallback from an explicit choice)
 *   2. `$SHELL` from the command's environment, if it is an absolute path
 *      to an executable and not a "no login" placeholder (nologin, false) -> `$SHELL -lc CMD`
 *   3. bash: each `$PATH` directory, then /bin/bash, /usr/bin/bash        -> `bash -lc CMD`
 *   4. sh: /bin/sh, then each `$PATH` directory                           -> `sh -c CMD`
 * If nothing is executable the result is `null` and the caller reports "no usable shell".
 *
 * Steps 1-3 run a login shell (`-l`), like a terminal would, so the user's profile (PATH
 * additions, nvm, pyenv...) applies. Note that a login shell also reads /etc/profile, which on
 * Debian *resets* PATH; the profile of the user is what puts their tools back.
 * `login: false` replaces `-lc` with `-c` everywhere.
 */

export interface ShellChoice {
  /** absolute path of the shell executable */
  file: string;
  /** arguments that come before the command string: ["-lc"] or ["-c"] */
  args: string[];
  /** why this shell was chosen */
  source: "option" | "SHELL" | "bash" | "sh";
}

/** Shells that exist only to refuse logins; running a command through them always fails. */
const PLACEHOLDER_SHELLS = new Set(["nologin", "false"]);

function baseName(path: string): string {
  const i = path.lastIndexOf("/");
  return i >= 0 ? path.slice(i + 1) : path;
}

function usable(path: string | undefined, isExecutable: (path: string) => boolean): path is string {
  if (!path?.startsWith("/")) return false;
  if (PLACEHOLDER_SHELLS.has(baseName(path))) return false;
  return isExecutable(path);
}

function pathDirs(env: { PATH?: string | undefined }): string[] {
  return (env.PATH ?? "").split(":").filter((d) => d.startsWith("/"));
}

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/**
 * Picks the shell for `execCommand`. `env` is the environment the command will run with;
 * `isExecutable(path)` says whether `path` is an executable regular file.
 */
export function resolveShell(
  env: { SHELL?: string | undefined; PATH?: string | undefined },
  isExecutable: (path: string) => boolean,
  options: { override?: string | undefined; login?: boolean | undefined } = {},
): ShellChoice | null {
  const loginArgs = options.login === false ? ["-c"] : ["-lc"];
  if (options.override !== undefined) {
    // An explicit choice is never silently replaced: the caller reports the bad path instead.
    return usable(options.override, isExecutable) ? { file: options.override, args: loginArgs, source: "option" } : null;
  }
  if (usable(env.SHELL, isExecutable)) return { file: env.SHELL, args: loginArgs, source: "SHELL" };
  const bashCandidates = [...pathDirs(env).map((d) => join(d, "bash")), "/bin/bash", "/usr/bin/bash"];
  for (const file of bashCandidates) if (isExecutable(file)) return { file, args: loginArgs, source: "bash" };
  const shCandidates = ["/bin/sh", ...pathDirs(env).map((d) => join(d, "sh"))];
  for (const file of shCandidates) if (isExecutable(file)) return { file, args: ["-c"], source: "sh" };
  return null;
}

/** Quotes one argument for a POSIX shell, only when it needs it. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
