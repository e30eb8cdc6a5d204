// From a bash syntax tree to the simple commands it would run. Pure (given a parser).
//
// Every `command` node anywhere in the tree becomes a SimpleCommand: in lists, pipelines, subshells,
// groups, if/while/for/case bodies, function bodies, command and process substitutions (also inside
// strings, heredoc bodies, redirection targets and ${…}). Words keep their literal value after quote
// removal, or null when the shell would compute them (expansions, substitutions, globs, braces, ~).
// Anything this module does not understand is a `problem`: the policy then never allows the whole.
// Wrappers, `eval` and `bash -c` are unwrapped later (unwrap.ts), because they work on word values.
import type { ShellParser } from "./parser.js";
import { parseToPlain, type SyntaxNode } from "./syntax.js";

export interface ShellWord {
  /** the source text */
  raw: string;
  /** the value after quote removal; null when the shell computes it (expansion, glob, brace, tilde…) */
  value: string | null;
}

export interface ShellRedirect {
  /** `>`, `>>`, `>|`, `&>`, `&>>`, `<>`, `>&`, `<`, `<&`, `<<`, `<<<`… */
  op: string;
  fd: string | null;
  target: ShellWord | null;
}

export interface SimpleCommand {
  /** source text, for explanations */
  text: string;
  assignments: { name: string; value: ShellWord | null }[];
  words: ShellWord[];
  redirects: ShellRedirect[];
  /** how it was reached: `$(…)`, `bash -c`, `find -exec`… (outermost first) */
  via: string[];
  /** a declaration (`export`, `declare`, `local`…) or `unset`: sets variables, runs nothing */
  declaration?: boolean;
}

export interface ShellAnalysis {
  commands: SimpleCommand[];
  /** Why the command is not fully understood (then it is never allowed). */
  problems: string[];
}

const MAX_DEPTH = 200;

/** Statement-level nodes whose children are statements or words we walk generically. */
const CONTAINERS = new Set([
  "program",
  "list",
  "pipeline",
  "subshell",
  "compound_statement",
  "do_group",
  "if_statement",
  "elif_clause",
  "else_clause",
  "while_statement",
  "for_statement",
  "case_statement",
  "case_item",
  "negated_command",
  "function_definition",
]);

/** Nodes that only hold words or text: searched for substitutions, nothing runs by themselves. */
const WORDISH = new Set([
  "word",
  "number",
  "string",
  "string_content",
  "raw_string",
  "ansi_c_string",
  "translated_string",
  "concatenation",
  "simple_expansion",
  "expansion",
  "variable_name",
  "special_variable_name",
  "heredoc_body",
  "heredoc_content",
  "heredoc_start",
  "heredoc_end",
  "file_descriptor",
  "comment",
  "command_name",
  "extglob_pattern",
  "regex",
  "array",
  "brace_expression",
]);

/** The node types whose children's field names the walker reads (childForFieldName, fieldNameForChild). */
const FIELD_PARENTS: ReadonlySet<string> = new Set([...CONTAINERS, "redirected_statement", "variable_assignment", "file_redirect", "heredoc_redirect", "herestring_redirect"]);

const ARITHMETIC = new Set(["arithmetic_expansion", "binary_expression", "unary_expression", "postfix_expression", "ternary_expression", "parenthesized_expression", "subscript"]);

/**
 * Recent analyses by source: the broker judges a request again when rules change and previews a
 * proposed rule over the last hundred requests. Analyses are never changed once made. An analysis is
 * kept only when its source comes a second time: keeping every first one made each survive the young
 * generation, and their promotion set the tail of the evaluation time (bench/policy.ts: p99 3.7 ms
 * against 1.9 ms, for a never-seen 2 KB command).
 */
const recent = new Map<string, ShellAnalysis>();
const seenOnce = new Set<string>();
const RECENT_MAX = 512;
const RECENT_MAX_SOURCE = 16 * 1024;

export function analyzeShell(parser: ShellParser, source: string, via: string[] = []): ShellAnalysis {
  const key = via.length ? `${via.join("\u0000")}\u0001${source}` : source;
  const hit = recent.get(key);
  if (hit) return hit;
  const out = analyzeUncached(parser, source, via);
  if (source.length <= RECENT_MAX_SOURCE) {
    if (seenOnce.delete(key)) {
      if (recent.size >= RECENT_MAX) recent.delete(recent.keys().next().value!);
      recent.set(key, out);
    } else {
      if (seenOnce.size >= RECENT_MAX) seenOnce.delete(seenOnce.values().next().value!);
      seenOnce.add(key);
    }
  }
  return out;
}

