// THIRD-PARTY-NOTICES.md: the npm packages whose code or assets the VSIX ships, each with its license
// and license text (MIT, BSD, Apache-2.0 … require the text to travel with the copy). scripts/build.mjs
// hands over esbuild's metafiles (which files went into which bundle) and the package folders it copies
// assets from; a package under a license outside ALLOWED_LICENSES, or without a license file, stops the
// build with a sentence naming it. Pure functions below, file reading in collectNotices at the end.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import parseSpdx from "spdx-expression-parse";

export const NOTICES_FILE = "THIRD-PARTY-NOTICES.md";

// Licenses whose only condition on shipping a copy is to keep the notice (the file this module writes).
// CC-BY-4.0 is @vscode/codicons' font and stylesheet: attribution, which the notices give.
export const ALLOWED_LICENSES = new Set([
  "0BSD",
  "Apache-2.0",
  "BlueOak-1.0.0",
  "BSD-2-Clause",
  "BSD-3-Clause",
  "CC-BY-4.0",
  "CC0-1.0",
  "ISC",
  "MIT",
  "MIT-0",
  "Python-2.0",
  "Unlicense",
  "Zlib",
]);

const LICENSE_FILE = /^(licen[cs]e|copying|notice)([-._].*)?$/i;

/** The package folder ("node_modules/@scope/name", nested ones included) of a bundle input; undefined for the project's own files. */
export function packageDirOf(input) {
  // esbuild marks some inputs with a namespace, e.g. "(disabled):node_modules/x/y.js".
  const path = input.replace(/^\([a-z-]+\):/, "").replaceAll("\\", "/");
  return /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1];
}

/**
 * Package folder → sorted names of what ships it, from esbuild metafiles (outputs keyed by the bundle's
 * path) and folders copied whole or in part ({ dir, into: [shipped paths] }). Source maps ship nothing.
 */
export function shippedPackages(metafiles, copied = []) {
  const where = new Map();
  const add = (dir, what) => {
    if (!where.has(dir)) where.set(dir, new Set());
    where.get(dir).add(what);
  };
  for (const meta of metafiles) {
    for (const [output, { inputs }] of Object.entries(meta.outputs)) {
      if (output.endsWith(".map")) continue;
      for (const input of Object.keys(inputs)) {
        const dir = packageDirOf(input);
        if (dir) add(dir, output);
      }
    }
  }
  for (const { dir, into } of copied) for (const file of into) add(dir, file);
  return new Map([...where].sort(([a], [b]) => compare(a, b)).map(([dir, set]) => [dir, [...set].sort(compare)]));
}

/** package.json's license as one SPDX expression: `license` ("MIT", "(MIT OR Apache-2.0)", or the old { type }) or the old `licenses` list (any of them). */
export function licenseExpression(manifest) {
  const one = (l) => (typeof l === "string" ? l : typeof l?.type === "string" ? l.type : undefined);
  if (manifest.license !== undefined) return one(manifest.license);
  if (Array.isArray(manifest.licenses) && manifest.licenses.length > 0) {
    const all = manifest.licenses.map(one);
    return all.every(Boolean) ? all.map((l) => (all.length > 1 ? `(${l})` : l)).join(" OR ") : undefined;
  }
  return undefined;
}

/** Whether an SPDX expression lets the package ship: an allowed license, any side of an OR, both sides of an AND. */
export function licenseAllowed(expression, allowed = ALLOWED_LICENSES) {
  if (!expression) return false;
  let tree;
  try {
    tree = parseSpdx(expression);
  } catch {
    return false; // "UNLICENSED", "SEE LICENSE IN …", misspellings: a person must look.
  }
  const ok = (node) => {
    if (node.conjunction === "or") return ok(node.left) || ok(node.right);
    if (node.conjunction === "and") return ok(node.left) && ok(node.right);
    // An exception (Apache-2.0 WITH LLVM-exception) only adds permissions; "+" means this version or later.
    return allowed.has(node.license);
  };
  return ok(tree);
}

/** The license/notice files among a package folder's entries, sorted. */
export function licenseFiles(names) {
  return names.filter((n) => LICENSE_FILE.test(n)).sort(compare);
}

/**
 * Why a package may not ship, as sentences (none: it may). pkg: { dir, name, version, license, files: [{ name, text }], shippedIn }.
 */
export function problemsOf(pkg) {
  const who = `${pkg.name}@${pkg.version} (${pkg.dir}, in ${pkg.shippedIn.join(", ")})`;
  const out = [];
  if (!licenseAllowed(pkg.license)) {
    const what = pkg.license ? `is licensed "${pkg.license}"` : "declares no license in its package.json";
    out.push(`${who} ${what}, which is not on the allow-list in scripts/notices.mjs (${[...ALLOWED_LICENSES].join(", ")}): it cannot ship in the VSIX.`);
  }
  if (pkg.files.length === 0) out.push(`${who} has no LICENSE, LICENCE, COPYING or NOTICE file: its license text cannot ship with it.`);
  return out;
}

/** The notices file for packages (any order): one section per name@version, sorted, so equal inputs give equal bytes. */
export function renderNotices(packages) {
  const merged = new Map();
  for (const p of [...packages].sort((a, b) => compare(a.dir, b.dir))) {
    const key = `${p.name}@${p.version}`;
    const seen = merged.get(key);
    if (seen) seen.shippedIn = [...new Set([...seen.shippedIn, ...p.shippedIn])].sort(compare);
    else merged.set(key, { ...p, shippedIn: [...p.shippedIn].sort(compare) });
  }
  const sections = [...merged.values()]
    .sort((a, b) => compare(a.name, b.name) || compare(a.version, b.version))
    .map((p) => {
      const texts = p.files.map((f) => `${p.files.length > 1 ? `${f.name}:\n\n` : ""}${fenced(f.text)}`);
      return [`## ${p.name} ${p.version}`, "", `License: ${p.license}  `, `Shipped in: ${p.shippedIn.join(", ")}`, "", ...texts.flatMap((t) => [t, ""])].join("\n");
    });
  return [
    "# Third-party notices",
    "",
    "Agent Switchboard's bundles and media files contain code and assets of the npm packages below, each",
    "listed with its license and the license text it ships. Generated by scripts/build.mjs (scripts/notices.mjs);",
    "do not edit.",
    "",
    ...sections,
  ]
    .join("\n")
    .replace(/\n+$/, "\n");
}

function fenced(text) {
  const body = text
    .replace(/^\uFEFF/, "")
    .replace(/\r\n?/g, "\n")
    .replace(/^\s*\n/, "")
    .replace(/\s+$/, "");
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((s) => s.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}text\n${body}\n${fence}`;
}

// Code-point order, not the locale's: the same bytes on every machine.
function compare(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Reads each shipped package's manifest and license files under root; the notices text and the problems (sentences) that must stop the build. */
export function collectNotices(root, metafiles, copied = []) {
  const packages = [...shippedPackages(metafiles, copied)].map(([dir, shippedIn]) => {
    const manifest = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
    const names = readdirSync(join(root, dir), { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name);
    const files = licenseFiles(names).map((name) => ({ name, text: readFileSync(join(root, dir, name), "utf8") }));
    return { dir, name: manifest.name, version: manifest.version, license: licenseExpression(manifest), files, shippedIn };
  });
  return { text: renderNotices(packages), problems: packages.flatMap(problemsOf), packages };
}
