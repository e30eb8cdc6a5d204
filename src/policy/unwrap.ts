// Looks through what only changes how a command runs to the command that really runs: leading
// assignments, `env`, `command`, `builtin`, `exec`, `nice`, `timeout`, `nohup`, `time`, `stdbuf`,
// `xargs`, and the commands `find -exec/-execdir/-ok/-okdir` runs. `bash -c STRING`, `sh -c …`,
// `eval …` and `trap ACTION SIGNAL` hand back their script, to be parsed in turn. Pure.
import type { ShellWord } from "./shell.js";

/** Variables that change which program runs or how a shell or tool behaves. */
const DANGEROUS_EXACT = new Set([
  "PATH",
  "BASH_ENV",
  "ENV",
  "IFS",
  "CDPATH",
  "SHELLOPTS",
  "BASHOPTS",
  "PS4",
  "PROMPT_COMMAND",
  "HOME",
  "SHELL",
  "EDITOR",
  "VISUAL",
  "PAGER",
  "MANPAGER",
  "LESSOPEN",
  "LESSCLOSE",
  "BROWSER",
  "SSH_ASKPASS",
  "SUDO_ASKPASS",
  "NODE_OPTIONS",
  "NODE_PATH",
  "PYTHONPATH",
  "PYTHONSTARTUP",
  "PYTHONHOME",
  "PERL5LIB",
  "PERL5OPT",
  "PERLLIB",
  "RUBYOPT",
  "RUBYLIB",
  "JAVA_TOOL_OPTIONS",
  "_JAVA_OPTIONS",
  "CLASSPATH",
  "GOFLAGS",
  "RUSTC_WRAPPER",
  "CARGO_BUILD_RUSTC_WRAPPER",
  "MAKEFLAGS",
  "CC",
  "CXX",
  "TMPDIR",
  "XDG_CONFIG_HOME",
  "ZDOTDIR",
]);
const DANGEROUS_PREFIXES = ["LD_", "DYLD_", "GIT_", "BASH_FUNC_", "NPM_CONFIG_", "npm_config_", "PIP_", "YARN_", "BUN_"];

export function isDangerousVariable(name: string): boolean {
  return DANGEROUS_EXACT.has(name) || DANGEROUS_PREFIXES.some((p) => name.startsWith(p));
}

export const SHELLS = new Set(["bash", "sh", "dash", "zsh", "ksh", "mksh", "ash", "busybox-sh"]);

export interface Run {
  /** the words of the command that really runs */
  words: ShellWord[];
  /** the wrappers looked through, outermost first (`env`, `timeout`, `find -exec`…) */
  via: string[];
  /** variables set for it that change what runs or how */
  dangerous: string[];
  /** a wrapper's command name or option the policy cannot follow */
  problems: string[];
  /** `eval …` or `bash -c …`: it only runs a script, which is judged on its own */
  carrier?: boolean;
}

export interface Unwrapped {
  runs: Run[];
  /** `bash -c` and `eval` scripts, to be parsed and judged in turn */
  scripts: { source: string; via: string }[];
}

const W = (value: string): ShellWord => ({ raw: value, value });
/** A word the command receives at run time (from xargs's input, find's `{}`). */
const RUNTIME: ShellWord = { raw: "{…}", value: null };

export function unwrap(words: ShellWord[], assignments: { name: string }[]): Unwrapped {
  const out: Unwrapped = { runs: [], scripts: [] };
  const dangerous = assignments.map((a) => a.name).filter(isDangerousVariable);
  step(words, [], dangerous, [], out, 0);
  return out;
}

function done(out: Unwrapped, words: ShellWord[], via: string[], dangerous: string[], problems: string[], extra?: string[]): void {
  out.runs.push({ words, via, dangerous, problems: extra?.length ? [...problems, ...extra] : problems });
}

/** Goes on with the command a wrapper runs (`inner`); a wrapper alone (`env`, `nice`) is judged as itself. */
function next(
  out: Unwrapped,
  words: ShellWord[],
  inner: ShellWord[],
  label: string,
  via: string[],
  dangerous: string[],
  problems: string[],
  depth: number,
  extraDangerous?: string[],
): void {
  if (inner.length === 0) return done(out, words, via, dangerous, problems);
  step(inner, [...via, label], extraDangerous?.length ? [...dangerous, ...extraDangerous] : dangerous, problems, out, depth + 1);
}

