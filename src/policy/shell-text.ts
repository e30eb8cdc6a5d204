// What the policy reads from the source text beside unbash's tree: a word's value after quote removal,
// and the checks that the parser read a command as bash would. unbash is tolerant: for some input bash
// refuses it returns a tree without an error (found by test/unit/policy-bash.test.ts, which compares
// with bash itself); these checks make such a command a problem, so it is never allowed. Pure.
import type { Command as UnbashCommand, Word } from "unbash";

/**
 * What may follow a simple command: an operator, a newline, the end of a group or substitution, or a
 * comment. Anything else (`aa(`: unbash 6.0.5 ends the command there without an error, where bash
 * refuses it) means the parser read something other than what bash would.
 */
export const ENDS_COMMAND: ReadonlySet<string> = new Set([";", "&", "|", "\n", ")", "`", "#"]);

/** An unescaped `$` that starts an expansion, or a backquote. */
const EXPANSION_IN_TEXT = /(?:^|[^\\])(?:\\\\)*(?:\$[[({'"\w@*#?$!-]|`)/;

/** A heredoc delimiter the policy trusts the parser with: plain characters, whole quotes, escapes. */
export const HEREDOC_DELIMITER = /^(?:[\w.@%+:,=/-]|'[^']*'|"[^"`$\\]*"|\\[^\n])+$/;

/**
 * Text inside a simple command that none of its words, assignments or redirections covers, other than
 * blanks and line continuations: something the parser passed over (unbash 6.0.5 reads `aa(=` as `aa =`,
 * with no error, where bash refuses it). Such a command is not understood.
 */
export function skippedText(n: UnbashCommand, source: string): string | undefined {
  // Prefix, name and suffix are in source order. (Loops, not a closure: this runs for every command.)
  let at = n.pos;
  for (const list of [n.prefix, n.name ? [n.name] : NO_TOKENS, n.suffix]) {
    for (const t of list) {
      if (skipBlanks(source, at) < t.pos) return source.slice(at, t.pos).trim();
      if (t.end > at) at = t.end;
    }
  }
  return skipBlanks(source, at) < n.end ? source.slice(at, n.end).trim() : undefined;
}

const NO_TOKENS: readonly { pos: number; end: number }[] = [];

/** The index of the first character at or after `i` that is not a blank or a line continuation. */
export function skipBlanks(source: string, i: number): number {
  for (;;) {
    const c = source[i];
    if (c === " " || c === "\t") i++;
    else if (c === "\\" && source[i + 1] === "\n") i += 2;
    else return i;
  }
}

/** Whether unquoted text holds an unescaped `(` or `)`. */
export function hasParenthesis(text: string): boolean {
  return (text.includes("(") || text.includes(")")) && /(?:^|[^\\])(?:\\\\)*[()]/.test(text);
}

/** Whether text taken as plain holds an unescaped expansion or backquote (looked for only when it has `$` or a backquote). */
export function mayExpand(text: string): boolean {
  return (text.includes("$") || text.includes("`")) && EXPANSION_IN_TEXT.test(text);
}

export function isInteger(w: Word): boolean {
  return /^-?\d+$/.test(w.text);
}

/** The value of a word after quote removal, or null when the shell would compute it. */
export function literal(w: Word): string | null {
  // An unquoted leading ~ is the home folder (of the user named after it).
  if (w.text.startsWith("~")) return null;
  // Without parts the word is literal text, its escapes already removed by the parser.
  if (!w.parts) return w.value;
  let value = "";
  for (const p of w.parts) {
    switch (p.type) {
      case "Literal":
      case "SingleQuoted":
        value += p.value;
        break;
      case "DoubleQuoted":
        for (const c of p.parts) {
          if (c.type !== "Literal") return null;
          value += c.value;
        }
        break;
      case "AnsiCQuoted":
        // $'…' with escapes (\x41, \u…, \c…): not trusted to decode as bash would.
        if (p.text.includes("\\")) return null;
        value += p.value;
        break;
      default:
        return null; // expansions, substitutions, globs, braces, locale strings
    }
  }
  return value;
}
