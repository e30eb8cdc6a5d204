// The syntax tree copied out of tree-sitter's WASM memory into plain objects, once, before the analysis
// walks it. Every property of a WASM node or cursor is a call across the JS/WASM boundary with the
// node marshalled through a transfer buffer; the copy is shaped to make as few of them as it can
// (measured with `node --cpu-prof` on bench/policy.ts: the copy cost more than the parse). Most of
// the copy is the walk itself: moving a cursor over every node and asking nothing costs about 0.27 ms
// for the bench's 2 KB command, and web-tree-sitter's other bulk readers (Query captures, children,
// descendantsOfType) cost as much per node as the cursor, because each node crosses as its own record.
//
// One cursor walk copies it: literal tokens (`&&`, `>`, `export`) are not asked for their range or
// children, named tokens (LEAF_TYPES) not for children, field names only under the node types the
// analysis reads them from; the text of a node is sliced from the source only when read.
import type { Language, Tree } from "web-tree-sitter";
import type { ShellParser } from "./parser.js";

const NO_CHILDREN: SyntaxNode[] = [];

export class SyntaxNode {
  children: SyntaxNode[] = NO_CHILDREN;
  /** the field under which it hangs from its parent (null when none, or when its parent's type was not asked for) */
  field: string | null = null;
  private named: SyntaxNode[] | undefined = undefined;

  constructor(
    readonly type: string,
    readonly isNamed: boolean,
    readonly isMissing: boolean,
    private readonly source: string,
    readonly startIndex: number,
    /** -1 for a literal token copied without its range (its text is its type) */
    readonly endIndex: number,
  ) {}

  get text(): string {
    return this.endIndex < 0 ? this.type : this.source.slice(this.startIndex, this.endIndex);
  }

  get childCount(): number {
    return this.children.length;
  }

  child(i: number): SyntaxNode | null {
    return this.children[i] ?? null;
  }

  fieldNameForChild(i: number): string | null {
    return this.children[i]?.field ?? null;
  }

  childForFieldName(name: string): SyntaxNode | null {
    return this.children.find((c) => c.field === name) ?? null;
  }

  get namedChildren(): SyntaxNode[] {
    this.named ??= this.children === NO_CHILDREN ? NO_CHILDREN : this.children.filter((c) => c.isNamed);
    return this.named;
  }

  get namedChildCount(): number {
    return this.namedChildren.length;
  }

  namedChild(i: number): SyntaxNode | null {
    return this.namedChildren[i] ?? null;
  }

  /** Whether some descendant (not this node) has one of `types`. */
  hasDescendant(types: ReadonlySet<string>): boolean {
    for (const c of this.children) if (types.has(c.type) || c.hasDescendant(types)) return true;
    return false;
  }

  /** Every descendant (not this node) whose type is one of `types`, in document order. */
  descendantsOfType(types: string | string[]): SyntaxNode[] {
    const want = typeof types === "string" ? [types] : types;
    const out: SyntaxNode[] = [];
    const walk = (n: SyntaxNode) => {
      for (const c of n.children) {
        if (want.includes(c.type)) out.push(c);
        walk(c);
      }
    };
    walk(this);
    return out;
  }
}

export interface ParsedSource {
  root: SyntaxNode;
  /** the parser found errors or had to insert missing tokens */
  hasError: boolean;
}

/**
 * Named node types that are tokens of tree-sitter-bash (no children, checked against its
 * node-types.json by test/unit/policy-syntax.test.ts): their children are never asked for.
 */
export const LEAF_TYPES: ReadonlySet<string> = new Set([
  "word",
  "ansi_c_string",
  "comment",
  "extglob_pattern",
  "file_descriptor",
  "heredoc_content",
  "heredoc_end",
  "heredoc_start",
  "raw_string",
  "regex",
  "special_variable_name",
  "string_content",
  "test_operator",
  "variable_name",
]);