function step(words: ShellWord[], via: string[], dangerous: string[], problems: string[], out: Unwrapped, depth: number): void {
  if (depth > 20) return done(out, words, via, dangerous, problems, ["too many nested wrappers"]);
  const name = words[0]?.value;
  if (words.length === 0 || name === null || name === undefined) return done(out, words, via, dangerous, problems);
  const rest = words.slice(1);
  switch (name) {
    case "env": {
      const vars: string[] = [];
      const bad: string[] = [];
      let i = 0;
      for (; i < rest.length; i++) {
        const v = rest[i]!.value;
        if (v === null) {
          bad.push("`env` with an argument the shell computes");
          break;
        }
        if (v === "--") {
          i++;
          break;
        }
        if (v === "-i" || v === "-" || v === "--ignore-environment" || v === "-0" || v === "--null" || v === "-v" || v === "--debug") continue;
        if (v === "-u" || v === "-C" || v === "--unset" || v === "--chdir") {
          i++;
          continue;
        }
        if (/^(-u.|-C.|--unset=|--chdir=)/.test(v)) continue;
        if (/^(-S|--split-string)/.test(v) || v.startsWith("-")) {
          bad.push(`\`env ${v}\` is not followed by the policy`);
          break;
        }
        break;
      }
      for (; i < rest.length; i++) {
        const v = rest[i]!.value;
        const m = v === null ? null : /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(v);
        if (!m) break;
        vars.push(m[1]!);
      }
      if (bad.length) return done(out, words, via, dangerous, problems, bad);
      return next(out, words, rest.slice(i), "env", via, dangerous, problems, depth, vars.filter(isDangerousVariable));
    }
    case "command": {
      let i = 0;
      while (rest[i]?.value === "-p") i++;
      if (rest[i]?.value?.startsWith("-")) return done(out, words, via, dangerous, problems); // command -v / -V only look up
      return next(out, words, rest.slice(i), "command", via, dangerous, problems, depth);
    }
    case "builtin":
    case "nohup":
      return next(out, words, rest[0]?.value === "--" ? rest.slice(1) : rest, name, via, dangerous, problems, depth);
    case "exec": {
      let i = 0;
      for (; i < rest.length; i++) {
        const v = rest[i]!.value;
        if (v === "-c" || v === "-l" || v === "-cl" || v === "-lc") continue;
        if (v === "-a") {
          i++;
          continue;
        }
        if (v === "--") {
          i++;
        }
        break;
      }
      return next(out, words, rest.slice(i), "exec", via, dangerous, problems, depth);
    }
    case "time": {
      let i = 0;
      while (rest[i]?.value === "-p" || rest[i]?.value === "--") i++;
      return next(out, words, rest.slice(i), "time", via, dangerous, problems, depth);
    }
    case "nice":
      return next(out, words, skipOptions(rest, NICE_WITH_VALUE, NICE_ALONE), "nice", via, dangerous, problems, depth);
    case "stdbuf":
      return next(out, words, skipOptions(rest, STDBUF_WITH_VALUE, STDBUF_ALONE), "stdbuf", via, dangerous, problems, depth);
    case "timeout": {
      const after = skipOptions(rest, TIMEOUT_WITH_VALUE, TIMEOUT_ALONE);
      return next(out, words, after.slice(1), "timeout", via, dangerous, problems, depth); // the first word left is the duration
    }
    case "xargs":
      return xargs(rest, via, dangerous, problems, out, depth);
    case "find":
      return find(words, via, dangerous, problems, out, depth);
    case "eval": {
      if (rest.some((w) => w.value === null)) return done(out, words, via, dangerous, problems, ["`eval` of words the shell computes"]);
      out.scripts.push({ source: rest.map((w) => w.value).join(" "), via: [...via, "eval"].join(" › ") });
      return void out.runs.push({ words, via, dangerous, problems, carrier: true });
    }
    case "trap": {
      // trap [--] ACTION SIGNAL…: ACTION is a script run later, judged now like eval's.
      const i = rest[0]?.value === "--" ? 1 : 0;
      const action = rest[i];
      if (!action || (i === 0 && action.value?.startsWith("-")) || rest.length === i + 1) return done(out, words, via, dangerous, problems); // trap -p, trap - INT, trap INT
      if (action.value === null) return done(out, words, via, dangerous, problems, ["`trap` with an action the shell computes"]);
      out.scripts.push({ source: action.value, via: [...via, "trap"].join(" › ") });
      return void out.runs.push({ words, via, dangerous, problems, carrier: true });
    }
  }
  if (SHELLS.has(name)) {
    // bash [options] -c SCRIPT [name [args…]]; options may be grouped (-ec, -lc).
    for (let i = 0; i < rest.length; i++) {
      const v = rest[i]!.value;
      if (v === null) return done(out, words, via, dangerous, problems, [`\`${name}\` with an option the shell computes`]);
      if (v === "-o" || v === "+o" || v === "-O" || v === "+O" || v === "--rcfile" || v === "--init-file") {
        i++;
        continue;
      }
      if (/^-[a-zA-Z]*c[a-zA-Z]*$/.test(v)) {
        const script = rest[i + 1];
        if (!script) return done(out, words, via, dangerous, problems, [`\`${name} -c\` without a script`]);
        if (script.value === null) return done(out, words, via, dangerous, problems, [`\`${name} -c\` with a script the shell computes`]);
        out.scripts.push({ source: script.value, via: [...via, `${name} -c`].join(" › ") });
        return void out.runs.push({ words, via, dangerous, problems, carrier: true });
      }
      if (v.startsWith("-") || v.startsWith("+")) continue;
      break; // `bash script.sh`: judged as itself
    }
  }
  return done(out, words, via, dangerous, problems);
}