function analyzeUncached(parser: ShellParser, source: string, via: string[]): ShellAnalysis {
  const out: ShellAnalysis = { commands: [], problems: [] };
  const lc = lineContinuationInWord(source);
  if (lc) out.problems.push(lc);
  // tree-sitter takes these for blank space; bash keeps them in the word.
  if (/[\r\v\f]/.test(source)) out.problems.push("a carriage return, vertical tab or form feed (bash keeps them inside words)");
  const { root, hasError } = parseToPlain(parser, source, FIELD_PARENTS);
  if (hasError) out.problems.push(`the shell parser could not parse ${describeError(root)}`);
  new Walker(out, via).statement(root, 0);
  return out;
}

/**
 * tree-sitter treats every backslash-newline as blank space, but bash removes it, joining the two
 * halves of a word (`git sta\<newline>tus` is `git status`). Such a command is not taken apart.
 */
function lineContinuationInWord(source: string): string | undefined {
  for (let i = source.indexOf("\\\n"); i >= 0; i = source.indexOf("\\\n", i + 2)) {
    const before = i > 0 ? source[i - 1]! : " ";
    const after = source[i + 2] ?? " ";
    if (!/\s/.test(before) && !/\s/.test(after)) return "a line continuation (backslash-newline) joins the parts of a word";
  }
  return undefined;
}

function describeError(root: SyntaxNode): string {
  const bad = root.descendantsOfType(["ERROR"])[0];
  if (bad) return `near \`${clip(bad.text)}\``;
  return "all of it (something is missing, such as a closing quote or keyword)";
}

function clip(s: string): string {
  const one = s.replace(/\s+/g, " ");
  return one.length > 40 ? one.slice(0, 40) + "…" : one;
}

class Walker {
  constructor(
    private readonly out: ShellAnalysis,
    private readonly via: string[],
  ) {}

  private problem(text: string): void {
    if (!this.out.problems.includes(text)) this.out.problems.push(text);
  }

  statement(node: SyntaxNode, depth: number, via = this.via): void {
    if (depth > MAX_DEPTH) return this.problem("the command nests too deeply");
    if (node.isMissing) return this.problem(`something is missing: \`${node.type}\``);
    if (!node.isNamed) return; // keywords and operators: ; && || | & ( ) { } then fi do done …
    switch (node.type) {
      case "command":
        return this.command(node, [], depth, via);
      case "redirected_statement":
        return this.redirected(node, depth, via);
      case "variable_assignment":
      case "variable_assignments":
        return this.assignmentOnly(node, depth, via);
      case "declaration_command":
      case "unset_command":
        return this.declaration(node, depth, via);
      case "test_command":
        return this.test(node, depth, via);
      case "comment":
        return;
      case "ERROR":
        this.problem(`the shell parser could not parse \`${clip(node.text)}\``);
        for (const c of node.namedChildren) if (c) this.statement(c, depth + 1, via);
        return;
      case "c_style_for_statement":
        this.problem("a C-style `for ((…))` loop evaluates arithmetic, which can run commands");
        return this.words(node, depth, via);
    }
    if (node.type === "compound_statement" && node.namedChildren.some((c) => c && ARITHMETIC.has(c.type))) {
      // `(( … ))` parses as a compound statement holding expressions.
      this.arithmetic(node, depth, via);
      return;
    }
    if (CONTAINERS.has(node.type)) {
      for (let i = 0; i < node.childCount; i++) {
        const c = node.child(i)!;
        const field = node.fieldNameForChild(i);
        if (field === "variable" || field === "value" || c.type === "word" || WORDISH.has(c.type)) this.words(c, depth + 1, via);
        else this.statement(c, depth + 1, via);
      }
      return;
    }
    if (WORDISH.has(node.type)) return this.words(node, depth, via);
    if (ARITHMETIC.has(node.type)) return this.arithmetic(node, depth, via);
    this.problem(`the construct \`${node.type}\` is not understood by the policy`);
    this.words(node, depth, via);
  }

  /** A statement with redirections on it: `cmd > f`, `{ …; } > f`, `while …; done < f`. */
  private redirected(node: SyntaxNode, depth: number, via: string[]): void {
    const body = node.childForFieldName("body");
    const redirects: ShellRedirect[] = [];
    for (const c of node.namedChildren) {
      if (!c || c === body) continue;
      if (isRedirect(c)) redirects.push(...this.redirect(c, depth, via));
      else this.statement(c, depth + 1, via);
    }
    if (body?.type === "command") this.command(body, redirects, depth + 1, via);
    else {
      if (body) this.statement(body, depth + 1, via);
      if (redirects.length) this.out.commands.push({ text: node.text, assignments: [], words: [], redirects, via });
    }
  }

