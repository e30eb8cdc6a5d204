// THIRD-PARTY-NOTICES.md (scripts/notices.mjs, written by scripts/build.mjs): every npm package in a
// shipped bundle is credited with its license text, the file is the same bytes for the same inputs,
// the VSIX carries it, and a package under a license off the allow-list (or without a license file)
// stops the build with a sentence naming it. Needs `npm run build` first (as the test suites do).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { test } from "node:test";
import {
  collectNotices,
  type Copied,
  licenseAllowed,
  licenseExpression,
  licenseFiles,
  type Metafile,
  NOTICES_FILE,
  packageDirOf,
  problemsOf,
  renderNotices,
  type ShippedPackage,
  shippedPackages,
} from "../../scripts/notices.mjs";
import { ROOT } from "../support/paths.js";
import { packageVsix, vsixFiles } from "../support/vscode/vsix.js";

const NOTICES = join(ROOT, NOTICES_FILE);

function built(): { metafiles: Metafile[]; copied: Copied[]; notices: string } {
  const meta = join(ROOT, "dist/bundles.meta.json");
  assert.ok(existsSync(meta) && existsSync(NOTICES), "run `npm run build` first: it writes dist/bundles.meta.json and THIRD-PARTY-NOTICES.md");
  return { ...JSON.parse(readFileSync(meta, "utf8")), notices: readFileSync(NOTICES, "utf8") };
}

// What the VSIX ships, from .vscodeignore's allow-list: the bundles (.js/.cjs) and the copied codicons.
function shippedFromVscodeignore(): { bundles: string[]; codicons: string[] } {
  const allowed = readFileSync(join(ROOT, ".vscodeignore"), "utf8")
    .split("\n")
    .filter((l) => l.startsWith("!"))
    .map((l) => l.slice(1).trim());
  return { bundles: allowed.filter((f) => /\.c?js$/.test(f)), codicons: allowed.filter((f) => f.startsWith("media/codicon.")) };
}

// The package a file under node_modules belongs to, found the other way round from scripts/notices.mjs:
// walk up to the folder right under node_modules (or under node_modules/@scope).
function owningPackage(file: string): string {
  let dir = dirname(join(ROOT, file));
  for (;;) {
    const parent = dirname(dir);
    if (basename(parent) === "node_modules" || (basename(parent).startsWith("@") && basename(dirname(parent)) === "node_modules")) return dir;
    assert.notEqual(parent, dir, `${file} is not inside a package`);
    dir = parent;
  }
}

function normalised(text: string): string {
  return text
    .replace(/^\uFEFF/, "")
    .replace(/\r\n?/g, "\n")
    .trim();
}

test("every npm package in a shipped bundle is in THIRD-PARTY-NOTICES.md, with each of its license files' text", () => {
  const { metafiles, notices } = built();
  const { bundles, codicons } = shippedFromVscodeignore();
  const outputs = new Map(metafiles.flatMap((m) => Object.entries(m.outputs as Record<string, { inputs: Record<string, unknown>; bytes: number }>)));
  const packages = new Set<string>();
  for (const bundle of bundles) {
    const out = outputs.get(bundle);
    assert.ok(out, `${bundle} ships in the VSIX but the build reported no esbuild metafile for it`);
    // The metafile describes the bundle on disk now, not an older build.
    assert.equal(out.bytes, statSync(join(ROOT, bundle)).size, `${bundle} changed since dist/bundles.meta.json was written`);
    for (const input of Object.keys(out.inputs)) if (input.includes("node_modules/")) packages.add(owningPackage(input));
  }
  assert.ok(codicons.length > 0);
  packages.add(join(ROOT, "node_modules/@vscode/codicons"));
  assert.ok(packages.size >= 10, `only ${packages.size} packages found in the bundles`);

  const sections = new Map(
    notices
      .split(/^(?=## )/m)
      .slice(1)
      .map((s) => [s.slice(3, s.indexOf("\n")), s] as const),
  );
  const expected = new Set<string>();
  for (const dir of packages) {
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const heading = `${manifest.name} ${manifest.version}`;
    expected.add(heading);
    const section = sections.get(heading);
    assert.ok(section, `${heading} is bundled but not in ${NOTICES_FILE}`);
    const texts = readdirSync(dir).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f));
    assert.ok(texts.length > 0, `${heading} has no license file`);
    for (const f of texts) assert.ok(section.includes(normalised(readFileSync(join(dir, f), "utf8"))), `${NOTICES_FILE} lacks the text of ${heading}'s ${f}`);
  }
  // And nothing that does not ship is credited.
  assert.deepEqual([...sections.keys()].sort(), [...expected].sort());
});

