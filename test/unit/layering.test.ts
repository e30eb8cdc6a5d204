// The layers of docs/architecture.md, checked: every relative import in src/ must point at its own
// layer or at one the table below allows (downwards), only src/extension imports `vscode`, and every
// layer folder has its row in docs/architecture.md. A new folder or an import pointing up or sideways
// fails here, with the file and the import named.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "../support/paths.js";

const SRC = join(ROOT, "src");

const BASE = ["protocol", "platform"];
/** Layer → the layers it may import. Adapters are `adapters/<name>`; `adapters/*` stands for any of them. */
const ALLOWED: Record<string, string[]> = {
  protocol: [],
  platform: ["protocol"],
  policy: ["protocol"],
  broker: [...BASE, "policy"],
  client: BASE,
  exec: BASE,
  "adapters/shared": [...BASE, "client", "exec", "policy"],
  "adapters/*": [...BASE, "client", "exec", "policy", "adapters/shared"],
  cli: [...BASE, "client", "exec", "policy", "broker", "adapters/*"],
  extension: [...BASE, "client", "exec", "policy", "adapters/*"],
  webview: ["protocol"],
};

function layerOf(file: string): string {
  const parts = relative(SRC, file).split(/[\\/]/);
  return parts[0] === "adapters" ? `adapters/${parts[1]}` : parts[0]!;
}

function rule(layer: string): string[] | undefined {
  return ALLOWED[layer] ?? (layer.startsWith("adapters/") ? ALLOWED["adapters/*"] : undefined);
}

function allows(from: string, to: string): boolean {
  if (from === to) return true;
  const allowed = rule(from) ?? [];
  return allowed.includes(to) || (to.startsWith("adapters/") && to !== "adapters/shared" && allowed.includes("adapters/*"));
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : /\.(ts|mts|cts)$/.test(name) ? [p] : [];
  });
}

/** Module specifiers of static imports, re-exports and dynamic imports (comments stripped first). */
function importsOf(code: string): string[] {
  const bare = code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found: string[] = [];
  for (const m of bare.matchAll(/(?:^|[\s;])(?:import|export)\s[^"'`;]*?from\s*["']([^"']+)["']|(?:^|[\s;])import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm))
    found.push((m[1] ?? m[2] ?? m[3])!);
  return found;
}

test("every import in src/ points at its own layer or one below it (docs/architecture.md)", () => {
  const problems: string[] = [];
  for (const file of sources(SRC)) {
    const from = layerOf(file);
    if (!rule(from)) {
      problems.push(`${relative(ROOT, file)}: the folder src/${from} is not a layer; add it to docs/architecture.md and to ALLOWED in this test`);
      continue;
    }
    for (const spec of importsOf(readFileSync(file, "utf8"))) {
      if (spec === "vscode" && from !== "extension") problems.push(`${relative(ROOT, file)} imports vscode; only src/extension may`);
      if (!spec.startsWith(".")) continue;
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(SRC + "/")) {
        problems.push(`${relative(ROOT, file)} imports ${spec}, outside src/`);
        continue;
      }
      const to = layerOf(target);
      if (!allows(from, to)) problems.push(`${relative(ROOT, file)} (${from}) imports ${spec} (${to}); ${from} may import ${rule(from)!.join(", ") || "nothing"}`);
    }
  }
  assert.deepEqual(problems, []);
});

test("every layer folder in src/ has its row in docs/architecture.md", () => {
  const doc = readFileSync(join(ROOT, "docs", "architecture.md"), "utf8");
  const layers = new Set(sources(SRC).map(layerOf));
  const missing = [...layers].filter((l) => !doc.includes(`| \`src/${l}\``));
  assert.deepEqual(missing, [], "layers without a row in the table of docs/architecture.md");
});

test("the import scanner finds every form of import (so the layering test can fail)", () => {
  const code = [
    'import { a } from "../broker/x.js";',
    'import type { B } from "../client/y.js";',
    'export { c } from "./z.js";',
    'import "../side-effect.js";',
    'const m = await import("../cli/main.js");',
    '// import { no } from "../commented.js";',
    "/* import { no } from '../block.js'; */",
    "import {\n  d,\n  e,\n} from '../multi.js';",
  ].join("\n");
  assert.deepEqual(importsOf(code), ["../broker/x.js", "../client/y.js", "./z.js", "../side-effect.js", "../cli/main.js", "../multi.js"]);
  assert.equal(allows("client", "broker"), false);
  assert.equal(allows("broker", "client"), false);
  assert.equal(allows("adapters/pi", "adapters/claude"), false);
  assert.equal(allows("cli", "adapters/pi"), true);
  assert.equal(allows("webview", "extension"), false);
});
