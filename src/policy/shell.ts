// From a bash command to the simple commands it would run. Pure.
//
// The parser is unbash (npm `unbash`): a maintained, dependency-free bash parser in TypeScript that
// returns a typed AST with source positions, parses substitutions, heredocs, arithmetic and `[[ ]]`
// into trees of their own, joins line continuations and decodes quoting as bash does, and reports
// what it cannot parse as `errors` beside a partial tree. It parses a 2 KB command in well under a
// tenth of a millisecond, synchronously. (tree-sitter-bash, used before, took about 0.5 ms and as much
// again to read its tree out of WebAssembly, and got backslash-newline inside a word wrong.)
//
// Every simple command anywhere in the tree becomes a SimpleCommand: in lists, pipelines, subshells,
// groups, if/while/for/case bodies, function bodies, coprocesses, command and process substitutions
// (also inside strings, heredoc bodies, redirection targets, `${…}` and arithmetic). Words keep their
// literal value after quote removal, or null when the shell would compute it (expansions,
// substitutions, globs, braces, a leading ~). Anything this module does not understand is a
// `problem`: the policy then never allows the whole. Wrappers, `eval` and `bash -c` are unwrapped
// later (unwrap.ts), because they work on word values.
import {
  type AndOr,
  type ArithmeticExpression,
  type Assignment,
  type CompoundList,
  type Command as UnbashCommand,
  type ParsedScript,
  type PipelineNode,
  parse,
  type Redirection,
  type Statement,
  type TestExpression,
  type Word,
  type WordPart,
} from "unbash";
import { ENDS_COMMAND, HEREDOC_DELIMITER, hasParenthesis, isInteger, literal, mayExpand, skipBlanks, skippedText } from "./shell-text.js";

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

/** Builtins that declare variables: their `NAME=value` arguments are assignments, and nothing runs. */
const DECLARATIONS = new Set(["export", "declare", "typeset", "local", "readonly", "unset"]);

/**
 * Recent analyses by source: the broker judges a request again when rules change and previews a
 * proposed rule over the last hundred requests. Analyses are never changed once made. An analysis is
 * kept only when its source comes a second time, so that a stream of one-off commands does not
 * promote every analysis out of the young generation (that set the tail of the evaluation time).
 * Sources seen once are remembered by a hash, not kept: keeping each 2 KB command alive until its
 * promotion made every scavenge copy them (bench/policy.ts). A hash collision only caches an
 * analysis a little early; `recent` is keyed by the whole source.
 */
const recent = new Map<string, ShellAnalysis>();
const seenOnce = new Set<number>();
const RECENT_MAX = 512;
const RECENT_MAX_SOURCE = 16 * 1024;

export function analyzeShell(source: string, via: string[] = []): ShellAnalysis {
  const key = via.length ? `${via.join("\u0000")}\u0001${source}` : source;
  const hit = recent.get(key);
  if (hit) return hit;
  const out = analyzeUncached(source, via);
  if (source.length <= RECENT_MAX_SOURCE) {
    const h = hash(key);
    if (seenOnce.delete(h)) {
      if (recent.size >= RECENT_MAX) recent.delete(recent.keys().next().value!);
      recent.set(key, out);
    } else {
      if (seenOnce.size >= RECENT_MAX) seenOnce.delete(seenOnce.values().next().value!);
      seenOnce.add(h);
    }
  }
  return out;
}

/** FNV-1a over the UTF-16 code units: a small integer, so remembering it keeps nothing alive. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function analyzeUncached(source: string, via: string[]): ShellAnalysis {
  const out: ShellAnalysis = { commands: [], problems: [] };
  let script: ParsedScript;
  try {
    script = parse(source);
  } catch (err) {
    out.problems.push(`the shell parser failed: ${(err as Error).message}`);
    return out;
  }
  const walker = new Walker(out);
  walker.script(script, source, 0, via);
  walker.checkCommandsRead();
  return out;
}

function clip(s: string): string {
  const one = s.replace(/\s+/g, " ");
  return one.length > 40 ? one.slice(0, 40) + "…" : one;
}

/** A substitution's label in `via`: `$(…)`, `` `…` ``, `<(…)`, `>(…)`. */
function substitutionLabel(text: string): string {
  if (text.startsWith("`")) return "`…`";
  return `${text.slice(0, 2)}…)`;
}