test("the notices are deterministic: the same bytes whatever order esbuild reports inputs in", () => {
  const { metafiles, copied, notices } = built();
  const once = collectNotices(ROOT, metafiles, copied);
  assert.deepEqual(once.problems, []);
  assert.equal(once.text, notices, "THIRD-PARTY-NOTICES.md is not what scripts/notices.mjs makes from the build's metafiles");
  const reversed = metafiles
    .map((m) => ({
      outputs: Object.fromEntries(
        Object.entries(m.outputs)
          .reverse()
          .map(([o, v]) => [o, { inputs: Object.fromEntries(Object.entries(v.inputs).reverse()) }]),
      ),
    }))
    .reverse();
  assert.equal(collectNotices(ROOT, reversed, [...copied].reverse()).text, notices);
  assert.equal(renderNotices([...once.packages].reverse()), notices);
});

test("the VSIX carries THIRD-PARTY-NOTICES.md as the build wrote it", async () => {
  built();
  const vsix = await packageVsix(ROOT, { inPlace: true, extraArgs: ["--no-rewrite-relative-links"] });
  try {
    const files = vsixFiles(vsix);
    assert.ok(files.has("extension/dist/extension.cjs"), `unexpected VSIX layout: ${[...files.keys()].join(", ")}`);
    const inVsix = files.get(`extension/${NOTICES_FILE}`);
    assert.ok(inVsix, `the VSIX has no ${NOTICES_FILE}: add it to .vscodeignore's allow-list`);
    assert.equal(inVsix.toString("utf8"), readFileSync(NOTICES, "utf8"));
  } finally {
    rmSync(dirname(vsix), { recursive: true, force: true });
  }
});

test("a package under a license off the allow-list, or without a license file, is refused with a sentence naming it", () => {
  const pkg: ShippedPackage = {
    dir: "node_modules/copyleft-widget",
    name: "copyleft-widget",
    version: "1.2.3",
    license: "GPL-3.0-only",
    files: [{ name: "COPYING", text: "GNU GENERAL PUBLIC LICENSE" }],
    shippedIn: ["dist/cli.js"],
  };
  const [sentence, ...rest] = problemsOf(pkg);
  assert.deepEqual(rest, []);
  assert.match(sentence!, /^copyleft-widget@1\.2\.3 \(node_modules\/copyleft-widget, in dist\/cli\.js\) is licensed "GPL-3\.0-only", which is not on the allow-list/);
  assert.match(problemsOf({ ...pkg, license: "MIT", files: [] })[0]!, /^copyleft-widget@1\.2\.3 .* has no LICENSE, LICENCE, COPYING or NOTICE file/);
  assert.match(problemsOf({ ...pkg, license: undefined })[0]!, /declares no license/);
  assert.deepEqual(problemsOf({ ...pkg, license: "MIT" }), []);
});

