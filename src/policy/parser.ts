// The shell parser behind the policy: tree-sitter's bash grammar, run as WebAssembly (web-tree-sitter
// + tree-sitter-bash).
//
// Why this one (candidates tried on Node 20, Dec 2026):
// - tree-sitter-bash: maintained by the tree-sitter organisation and the parser Claude Code and Codex
//   use for the same job; covers bash fully (heredocs, process substitution, functions, arithmetic,
//   case, [[ ]]); marks what it cannot parse with ERROR/MISSING nodes; parses synchronously once
//   loaded (one async load at start-up); ~0.8 ms for a 2.6 KB command; 1.6 MB of WASM (≈0.5 MB
//   zipped in the VSIX).
// - sh-syntax (mvdan/sh as Go WASM): the most faithful bash grammar, but every call is async and
//   starts a fresh Go runtime: ~10 ms per 2.6 KB command, far from a sub-millisecond budget.
// - mvdan-sh (GopherJS build of mvdan/sh): synchronous, but its JS build is no longer released
//   (0.10.1) and took ~3.6 ms for the same command.
// - bash-parser: unmaintained since 2017, incomplete bash.
// tree-sitter is error-tolerant rather than strict, so the analysis (shell.ts) treats any ERROR or
// MISSING node, and any node type it does not know, as "not understood" (never allowed).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Language, Parser, type Node, type Tree } from "web-tree-sitter";

export type { Node as SyntaxNode, Tree as SyntaxTree };

export interface ShellParser {
  /** Parses bash source; the caller must `delete()` the tree when done. */
  parse(source: string): Tree;
}

/** The WASM files: beside the bundle in dist/ (copied by scripts/build.mjs), else from node_modules. */
function wasmBytes(file: string, pkg: string): Uint8Array {
  try {
    return readFileSync(new URL(`./${file}`, import.meta.url));
  } catch {
    const require = createRequire(import.meta.url);
    return readFileSync(require.resolve(`${pkg}/${file}`));
  }
}

let loading: Promise<ShellParser> | undefined;

/** Loads the parser once per process (about 30 ms); later calls share it. */
export function loadShellParser(): Promise<ShellParser> {
  loading ??= (async () => {
    await Parser.init({ wasmBinary: wasmBytes("web-tree-sitter.wasm", "web-tree-sitter") } as object);
    const bash = await Language.load(wasmBytes("tree-sitter-bash.wasm", "tree-sitter-bash"));
    const parser = new Parser();
    parser.setLanguage(bash);
    return {
      parse(source: string): Tree {
        const tree = parser.parse(source);
        if (!tree) throw new Error("the shell parser returned no tree");
        return tree;
      },
    };
  })();
  return loading;
}