  private command(node: SyntaxNode, outer: ShellRedirect[], depth: number, via: string[]): void {
    const cmd: SimpleCommand = { text: node.text, assignments: [], words: [], redirects: [...outer], via };
    for (let i = 0; i < node.childCount; i++) {
      const c = node.child(i)!;
      if (!c.isNamed) continue;
      if (c.type === "variable_assignment") {
        cmd.assignments.push(this.assignment(c, depth, via));
      } else if (isRedirect(c)) {
        cmd.redirects.push(...this.redirect(c, depth, via));
      } else if (c.type === "command_name") {
        const inner = c.namedChild(0);
        cmd.words.push(inner ? this.word(inner, depth, via) : { raw: c.text, value: null });
      } else if (c.type === "comment") {
      } else if (WORDISH.has(c.type) || c.type === "command_substitution" || c.type === "process_substitution" || c.type === "arithmetic_expansion") {
        cmd.words.push(this.word(c, depth, via));
      } else {
        this.problem(`\`${clip(c.text)}\` (${c.type}) in a command is not understood by the policy`);
        cmd.words.push(this.word(c, depth, via));
      }
    }
    this.out.commands.push(cmd);
  }

  private assignment(node: SyntaxNode, depth: number, via: string[]): { name: string; value: ShellWord | null } {
    const nameNode = node.childForFieldName("name");
    const valueNode = node.childForFieldName("value");
    let name = nameNode?.text ?? node.text;
    if (nameNode && nameNode.type !== "variable_name") {
      // `a[$i]=x`: the subscript is arithmetic.
      this.words(nameNode, depth + 1, via);
      name = nameNode.namedChild(0)?.text ?? name;
    }
    if (node.text.slice((nameNode?.text ?? "").length).startsWith("+=")) name += "+"; // appends
    return { name: name.replace(/\+$/, ""), value: valueNode ? this.word(valueNode, depth, via) : { raw: "", value: "" } };
  }

  private assignmentOnly(node: SyntaxNode, depth: number, via: string[]): void {
    const list = node.type === "variable_assignments" ? node.namedChildren.filter((c): c is SyntaxNode => !!c) : [node];
    const assignments = list.map((a) => this.assignment(a, depth, via));
    this.out.commands.push({ text: node.text, assignments, words: [], redirects: [], via });
  }

  private declaration(node: SyntaxNode, depth: number, via: string[]): void {
    const cmd: SimpleCommand = { text: node.text, assignments: [], words: [], redirects: [], via, declaration: true };
    for (let i = 0; i < node.childCount; i++) {
      const c = node.child(i)!;
      if (!c.isNamed) {
        cmd.words.push({ raw: c.text, value: c.text }); // export, declare, local, unset…
      } else if (c.type === "variable_assignment") {
        cmd.assignments.push(this.assignment(c, depth, via));
      } else if (c.type === "variable_name") {
        cmd.assignments.push({ name: c.text, value: null });
      } else {
        cmd.words.push(this.word(c, depth, via));
      }
    }
    this.out.commands.push(cmd);
  }

  /** `[[ … ]]`: numeric comparisons evaluate their operands as arithmetic, which can run commands. */
  private test(node: SyntaxNode, depth: number, via: string[]): void {
    const numeric = node.descendantsOfType("test_operator").some((op) => op && /^-(eq|ne|lt|le|gt|ge)$/.test(op.text));
    if (numeric && hasVariable(node)) this.problem("`[[ … -eq … ]]` on a variable evaluates it as arithmetic, which can run commands");
    this.words(node, depth, via);
  }

  private arithmetic(node: SyntaxNode, depth: number, via: string[]): void {
    if (hasVariable(node)) this.problem("arithmetic on a variable can run commands hidden in its value (`a[$(…)]`)");
    this.words(node, depth, via);
  }

  private redirect(node: SyntaxNode, depth: number, via: string[]): ShellRedirect[] {
    const found: ShellRedirect[] = [];
    if (node.type === "heredoc_redirect") {
      found.push({ op: "<<", fd: null, target: null });
      for (const c of node.namedChildren) {
        if (!c) continue;
        if (isRedirect(c)) found.push(...this.redirect(c, depth, via));
        else if (c.type === "heredoc_body") this.words(c, depth + 1, [...via, "a heredoc"]);
        else if (c.type === "heredoc_start" || c.type === "heredoc_end") continue;
        else this.statement(c, depth + 1, via); // `cat <<EOF | sh`: the rest of the pipeline
      }
      return found;
    }
    let op = "";
    let fd: string | null = null;
    const targets: ShellWord[] = [];
    for (let i = 0; i < node.childCount; i++) {
      const c = node.child(i)!;
      const field = node.fieldNameForChild(i);
      if (!c.isNamed) op += c.text;
      else if (field === "descriptor" || c.type === "file_descriptor") fd = c.text;
      else targets.push(this.word(c, depth, via));
    }
    if (node.type === "herestring_redirect") op = "<<<";
    if (targets.length > 1) this.problem(`the redirection \`${clip(node.text)}\` has several targets`);
    found.push({ op, fd, target: targets[0] ?? null });
    return found;
  }