class Walker {
  /** The simple commands walked, each followed by the source its positions index: checked at the end. */
  private readonly read: (UnbashCommand | string)[] = [];

  constructor(private readonly out: ShellAnalysis) {}

  /** Whether the parser read each simple command whole, as bash would (see skippedText and ENDS_COMMAND). */
  checkCommandsRead(): void {
    for (let i = 0; i < this.read.length; i += 2) {
      const n = this.read[i] as UnbashCommand;
      const source = this.read[i + 1] as string;
      const skipped = skippedText(n, source);
      if (skipped) this.problem(`the shell parser skipped \`${clip(skipped)}\` in \`${clip(source.slice(n.pos, n.end))}\``);
      const next = source[skipBlanks(source, n.end)];
      if (next !== undefined && !ENDS_COMMAND.has(next)) this.problem(`the shell parser stopped reading \`${clip(source.slice(n.pos, n.end))}\` before \`${next}\``);
    }
  }

  private problem(text: string): void {
    if (!this.out.problems.includes(text)) this.out.problems.push(text);
  }

  /** A whole script: the command, or the inside of a substitution (with its own source and errors). */
  script(script: ParsedScript | undefined, outer: string, depth: number, via: string[]): void {
    if (!script) return this.problem("the shell parser could not parse a substitution");
    // Positions in a script decoded out of escaped backquotes index its own source.
    const source = script.source ?? outer;
    for (const e of script.errors ?? []) this.problem(`the shell parser could not parse near \`${clip(source.slice(e.pos, e.pos + 40)) || "the end"}\`: ${e.message}`);
    for (const s of script.commands) this.statement(s, source, depth + 1, via);
  }

  private list(list: CompoundList | undefined, source: string, depth: number, via: string[]): void {
    for (const s of list?.commands ?? []) this.statement(s, source, depth + 1, via);
  }

  private statement(s: Statement, source: string, depth: number, via: string[]): void {
    this.node(s.command, source, depth + 1, via);
  }

  private node(n: PipelineNode | AndOr | CompoundList, source: string, depth: number, via: string[]): void {
    if (depth > MAX_DEPTH) return this.problem("the command nests too deeply");
    switch (n.type) {
      case "AndOr":
      case "Pipeline":
        // `time &`, `! &`: unbash 6.0.5 takes a prefix with nothing after it where bash may refuse it.
        if (n.commands.length === 0) this.problem("a `time` or `!` with no command after it");
        for (const part of n.commands) this.node(part, source, depth + 1, via);
        return;
      case "Command":
        return this.command(n, source, depth, via);
      case "Redirected": {
        const redirects = n.redirects.flatMap((r) => this.redirect(r, source, depth, via));
        this.node(n.command, source, depth + 1, via);
        if (redirects.length) this.out.commands.push({ text: source.slice(n.pos, n.end), assignments: [], words: [], redirects, via });
        return;
      }
      case "CompoundList":
        return this.list(n, source, depth, via);
      case "Subshell":
      case "BraceGroup":
        return this.list(n.body, source, depth, via);
      case "If":
        this.list(n.clause, source, depth, via);
        this.list(n.then, source, depth, via);
        for (const e of n.elif) {
          this.list(e.clause, source, depth, via);
          this.list(e.then, source, depth, via);
        }
        return this.list(n.else, source, depth, via);
      case "While":
        this.list(n.clause, source, depth, via);
        return this.list(n.body, source, depth, via);
      case "For":
      case "Select":
        for (const w of n.wordlist ?? []) this.word(w, source, depth, via);
        return this.list(n.body, source, depth, via);
      case "Case":
        this.word(n.word, source, depth, via);
        for (const item of n.items) {
          for (const p of item.pattern) this.word(p, source, depth, via);
          this.list(item.body, source, depth, via);
        }
        return;
      case "Function":
        // The body is judged as if it ran: a function is defined to be called.
        return this.node(n.body, source, depth + 1, via);
      case "Coproc":
        return this.node(n.body, source, depth + 1, via);
      case "TestCommand":
        return this.test(n.expression, source, depth, via);
      case "ArithmeticCommand":
        return this.arithmetic(n.expression, source, depth, via);
      case "ArithmeticFor":
        this.problem("a C-style `for ((…))` loop evaluates arithmetic, which can run commands");
        for (const e of [n.initialize, n.test, n.update]) this.arithmetic(e, source, depth, via, false);
        return this.list(n.body, source, depth, via);
    }
    this.problem(`the construct \`${(n as { type: string }).type}\` is not understood by the policy`);
  }

