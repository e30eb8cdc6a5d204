// Rule patterns. A command pattern is words, matched exactly: a word `*` on its own matches any number
// of words (so a last `*` takes any further arguments), `*` inside a word matches within that word
// (`test:*`). Words the shell computes (`$x`, `$(…)`, globs) only match a lone `*`. Edit patterns are
// path globs relative to the workspace (picomatch: `**` crosses folders, `*` does not).
import picomatch from "picomatch";
import type { ShellWord } from "./shell.js";

/** A glob word's `prefix` is its literal start, before its first `*` (rules are indexed by it). */
type PatternWord = { kind: "any" } | { kind: "exact"; text: string } | { kind: "glob"; re: RegExp; text: string; prefix: string };

export interface CommandPattern {
  words: PatternWord[];
  /** the first word, when it is exact (rules are indexed by it) */
  head: string | null;
  /** the second word, when it is exact (and the first is): a finer index */
  second: string | null;
  /** no lone `*` but possibly a last one: matched word by word without backtracking */
  linear: boolean;
  /** it ends with a lone `*` */
  open: boolean;
}

/** Splits a pattern into words: blanks separate, '…' and "…" quote, `\*` is a literal star. */
export function compileCommandPattern(pattern: string): CommandPattern | string {
  const words: PatternWord[] = [];
  let text = "";
  let star = false;
  let prefix = ""; // the literal text before the word's first `*`
  let any = false; // the word has content (possibly empty quotes)
  const parts: string[] = []; // regex pieces of the current word
  const flush = () => {
    if (!any) return;
    if (star && text === "*" && parts.length === 1 && parts[0] === ".*") words.push({ kind: "any" });
    else if (star) words.push({ kind: "glob", re: new RegExp(`^${parts.join("")}$`, "s"), text, prefix });
    else words.push({ kind: "exact", text });
    text = "";
    star = false;
    any = false;
    parts.length = 0;
  };
  const lit = (s: string) => {
    text += s;
    parts.push(s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"));
    any = true;
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === " " || c === "\t" || c === "\n") flush();
    else if (c === "'" || c === '"') {
      const end = pattern.indexOf(c, i + 1);
      if (end < 0) return `the pattern has an unterminated ${c === "'" ? "single" : "double"} quote`;
      lit(pattern.slice(i + 1, end));
      any = true;
      i = end;
    } else if (c === "\\") {
      const next = pattern[i + 1];
      if (next === undefined) return "the pattern ends with a backslash";
      lit(next);
      i++;
    } else if (c === "*") {
      if (!star) prefix = text;
      text += "*";
      parts.push(".*");
      star = true;
      any = true;
    } else lit(c);
  }
  flush();
  if (words.length === 0) return "the pattern has no words";
  if (words[0]!.kind === "any") return "the pattern cannot start with `*` (it would match every command)";
  const first = words[0]!;
  const second = words[1];
  const open = words[words.length - 1]!.kind === "any";
  const linear = words.slice(0, -1).every((w) => w.kind !== "any");
  return {
    words,
    head: first.kind === "exact" ? first.text : null,
    second: first.kind === "exact" && second?.kind === "exact" ? second.text : null,
    linear,
    open,
  };
}

/** Whether one non-`*` pattern word matches one command word. */
function wordMatches(pw: PatternWord, w: ShellWord): boolean {
  if (w.value === null) return false;
  return pw.kind === "exact" ? w.value === pw.text : (pw as { re: RegExp }).re.test(w.value);
}

/**
 * Whether the command's words match the pattern. Each word other than a lone `*` matches exactly one
 * command word, so the classic wildcard walk applies: on a mismatch, let the last lone `*` seen take
 * one more word and retry from there. Linear in space, no allocation.
 */
export function matchCommand(pattern: CommandPattern, words: readonly ShellWord[]): boolean {
  const p = pattern.words;
  if (pattern.linear) {
    const fixed = pattern.open ? p.length - 1 : p.length;
    if (pattern.open ? words.length < fixed : words.length !== fixed) return false;
    for (let i = 0; i < fixed; i++) if (!wordMatches(p[i]!, words[i]!)) return false;
    return true;
  }
  let i = 0; // pattern position
  let j = 0; // word position
  let star = -1; // the last lone `*` seen
  let taken = 0; // where the words it takes end
  while (j < words.length) {
    const pw = p[i];
    if (pw !== undefined && pw.kind === "any") {
      star = i++;
      taken = j;
    } else if (pw !== undefined && wordMatches(pw, words[j]!)) {
      i++;
      j++;
    } else if (star >= 0) {
      i = star + 1;
      j = ++taken;
    } else return false;
  }
  while (i < p.length && p[i]!.kind === "any") i++;
  return i === p.length;
}

export type PathMatcher = (relPath: string) => boolean;

/** A glob relative to the workspace; refuses absolute patterns and `..`. */
export function compileEditPattern(glob: string): PathMatcher | string {
  if (glob.startsWith("/") || /^[A-Za-z]:[\\/]/.test(glob)) return "an edit pattern is relative to the workspace, not an absolute path";
  if (glob.split("/").includes("..")) return "an edit pattern cannot leave the workspace with `..`";
  const clean = glob.replace(/^\.\//, "");
  return picomatch(clean, { dot: true });
}
