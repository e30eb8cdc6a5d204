// Classifies a shell command as read-only (asked as `env`) or not (asked as `sh`). Pure, and
// deliberately conservative: anything it does not fully understand is `sh`. A wrong `sh` costs the
// reviewer one look; a wrong `env` could let a reviewer (or an auto-approve setting) wave through a
// side effect.
//
// Read-only means: one simple command, or a pipeline whose first stage is a read-only program and whose
// later stages are read-only filters; bare program names from an allowlist, with arguments checked per
// program; quoting understood (single, double, backslash). Rejected outright (unquoted): `;` `&` `|`
// other than a plain pipe, `>` `<` (redirections, here-docs, process substitution), `` ` `` and `$`
// (substitution and expansion, also inside double quotes), `(` `)` `{` `}` (subshells, groups, brace
// expansion), `#`, `!`, newlines, leading `NAME=value` assignments, unterminated quotes, programs given
// by path.

export interface Classification {
  readOnly: boolean;
  /** One sentence for the reviewer: why it is (not) read-only. */
  reason: string;
}

interface Word {
  /** the word after quote removal */
  value: string;
  /** it had an unquoted glob character (* ? [) */
  glob: boolean;
  /** it was quoted or escaped somewhere (so `a=b` in it is not an assignment) */
  quoted: boolean;
}

type Token = { kind: "word"; word: Word } | { kind: "pipe" };

const REJECT_UNQUOTED: Record<string, string> = {
  ";": "`;`",
  "&": "`&` (background or `&&`)",
  ">": "a redirection (`>`)",
  "<": "a redirection or here-doc (`<`)",
  "`": "command substitution (`` ` ``)",
  $: "an expansion or substitution (`$`)",
  "(": "a subshell or process substitution (`(`)",
  ")": "a subshell (`)`)",
  "{": "a group or brace expansion (`{`)",
  "}": "a group or brace expansion (`}`)",
  "!": "`!`",
  "\n": "a newline (several commands)",
  "\r": "a carriage return",
};

class Reject extends Error {}

/** Splits a command line into words and plain pipes; throws Reject for anything else. */
export function tokenize(command: string): Token[] {
  const tokens: Token[] = [];
  let cur: Word | undefined;
  const word = () => (cur ??= { value: "", glob: false, quoted: false });
  const flush = () => {
    if (cur) tokens.push({ kind: "word", word: cur });
    cur = undefined;
  };
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === " " || c === "\t") {
      flush();
    } else if (c === "|") {
      if (command[i + 1] === "|") throw new Reject("contains `||`");
      if (command[i + 1] === "&") throw new Reject("contains `|&`");
      flush();
      tokens.push({ kind: "pipe" });
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new Reject("has an unterminated single quote");
      const w = word();
      w.value += command.slice(i + 1, end);
      w.quoted = true;
      i = end;
    } else if (c === '"') {
      const w = word();
      w.quoted = true;
      let j = i + 1;
      for (; j < command.length && command[j] !== '"'; j++) {
        const d = command[j]!;
        if (d === "$") throw new Reject("has an expansion or substitution (`$`) inside double quotes");
        if (d === "`") throw new Reject("has command substitution (`` ` ``) inside double quotes");
        if (d === "\\") {
          const next = command[j + 1];
          if (next === undefined) break;
          if (next === "\n") throw new Reject("has a line continuation");
          // Inside double quotes a backslash only escapes $ ` " \ and newline.
          if (next === "$" || next === "`" || next === '"' || next === "\\") {
            w.value += next;
            j++;
            continue;
          }
        }
        if (d === "\n" || d === "\r") throw new Reject("has a newline inside quotes");
        w.value += d;
      }
      if (j >= command.length) throw new Reject("has an unterminated double quote");
      i = j;
    } else if (c === "\\") {
      const next = command[i + 1];
      if (next === undefined) throw new Reject("ends with a backslash");
      if (next === "\n" || next === "\r") throw new Reject("has a line continuation");
      const w = word();
      w.value += next;
      w.quoted = true;
      i++;
    } else if (c in REJECT_UNQUOTED) {
      throw new Reject(`contains ${REJECT_UNQUOTED[c]}`);
    } else if (c === "#" && !cur) {
      throw new Reject("contains a comment (`#`)");
    } else {
      const w = word();
      if (c === "*" || c === "?" || c === "[") w.glob = true;
      w.value += c;
    }
  }
  flush();
  return tokens;
}