  private command(n: UnbashCommand, source: string, depth: number, via: string[]): void {
    const cmd: SimpleCommand = { text: source.slice(n.pos, n.end), assignments: [], words: [], redirects: [], via };
    this.read.push(n, source);
    for (const p of n.prefix) {
      if (p.type === "Assignment") cmd.assignments.push(this.assignment(p, source, depth, via));
      else cmd.redirects.push(...this.redirect(p, source, depth, via));
    }
    if (n.name) cmd.words.push(this.word(n.name, source, depth, via));
    const head = cmd.words[0]?.value;
    const declares = head != null && DECLARATIONS.has(head);
    if (declares) cmd.declaration = true;
    for (const a of n.suffix) {
      if (a.type === "Word") {
        const w = this.word(a, source, depth, via);
        // `export NAME`, `unset NAME`: a variable named, not a command's argument.
        if (declares && w.value !== null && /^[A-Za-z_][A-Za-z0-9_]*$/.test(w.value)) cmd.assignments.push({ name: w.value, value: null });
        else cmd.words.push(w);
      } else if (a.type === "Assignment") {
        // Only declaration builtins take `NAME=value` as an assignment; for any other command it is a word.
        if (declares) cmd.assignments.push(this.assignment(a, source, depth, via));
        else cmd.words.push(this.assignmentWord(a, source, depth, via));
      } else cmd.redirects.push(...this.redirect(a, source, depth, via));
    }
    this.out.commands.push(cmd);
  }

  private assignment(a: Assignment, source: string, depth: number, via: string[]): { name: string; value: ShellWord | null } {
    if (a.index) this.subscript(a.index, source, depth, via);
    if (a.value.type === "ArrayValue") {
      for (const e of a.value.elements) this.word(e, source, depth, via);
      return { name: a.name, value: null };
    }
    return { name: a.name, value: this.word(a.value, source, depth, via) };
  }

  /** `NAME=value` as an ordinary argument (`make CC=gcc`): its text, literal only when its value is. */
  private assignmentWord(a: Assignment, source: string, depth: number, via: string[]): ShellWord {
    const v = this.assignment(a, source, depth, via).value;
    const head = a.text.slice(0, a.text.length - (a.value.type === "Word" ? a.value.text.length : 0));
    const plainHead = a.index === undefined && /^[A-Za-z_][A-Za-z0-9_]*\+?=$/.test(head);
    return { raw: a.text, value: plainHead && v?.value != null ? head + v.value : null };
  }

  private redirect(r: Redirection, source: string, depth: number, via: string[]): ShellRedirect[] {
    const fd = r.descriptor ? (r.descriptor.type === "FileDescriptor" ? String(r.descriptor.value) : `{${r.descriptor.name}}`) : null;
    if (r.type === "HereDoc") {
      // unbash 6.0.5 takes a delimiter with an unclosed quote or backquote (`<<"E`) where bash refuses it.
      if (!r.delimiter || !HEREDOC_DELIMITER.test(r.delimiter.text)) this.problem(`the heredoc delimiter \`${clip(r.delimiter?.text ?? "")}\` is not a plain word`);
      this.parts(r.body.parts, source, depth + 1, [...via, "a heredoc"]);
      return [{ op: r.operator, fd, target: null }];
    }
    // `<0<`: bash reads a number right before `<` or `>` as the next redirection's descriptor, not a target.
    if (r.target && /^\d+$/.test(r.target.text) && /[<>]/.test(source[r.target.end] ?? ""))
      this.problem(`the redirection \`${clip(source.slice(r.pos, r.target.end + 1))}\` is a syntax error in bash`);
    return [{ op: r.operator, fd, target: r.target ? this.word(r.target, source, depth, via) : null }];
  }