/** Per language: whether each node type id is named (asked once per id). */
const namedByLanguage = new WeakMap<object, Map<number, boolean>>();

function namedTable(language: Language): Map<number, boolean> {
  let named = namedByLanguage.get(language);
  if (!named) namedByLanguage.set(language, (named = new Map()));
  return named;
}

function isNamedType(language: Language, table: Map<number, boolean>, id: number): boolean {
  let isNamed = table.get(id);
  if (isNamed === undefined) table.set(id, (isNamed = id === 65535 || language.nodeTypeIsNamed(id)));
  return isNamed;
}

/**
 * Parses `source` and copies the tree out (indices are UTF-16 code units, as JS strings are). Field
 * names are kept only for the children of nodes whose type is in `fieldParents`. `exact` asks every
 * node everything even without errors (tests compare the two copies).
 */
export function parseToPlain(parser: ShellParser, source: string, fieldParents: ReadonlySet<string>, opts: { exact?: boolean } = {}): ParsedSource {
  const tree = parser.parse(source);
  try {
    const hasError = tree.rootNode.hasError;
    return { root: copy(tree, source, fieldParents, hasError || opts.exact === true), hasError };
  } finally {
    tree.delete();
  }
}

/**
 * One cursor walk, depth first. Without errors it asks each node for its type, a named node for its
 * range (not a literal token: its text is its type), a node for its children only when it can have
 * any, and for the field only under `fieldParents`. (A node's range cannot be taken from its
 * children's: hidden tokens, such as the text of a heredoc before its first expansion, are not
 * children.) With errors it asks every node everything: ERROR and MISSING nodes keep their exact
 * ranges and text; such a command is never allowed, so the cost does not matter.
 */
function copy(tree: Tree, source: string, fieldParents: ReadonlySet<string>, exact: boolean): SyntaxNode {
  const language = tree.language;
  const table = namedTable(language);
  const types = language.types;
  const fields = language.fields;
  const cursor = tree.walk();
  // The path from the root to the cursor, and every node copied whose parent is on it (in `kids`,
  // from `from[i]` on for path[i]): a node's children get an array of their exact size when it is
  // left (growing arrays by push made most of the copy's garbage, and the scavenges set the p99).
  const path: SyntaxNode[] = [];
  const from: number[] = [];
  const kids: SyntaxNode[] = [];
  const enter = (parent: SyntaxNode | null): void => {
    const id = cursor.nodeTypeId;
    const type = types[id] || "ERROR";
    const isNamed = isNamedType(language, table, id);
    const node = exact
      ? new SyntaxNode(type, isNamed, cursor.nodeIsMissing, source, cursor.startIndex, cursor.endIndex)
      : isNamed
        ? new SyntaxNode(type, true, false, source, cursor.startIndex, cursor.endIndex)
        : new SyntaxNode(type, false, false, source, -1, -1);
    if (parent && isNamed && (exact || fieldParents.has(parent.type))) node.field = fields[cursor.currentFieldId] ?? null;
    kids.push(node);
    path.push(node);
    from.push(kids.length);
  };
  const leave = (): void => {
    const node = path.pop()!;
    const start = from.pop()!;
    if (kids.length > start) {
      node.children = kids.slice(start);
      kids.length = start;
    }
  };
  try {
    enter(null);
    for (;;) {
      const top = path[path.length - 1]!;
      // Leaves are not asked for children (a literal token, or a named token of LEAF_TYPES).
      if ((exact || (top.isNamed && !LEAF_TYPES.has(top.type))) && cursor.gotoFirstChild()) {
        enter(top);
        continue;
      }
      for (;;) {
        leave();
        if (path.length === 0) return kids[0]!;
        if (cursor.gotoNextSibling()) {
          enter(path[path.length - 1]!);
          break;
        }
        cursor.gotoParent();
      }
    }
  } finally {
    cursor.delete();
  }
}