const NICE_WITH_VALUE = new Set(["-n", "--adjustment"]);
const NICE_ALONE = /^(-n.+|-\d+|--adjustment=.*)$/;
const STDBUF_WITH_VALUE = new Set(["-i", "-o", "-e", "--input", "--output", "--error"]);
const STDBUF_ALONE = /^(-[ioe].+|--(input|output|error)=.*)$/;
const TIMEOUT_WITH_VALUE = new Set(["-s", "--signal", "-k", "--kill-after"]);
const TIMEOUT_ALONE = /^(-s.+|-k.+|--signal=.*|--kill-after=.*|--preserve-status|--foreground|-v|--verbose)$/;

/** Skips leading options (those in `withValue` take the next word as their value). */
function skipOptions(words: ShellWord[], withValue: Set<string>, alone: RegExp): ShellWord[] {
  let i = 0;
  for (; i < words.length; i++) {
    const v = words[i]!.value;
    if (v === null) break;
    if (v === "--") return words.slice(i + 1);
    if (withValue.has(v)) {
      i++;
      continue;
    }
    if (alone.test(v)) continue;
    break;
  }
  return words.slice(i);
}

const XARGS_WITH_VALUE = new Set([
  "-I",
  "-L",
  "-n",
  "-P",
  "-s",
  "-d",
  "-E",
  "-a",
  "--arg-file",
  "--delimiter",
  "--max-args",
  "--max-lines",
  "--max-procs",
  "--max-chars",
  "--eof",
  "--replace",
  "--process-slot-var",
]);

function xargs(rest: ShellWord[], via: string[], dangerous: string[], problems: string[], out: Unwrapped, depth: number): void {
  let replace: string | null = null;
  let i = 0;
  for (; i < rest.length; i++) {
    const v = rest[i]!.value;
    if (v === null) {
      out.runs.push({ words: [W("xargs"), ...rest], via, dangerous, problems: [...problems, "`xargs` with an option the shell computes"] });
      return;
    }
    if (v === "--") {
      i++;
      break;
    }
    if (!v.startsWith("-")) break;
    if (v === "-I" || v === "--replace") replace = rest[i + 1]?.value ?? "{}";
    else if (v.startsWith("-I")) replace = v.slice(2);
    else if (v.startsWith("--replace=")) replace = v.slice(10);
    else if (v === "-i") replace = "{}";
    if (XARGS_WITH_VALUE.has(v)) i++;
  }
  let inner = rest.slice(i);
  if (inner.length === 0) inner = [W("echo")];
  // The words read from standard input are not known: they replace the -I string, or are appended.
  const r = replace;
  inner = r !== null ? inner.map((w) => (w.value?.includes(r) ? RUNTIME : w)) : [...inner, RUNTIME];
  if (inner[0] === RUNTIME) {
    out.runs.push({ words: inner, via: [...via, "xargs"], dangerous, problems: [...problems, "`xargs` runs a command named by its input"] });
    return;
  }
  step(inner, [...via, "xargs"], dangerous, problems, out, depth + 1);
}

const FIND_EXEC = new Set(["-exec", "-execdir", "-ok", "-okdir"]);

/** `find … -exec CMD … ;` runs CMD for each file: find itself is judged without the -exec parts. */
function find(words: ShellWord[], via: string[], dangerous: string[], problems: string[], out: Unwrapped, depth: number): void {
  const own: ShellWord[] = [];
  const extra: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w.value === null && i > 0) {
      extra.push("`find` with an argument the shell computes (it could be `-exec` or `-delete`)");
      own.push(w);
      continue;
    }
    if (w.value !== null && FIND_EXEC.has(w.value)) {
      const inner: ShellWord[] = [];
      let j = i + 1;
      for (; j < words.length; j++) {
        const v = words[j]!.value;
        if (v === ";" || (v === "+" && words[j - 1]?.value?.includes("{}"))) break;
        inner.push(v?.includes("{}") ? RUNTIME : words[j]!);
      }
      if (j >= words.length) extra.push(`\`find ${w.value}\` without its closing \`;\` or \`+\``);
      if (inner.length === 0 || inner[0] === RUNTIME) extra.push(`\`find ${w.value}\` runs a command the policy cannot name`);
      else step(inner, [...via, `find ${w.value}`], dangerous, problems, out, depth + 1);
      i = j;
      continue;
    }
    own.push(w);
  }
  out.runs.push({ words: own, via, dangerous, problems: [...problems, ...extra] });
}