  /** The value of a word, after walking it for substitutions (which run commands of their own). */
  private word(w: Word, source: string, depth: number, via: string[]): ShellWord {
    // Unquoted text that bash would not take as plain: an unescaped expansion (unbash 6.0.5 leaves an
    // unclosed `$[` so) or a parenthesis (it reads `<=()` as a word where bash refuses it).
    if (w.parts) {
      for (const p of w.parts) if (p.type === "Literal" && hasParenthesis(p.text)) this.problem(`the shell parser took \`${clip(w.text)}\` for plain text`);
    } else if (mayExpand(w.text) || hasParenthesis(w.text)) this.problem(`the shell parser took \`${clip(w.text)}\` for plain text`);
    this.parts(w.parts, source, depth + 1, via);
    return { raw: w.text, value: literal(w) };
  }

  private parts(parts: readonly WordPart[] | undefined, source: string, depth: number, via: string[]): void {
    if (!parts) return;
    if (depth > MAX_DEPTH) return this.problem("the command nests too deeply");
    for (const p of parts) {
      switch (p.type) {
        case "Literal":
          if (mayExpand(p.text)) this.problem(`the shell parser took \`${clip(p.text)}\` for plain text`);
          break;
        case "SingleQuoted":
        case "AnsiCQuoted":
        case "SimpleExpansion":
          break;
        case "ExtendedGlob":
          // unbash assumes `shopt -s extglob`; bash by default refuses `@(…)`, `!(…)` as a syntax error.
          this.problem(`the extended glob \`${clip(p.text)}\` (a syntax error unless \`shopt -s extglob\`)`);
          this.parts(p.parts, source, depth + 1, via);
          break;
        case "Glob":
        case "BraceExpansion":
        case "DoubleQuoted":
        case "LocaleString":
          this.parts(p.parts, source, depth + 1, via);
          break;
        case "CommandExpansion":
        case "ProcessSubstitution":
          this.substitution(p.text, p.script, source, depth, via);
          break;
        case "ArithmeticExpansion":
          this.arithmetic(p.expression, source, depth + 1, via);
          break;
        case "ParameterExpansion":
          this.parameter(p, source, depth + 1, via);
          break;
        default:
          this.problem(`\`${clip((p as { text?: string }).text ?? "")}\` is not understood by the policy`);
      }
    }
  }

  /** `$(…)`, `` `…` ``, `${ …; }`, `<(…)`, `>(…)`: a script of its own, which must be closed. */
  private substitution(text: string, script: ParsedScript | undefined, source: string, depth: number, via: string[]): void {
    // unbash 6.0.5 leaves some unclosed ones (`${` then a newline) without an error.
    const closer = text.startsWith("`") ? "`" : text.startsWith("${") ? "}" : ")";
    if (text.length < 3 || !text.endsWith(closer)) this.problem(`the substitution \`${clip(text)}\` is not closed`);
    this.script(script, source, depth + 1, [...via, substitutionLabel(text)]);
  }