// ---- programs ------------------------------------------------------------------------------------

type Check = (args: Word[]) => string | undefined;

/** Options that make a program write, execute something, or otherwise leave read-only ground. */
function forbidOptions(program: string, forbidden: string[], opts: { shortLetters?: string } = {}): Check {
  return (args) => {
    for (const a of args) {
      const v = a.value;
      for (const f of forbidden) {
        if (v === f || (f.startsWith("--") && v.startsWith(f + "="))) return `\`${program} ${f}\` is not read-only`;
      }
      // Clustered short options such as `-no` or `-ofile`.
      if (opts.shortLetters && /^-[A-Za-z]/.test(v) && !v.startsWith("--")) {
        for (const letter of opts.shortLetters) if (v.slice(1).includes(letter)) return `\`${program} -${letter}\` is not read-only`;
      }
    }
    return undefined;
  };
}

const noGlobs =
  (program: string): Check =>
  (args) =>
    args.some((a) => a.glob) ? `\`${program}\` with an unquoted wildcard could receive options from file names` : undefined;

const all =
  (...checks: Check[]): Check =>
  (args) => {
    for (const c of checks) {
      const r = c(args);
      if (r) return r;
    }
    return undefined;
  };

const ok: Check = () => undefined;

/** Read-only programs that may start a command. */
const PROGRAMS: Record<string, Check> = {
  ls: ok,
  pwd: ok,
  cat: ok,
  head: ok,
  tail: ok,
  wc: ok,
  stat: ok,
  file: forbidOptions("file", ["-C", "--compile"]),
  which: ok,
  echo: ok,
  basename: ok,
  dirname: ok,
  realpath: ok,
  readlink: ok,
  du: ok,
  df: ok,
  whoami: ok,
  printenv: ok,
  uname: ok,
  nl: ok,
  cut: ok,
  tree: all(forbidOptions("tree", ["-o", "--fromfile"]), noGlobs("tree")),
  grep: ok,
  egrep: ok,
  fgrep: ok,
  // --pre runs a program on every file searched.
  rg: all(forbidOptions("rg", ["--pre", "--pre-glob"]), noGlobs("rg")),
  find: all(forbidOptions("find", ["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"]), noGlobs("find")),
  sort: all(forbidOptions("sort", ["-o", "--output", "--compress-program"], { shortLetters: "o" }), noGlobs("sort")),
  uniq: (args) => (args.filter((a) => !a.value.startsWith("-")).length > 1 ? "`uniq` with two file names writes the second" : undefined),
  tr: ok,
  git: (args) => checkGit(args),
};

/** Programs allowed after a `|`: filters that only read their input. */
const FILTERS = new Set(["grep", "egrep", "fgrep", "rg", "head", "tail", "wc", "sort", "uniq", "cut", "tr", "nl", "cat"]);

// ---- git -----------------------------------------------------------------------------------------

const GIT_READ_ONLY = new Set(["status", "diff", "log", "show", "branch", "rev-parse", "ls-files", "blame", "describe", "shortlog", "remote", "tag", "grep"]);
const BRANCH_LIST_FLAGS =
  /^(-a|-r|-v|-vv|-l|--list|--all|--remotes|--verbose|--show-current|--merged|--no-merged|--contains|--no-contains|--points-at|--sort(=.*)?|--format(=.*)?|--color(=.*)?|--no-color|--column(=.*)?|--no-column|--abbrev(=.*)?|--no-abbrev|-i|--ignore-case)$/;

