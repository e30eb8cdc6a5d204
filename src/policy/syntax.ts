// The syntax tree copied out of tree-sitter's WASM memory into plain objects in one cursor walk. Asking
// the WASM tree node by node costs a round trip per property (measured: 10x the parse itself for a
// 2 KB command); a cursor walk copies everything once, then the analysis runs on plain JS.
import type { ShellParser } from "./parser.js";

export class SyntaxNode {
  readonly children: SyntaxNode[] = [];
  /** the field name under which each child hangs from this node (null when none) */
  readonly fields: (string | null)[] = [];

  constructor(
    readonly type: string,
    readonly isNamed: boolean,
    readonly isMissing: boolean,
    readonly text: string,
  ) {}

  get childCount(): number {
    return this.children.length;
  }

  child(i: number): SyntaxNode | null {
    return this.children[i] ?? null;
  }

  fieldNameForChild(i: number): string | null {
    return this.fields[i] ?? null;
  }

  childForFieldName(name: string): SyntaxNode | null {
    const i = this.fields.indexOf(name);
    return i < 0 ? null : this.children[i]!;
  }

  get namedChildren(): SyntaxNode[] {
    return this.children.filter((c) => c.isNamed);
  }

  get namedChildCount(): number {
    return this.namedChildren.length;
  }

  namedChild(i: number): SyntaxNode | null {
    return this.namedChildren[i] ?? null;
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

/** Per language: whether each node type id is named (asked once per id). */
const namedByLanguage = new WeakMap<object, Map<number, boolean>>();

/**
 * Parses `source` and copies the tree out (indices are UTF-16 code units, as JS strings are). Every
 * cursor property is a call into WASM, so it asks as little as it can: an anonymous node's text is its
 * type (a literal token), missing nodes are only looked for when the tree has errors.
 */
export function parseToPlain(parser: ShellParser, source: string): ParsedSource {
  const tree = parser.parse(source);
  try {
    const hasError = tree.rootNode.hasError;
    const language = tree.language;
    let named = namedByLanguage.get(language);
    if (!named) namedByLanguage.set(language, (named = new Map()));
    const types = language.types;
    const fields = language.fields;
    const cursor = tree.walk();
    try {
      const make = (withField: boolean, parent: SyntaxNode | null): SyntaxNode => {
        const id = cursor.nodeTypeId;
        let isNamed = named.get(id);
        if (isNamed === undefined) named.set(id, (isNamed = id === 65535 || language.nodeTypeIsNamed(id)));
        const type = types[id] || "ERROR";
        const node = isNamed
          ? new SyntaxNode(type, true, hasError && cursor.nodeIsMissing, source.slice(cursor.startIndex, cursor.endIndex))
          : new SyntaxNode(type, false, hasError && cursor.nodeIsMissing, hasError ? source.slice(cursor.startIndex, cursor.endIndex) : type);
        if (parent) {
          parent.children.push(node);
          parent.fields.push(withField && isNamed ? (fields[cursor.currentFieldId] ?? null) : null);
        }
        return node;
      };
      const root = make(false, null);
      const stack: SyntaxNode[] = [root];
      // Depth-first: descend, else next sibling, else climb until a sibling exists.
      for (;;) {
        if (cursor.gotoFirstChild()) {
          stack.push(make(true, stack[stack.length - 1]!));
          continue;
        }
        for (;;) {
          if (stack.length <= 1) return { root, hasError };
          stack.pop();
          if (cursor.gotoNextSibling()) {
            stack.push(make(true, stack[stack.length - 1]!));
            break;
          }
          cursor.gotoParent();
        }
      }
    } finally {
      cursor.delete();
    }
  } finally {
    tree.delete();
  }
}