  /** `${…}`: its operands are words (walked); a subscript and a slice are arithmetic. */
  private parameter(p: Extract<WordPart, { type: "ParameterExpansion" }>, source: string, depth: number, via: string[]): void {
    // `${!x}` expands the variable x names, and naming `a[$(…)]` runs the substitution.
    if (p.prefix === "!" && !/^[@*]$/.test(p.operation?.operator ?? "")) this.problem("an indirect expansion `${!…}` can run commands hidden in a variable's value");
    if (p.index) this.subscript(p.index, source, depth, via);
    const op = p.operation;
    if (!op) return;
    switch (op.type) {
      case "Default":
      case "Remove":
        return void this.word(op.operand, source, depth, via);
      case "Replace":
        this.word(op.pattern, source, depth, via);
        return void this.word(op.replacement, source, depth, via);
      case "Slice":
        this.subscript(op.offset, source, depth, via);
        if (op.length) this.subscript(op.length, source, depth, via);
        return;
      case "CaseModification":
        if (op.operand) this.word(op.operand, source, depth, via);
        return;
      case "Transform":
        // `${x@P}` expands a prompt string, which runs the substitutions in x's value.
        if (op.operand.text.includes("P")) this.problem("`${…@P}` expands a variable as a prompt, which can run commands hidden in its value");
        return void this.word(op.operand, source, depth, via);
      case "Names":
        return;
    }
    this.problem(`the expansion \`${clip(p.text)}\` is not understood by the policy`);
  }

  /** An array subscript or a slice offset: arithmetic, so anything but a number is distrusted. */
  private subscript(w: Word, source: string, depth: number, via: string[]): void {
    this.word(w, source, depth, via);
    if (!/^(\d+|[@*])$/.test(w.text)) this.problem("an array subscript that is not a number is arithmetic, which can run commands hidden in a variable's value");
  }

  /** `[[ … ]]`: words are walked; numeric comparisons evaluate their operands as arithmetic. */
  private test(e: TestExpression, source: string, depth: number, via: string[]): void {
    if (depth > MAX_DEPTH) return this.problem("the command nests too deeply");
    switch (e.type) {
      case "TestUnary":
        this.word(e.operand, source, depth, via);
        // `-v a[…]` evaluates the subscript as arithmetic.
        if ((e.operator === "-v" || e.operator === "-R") && e.operand.text.includes("["))
          this.problem("`[[ -v name[…] ]]` evaluates the subscript as arithmetic, which can run commands");
        return;
      case "TestBinary":
        this.word(e.left, source, depth, via);
        this.word(e.right, source, depth, via);
        if (/^-(eq|ne|lt|le|gt|ge)$/.test(e.operator) && !(isInteger(e.left) && isInteger(e.right)))
          this.problem("`[[ … -eq … ]]` on anything but numbers evaluates it as arithmetic, which can run commands");
        return;
      case "TestLogical":
        for (const o of e.operands) this.test(o, source, depth + 1, via);
        return;
      case "TestNot":
        return this.test(e.operand, source, depth + 1, via);
      case "TestGroup":
        return this.test(e.expression, source, depth + 1, via);
    }
  }

  /**
   * Arithmetic runs substitutions in the values of the variables it names (`x='a[$(rm …)]'; (( x ))`),
   * so any name or expansion in it is a problem; only numbers and operators are trusted.
   */
  private arithmetic(e: ArithmeticExpression | undefined, source: string, depth: number, via: string[], report = true): void {
    if (!e) return;
    if (depth > MAX_DEPTH) return this.problem("the command nests too deeply");
    const distrust = () => report && this.problem("arithmetic on a variable can run commands hidden in its value (`a[$(…)]`)");
    switch (e.type) {
      case "ArithmeticWord":
        if (e.parts) this.parts(e.parts, source, depth + 1, via);
        if (!/^(0[xX][0-9a-fA-F]+|\d+(#[0-9A-Za-z@_]+)?)$/.test(e.value)) distrust();
        return;
      case "ArithmeticCommandExpansion":
        distrust();
        return this.substitution(e.text, e.script, source, depth, via);
      case "ArithmeticBinary":
        this.arithmetic(e.left, source, depth + 1, via, report);
        return this.arithmetic(e.right, source, depth + 1, via, report);
      case "ArithmeticUnary":
        return this.arithmetic(e.operand, source, depth + 1, via, report);
      case "ArithmeticTernary":
        this.arithmetic(e.test, source, depth + 1, via, report);
        this.arithmetic(e.consequent, source, depth + 1, via, report);
        return this.arithmetic(e.alternate, source, depth + 1, via, report);
      case "ArithmeticGroup":
        return this.arithmetic(e.expression, source, depth + 1, via, report);
    }
  }
}