function checkGit(args: Word[]): string | undefined {
  let i = 0;
  // Global options: only harmless ones. `-c` could set a pager or an alias that runs anything.
  for (; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === "--no-pager" || v === "--no-optional-locks" || v === "--literal-pathspecs") continue;
    if (v === "-C") {
      i++;
      if (i >= args.length) return "`git -C` needs a directory";
      continue;
    }
    if (v.startsWith("-")) return `the git option \`${v}\` is not known to be read-only`;
    break;
  }
  const sub = args[i]?.value;
  if (!sub) return "`git` without a subcommand";
  if (!GIT_READ_ONLY.has(sub)) return `\`git ${sub}\` is not read-only`;
  const rest = args.slice(i + 1);
  if (rest.some((a) => a.glob)) return `\`git ${sub}\` with an unquoted wildcard could receive options from file names`;
  for (const a of rest) {
    const v = a.value;
    if (v === "--output" || v.startsWith("--output=")) return `\`git ${sub} ${v}\` writes a file`;
    if (v === "--ext-diff") return `\`git ${sub} --ext-diff\` runs another program`;
    if (sub === "grep" && (v.startsWith("-O") || v.startsWith("--open-files-in-pager"))) return `\`git grep ${v}\` runs another program`;
  }
  if (sub === "branch") {
    const flags = rest.filter((a) => a.value.startsWith("-"));
    const bad = flags.find((a) => !BRANCH_LIST_FLAGS.test(a.value));
    if (bad) return `\`git branch ${bad.value}\` changes branches`;
    const listing = flags.some((a) => a.value === "-l" || a.value === "--list");
    const positional = rest.filter((a) => !a.value.startsWith("-"));
    const takesValue = flags.some((a) => /^--(contains|no-contains|merged|no-merged|points-at)$/.test(a.value));
    if (positional.length > (takesValue ? 1 : 0) && !listing) return "`git branch NAME` creates a branch";
  }
  if (sub === "remote") {
    if (rest.some((a) => a.value !== "-v" && a.value !== "--verbose")) return "only `git remote` and `git remote -v` are read-only";
  }
  if (sub === "tag") {
    const listing = rest.length === 0 || rest.some((a) => a.value === "-l" || a.value === "--list");
    const writes = rest.some((a) => /^(-d|--delete|-a|--annotate|-s|--sign|-f|--force|-m|--message|-F|--file|-u|--local-user|-e|--edit)(=.*)?$/.test(a.value));
    if (!listing || writes) return "only listing tags (`git tag`, `git tag -l`) is read-only";
  }
  return undefined;
}

// ---- the classifier ------------------------------------------------------------------------------

export function classifyCommand(command: string): Classification {
  const text = command.trim();
  if (!text) return { readOnly: false, reason: "The command is empty." };
  let tokens: Token[];
  try {
    tokens = tokenize(text);
  } catch (err) {
    if (err instanceof Reject) return { readOnly: false, reason: `Not read-only: the command ${err.message}.` };
    throw err;
  }
  const stages: Word[][] = [[]];
  for (const t of tokens) {
    if (t.kind === "pipe") stages.push([]);
    else stages[stages.length - 1]!.push(t.word);
  }
  if (stages.some((s) => s.length === 0)) return { readOnly: false, reason: "Not read-only: the pipeline has an empty stage." };
  const names: string[] = [];
  for (const [index, stage] of stages.entries()) {
    const [first, ...args] = stage as [Word, ...Word[]];
    const program = first.value;
    if (!first.quoted && /^[A-Za-z_][A-Za-z0-9_]*=/.test(program)) return { readOnly: false, reason: "Not read-only: it sets an environment variable." };
    if (first.glob) return { readOnly: false, reason: "Not read-only: the program name has a wildcard." };
    if (program.includes("/")) return { readOnly: false, reason: `Not read-only: \`${program}\` is a program given by path.` };
    if (index > 0 && !FILTERS.has(program)) return { readOnly: false, reason: `Not read-only: it pipes into \`${program}\`, which is not a read-only filter.` };
    const check = PROGRAMS[program];
    if (!check) return { readOnly: false, reason: `Not read-only: \`${program}\` is not a known read-only program.` };
    const problem = check(args);
    if (problem) return { readOnly: false, reason: `Not read-only: ${problem}.` };
    names.push(program === "git" ? `git ${gitSubcommand(args) ?? ""}`.trim() : program);
  }
  return { readOnly: true, reason: `Read-only: ${names.map((n) => `\`${n}\``).join(" | ")}.` };
}

function gitSubcommand(args: Word[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === "-C") i++;
    else if (!v.startsWith("-")) return v;
  }
  return undefined;
}