test("which license expressions may ship: any side of OR, both sides of AND; unparsable ones may not", () => {
  for (const ok of ["MIT", "ISC", "Apache-2.0", "BSD-3-Clause", "0BSD", "(MIT OR GPL-3.0-only)", "MIT AND ISC", "Apache-2.0 WITH LLVM-exception", "(MIT OR Apache-2.0)"]) {
    assert.equal(licenseAllowed(ok), true, ok);
  }
  for (const no of [undefined, "", "GPL-3.0-only", "AGPL-3.0-or-later", "LGPL-2.1", "MIT AND GPL-2.0-only", "UNLICENSED", "SEE LICENSE IN LICENSE.txt", "MTI", "SSPL-1.0"]) {
    assert.equal(licenseAllowed(no), false, String(no));
  }
  assert.equal(licenseExpression({ license: "MIT" }), "MIT");
  assert.equal(licenseExpression({ license: { type: "ISC" } }), "ISC");
  assert.equal(licenseExpression({ licenses: [{ type: "MIT" }, { type: "Apache-2.0" }] }), "(MIT) OR (Apache-2.0)");
  assert.equal(licenseExpression({}), undefined);
});

test("bundle inputs map to their package folders: scoped, nested, esbuild namespaces; the project's own files to none", () => {
  assert.equal(packageDirOf("node_modules/ws/lib/websocket.js"), "node_modules/ws");
  assert.equal(packageDirOf("node_modules/@lit/reactive-element/development/css-tag.js"), "node_modules/@lit/reactive-element");
  assert.equal(packageDirOf("node_modules/a/node_modules/@s/b/index.js"), "node_modules/a/node_modules/@s/b");
  assert.equal(packageDirOf("(disabled):node_modules/x/y.js"), "node_modules/x");
  assert.equal(packageDirOf("src/broker/main.ts"), undefined);
  assert.deepEqual(licenseFiles(["README.md", "license", "LICENSE-CODE", "NOTICE.txt", "COPYING", "Licence.md", "licensed.js", "package.json"]), [
    "COPYING",
    "LICENSE-CODE",
    "Licence.md",
    "NOTICE.txt",
    "license",
  ]);
  const where = shippedPackages(
    [
      { outputs: { "dist/b.js": { inputs: { "node_modules/z/i.js": {}, "src/x.ts": {} } }, "dist/b.js.map": { inputs: {} } } },
      { outputs: { "dist/a.js": { inputs: { "node_modules/z/j.js": {}, "node_modules/@s/y/k.js": {} } } } },
    ],
    [{ dir: "node_modules/@s/y", into: ["media/y.css"] }],
  );
  assert.deepEqual(
    [...where],
    [
      ["node_modules/@s/y", ["dist/a.js", "media/y.css"]],
      ["node_modules/z", ["dist/a.js", "dist/b.js"]],
    ],
  );
});

test("collectNotices reads a fabricated node_modules and refuses its GPL package (the build's own path, no real install)", () => {
  const root = mkdtempSync(join(tmpdir(), "sb-notices-"));
  try {
    const add = (name: string, manifest: object, files: Record<string, string>) => {
      const dir = join(root, "node_modules", name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", ...manifest }));
      for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    };
    add("fine", { license: "MIT" }, { LICENSE: "\uFEFFMIT License\r\n\r\nCopyright (c) Fine\r\n" });
    add("@gnu/thing", { license: "GPL-2.0-or-later" }, { COPYING: "GNU GENERAL PUBLIC LICENSE" });
    add("ticks", { license: "ISC" }, { LICENSE: "ISC, see ```quoted```" });
    const meta = {
      outputs: { "dist/cli.js": { inputs: { "node_modules/fine/index.js": {}, "node_modules/@gnu/thing/lib/x.js": {}, "node_modules/ticks/t.js": {}, "src/cli/main.ts": {} } } },
    };
    const r = collectNotices(root, [meta]);
    assert.equal(r.problems.length, 1);
    assert.match(r.problems[0]!, /^@gnu\/thing@1\.0\.0 \(node_modules\/@gnu\/thing, in dist\/cli\.js\) is licensed "GPL-2\.0-or-later"/);
    assert.match(r.text, /## fine 1\.0\.0\n\nLicense: MIT {2}\nShipped in: dist\/cli\.js\n\n```text\nMIT License\n\nCopyright \(c\) Fine\n```\n/);
    // A license text with a fence in it cannot end its own block early.
    assert.ok(r.text.includes("\n````text\nISC, see ```quoted```\n````\n"));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