  /** The value of a word, after walking it for substitutions (which run commands of their own). */
  word(node: SyntaxNode, depth: number, via: string[]): ShellWord {
    this.words(node, depth, via);
    return { raw: node.text, value: literal(node) };
  }

  /** Finds the commands inside a word-like node: $(…), `…`, <(…), >(…), and arithmetic to distrust. */
  words(node: SyntaxNode, depth: number, via: string[]): void {
    if (depth > MAX_DEPTH) return this.problem("the command nests too deeply");
    if (node.type === "command_substitution" || node.type === "process_substitution") {
      const label = node.type === "command_substitution" ? (node.text.startsWith("`") ? "`…`" : "$(…)") : `${node.text.slice(0, 2)}…)`;
      for (const c of node.namedChildren) if (c) this.statement(c, depth + 1, [...via, label]);
      return;
    }
    if (node.type === "arithmetic_expansion" && hasVariable(node)) this.problem("arithmetic on a variable can run commands hidden in its value (`a[$(…)]`)");
    if (node.type === "subscript" && hasVariable(node)) this.problem("an array subscript on a variable is arithmetic, which can run commands hidden in its value");
    if (node.type === "ERROR") this.problem(`the shell parser could not parse \`${clip(node.text)}\``);
    for (const c of node.namedChildren) if (c) this.words(c, depth + 1, via);
  }
}

function isRedirect(node: SyntaxNode): boolean {
  return node.type === "file_redirect" || node.type === "heredoc_redirect" || node.type === "herestring_redirect";
}

const VARIABLE_USES: ReadonlySet<string> = new Set(["variable_name", "simple_expansion", "expansion", "command_substitution"]);

function hasVariable(node: SyntaxNode): boolean {
  return node.hasDescendant(VARIABLE_USES);
}

/** The value of a word after quote removal, or null when the shell would compute it. */
export function literal(node: SyntaxNode): string | null {
  switch (node.type) {
    case "word":
    case "number":
      return unquotedWord(node.text);
    case "raw_string":
      return node.text.slice(1, -1);
    case "string": {
      let value = "";
      for (let i = 0; i < node.childCount; i++) {
        const c = node.child(i)!;
        if (!c.isNamed) continue; // the quotes
        if (c.type !== "string_content") return null;
        value += c.text.replace(/\\([$`"\\\n])/g, (_m, ch: string) => (ch === "\n" ? "" : ch));
      }
      // string_content leaves out the text between children it did not capture; compare lengths.
      const inner = node.text.slice(1, -1);
      if (node.namedChildCount === 0 && inner.length > 0) return inner.includes("\\") || inner.includes("$") || inner.includes("`") ? null : inner;
      return value;
    }
    case "ansi_c_string": {
      const inner = node.text.slice(2, -1);
      return inner.includes("\\") ? null : inner;
    }
    case "concatenation": {
      let value = "";
      let unquoted = "";
      for (const c of node.namedChildren) {
        if (!c) return null;
        const v = literal(c);
        if (v === null) return null;
        value += v;
        if (c.type === "word") unquoted += c.text;
      }
      // Brace expansion spread over pieces (`{a,b}`, `{1..3}`), e.g. `-{e,}xec`.
      if (/\{[^}]*(,|\.\.)[^}]*\}/.test(unquoted) || (unquoted.includes("{") && unquoted.includes("}") && /[,.]/.test(unquoted))) return null;
      return value;
    }
    default:
      return null;
  }
}

/** The characters the loop below acts on: anything else is copied as it is. */
const UNQUOTE_OR_DISTRUST = /[\\*?[$`~{]/;

/** An unquoted word: backslash escapes removed; null if it has a glob, a brace expansion or a leading ~. */
function unquotedWord(text: string): string | null {
  // Most words have nothing to remove or distrust: their value is their text (no string built char by char).
  if (!UNQUOTE_OR_DISTRUST.test(text)) return text;
  let value = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\") {
      const next = text[i + 1];
      if (next === undefined) return null;
      if (next !== "\n") value += next;
      i++;
      continue;
    }
    if (c === "*" || c === "?" || c === "[") return null; // a glob: file names decide the words
    if (c === "$" || c === "`") return null;
    if (c === "~" && i === 0) return null;
    if (c === "{" && /\{[^}]*(,|\.\.)[^}]*\}/.test(text.slice(i))) return null;
    value += c;
  }
  return value;
}
