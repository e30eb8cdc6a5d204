// Rules that ship with Switchboard, judged by the same engine as everyone's.
//  - GUARDS are always on: options that make a commonly allowed program write files or run other
//    programs are `ask`, so that `git log *` never allows `git log --output=x`.
//  - READ_ONLY is `switchboard.approvals.autoApproveEnv`: read-only programs, allowed when the user turns
//    it on. Pipes, redirections, substitutions and wrappers are judged per simple command as always.
import type { Rule } from "../protocol/policy.js";

const ask = (id: string, command: string): Rule => ({ id: `builtin:${id}`, decision: "ask", command });
const allow = (id: string, command: string): Rule => ({ id: `builtin:read-only:${id}`, decision: "allow", command });

export const GUARDS: Rule[] = [
  ask("git-output", "git * --output* *"),
  ask("git-output-o", "git * -o *"),
  ask("git-ext-diff", "git * --ext-diff *"),
  ask("git-config", "git -c *"),
  ask("git-config-env", "git --config-env* *"),
  ask("git-exec-path", "git --exec-path* *"),
  ask("git-open-files", "git grep * -O* *"),
  ask("git-open-files-long", "git grep * --open-files-in-pager* *"),
  ask("find-delete", "find * -delete *"),
  ask("find-fprint", "find * -fprint* *"),
  ask("find-fls", "find * -fls *"),
  ask("sort-output", "sort * -o* *"),
  ask("sort-output-long", "sort * --output* *"),
  ask("sort-compress", "sort * --compress-program* *"),
  ask("rg-pre", "rg * --pre* *"),
  ask("sed-in-place", "sed * -i* *"),
  ask("sed-in-place-long", "sed * --in-place* *"),
  ask("tree-output", "tree * -o *"),
  ask("file-compile", "file * -C *"),
  ask("date-set", "date * -s *"),
  ask("date-set-long", "date * --set* *"),
  ask("npm-exec", "npm exec *"),
  ask("npx", "npx *"),
];

const READ_ONLY_PROGRAMS = [
  "ls",
  "pwd",
  "cat",
  "head",
  "tail",
  "wc",
  "stat",
  "file",
  "which",
  "echo",
  "printf",
  "basename",
  "dirname",
  "realpath",
  "readlink",
  "du",
  "df",
  "whoami",
  "printenv",
  "uname",
  "nl",
  "cut",
  "grep",
  "egrep",
  "fgrep",
  "rg",
  "find",
  "sort",
  "uniq",
  "tr",
  "tree",
  "diff",
  "cmp",
  "true",
  "false",
  "date",
  "id",
  "hostname",
  "test",
  "[",
  "jq",
  "sha256sum",
  "md5sum",
];
const READ_ONLY_GIT = ["status", "diff", "log", "show", "rev-parse", "ls-files", "blame", "describe", "shortlog", "grep"];

export const READ_ONLY: Rule[] = [
  ...READ_ONLY_PROGRAMS.flatMap((p) => {
    const id = p === "[" ? "test-bracket" : p;
    return [allow(id, p), allow(`${id}-args`, `${p} *`)];
  }),
  ...READ_ONLY_GIT.map((s) => allow(`git-${s}`, `git ${s} *`)),
  allow("git-branch", "git branch"),
  allow("git-branch-show-current", "git branch --show-current"),
  allow("git-remote", "git remote"),
  allow("git-remote-v", "git remote -v"),
  allow("uniq-option", "uniq -*"),
  // `uniq IN OUT` writes OUT and `hostname NAME` renames the machine: only their plain forms.
].filter((r) => r.id !== "builtin:read-only:uniq-args" && r.id !== "builtin:read-only:hostname-args");
