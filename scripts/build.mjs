// Bundles every entry point with esbuild. One file per process keeps start-up fast and the VSIX small.
//   node scripts/build.mjs            development build (source maps)
//   node scripts/build.mjs --minify   release build (used by `npm run package`)
import { build } from "esbuild";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { collectNotices, NOTICES_FILE } from "./notices.mjs";

const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));
const minify = process.argv.includes("--minify");

const common = {
  bundle: true,
  target: "node20",
  sourcemap: minify ? false : "linked",
  minify,
  // The license texts go once into THIRD-PARTY-NOTICES.md (below), not as comments repeated in every bundle.
  legalComments: "none",
  // Which files went into which bundle: the notices are made from it.
  metafile: true,
  logLevel: "warning",
  define: { __SWITCHBOARD_VERSION__: JSON.stringify(pkg.version) },
  // jsonc-parser's "main" is a UMD build whose require() calls esbuild cannot follow; its ESM build bundles.
  alias: { "jsonc-parser": "jsonc-parser/lib/esm/main.js" },
};
const node = {
  ...common,
  platform: "node",
  format: "esm",
  // ws's optional native helpers are not shipped.
  external: ["bufferutil", "utf-8-validate"],
  // Bundled CommonJS deps (ws) call require(); give ESM bundles a real one.
  banner: { js: "import { createRequire as __sbCreateRequire } from 'node:module'; const require = __sbCreateRequire(import.meta.url);" },
};

const builds = [
  build({ ...node, entryPoints: ["src/broker/main.ts"], outfile: "dist/broker.js" }),
  build({ ...node, entryPoints: ["src/cli/main.ts"], outfile: "dist/cli.js", banner: { js: "#!/usr/bin/env node\n" + node.banner.js } }),
  // `switchboard acp` alone, as VS Code's New Agent Session… starts it: a long-lived process per agent
  // session that loads only what it needs (src/cli/acp-main.ts). Always minified: its resident memory
  // is a target (bench/acp.ts measures this file), and the source text stays on the heap while it runs.
  build({ ...node, entryPoints: ["src/cli/acp-main.ts"], outfile: "dist/acp.js", minify: true }),
  // The pi extension (`pi -e dist/pi-extension.js`). pi loads extensions with jiti: under our
  // "type": "module" package.json it imports this ESM natively; elsewhere jiti transpiles it to
  // CommonJS first, so `require` is declared with `var` (which may redeclare jiti's wrapper parameter).
  // pi itself is not bundled: the adapter imports the running pi's package at run time.
  build({
    ...node,
    entryPoints: ["src/adapters/pi/extension.ts"],
    outfile: "dist/pi-extension.js",
    external: [...node.external, "@mariozechner/pi-coding-agent"],
    banner: { js: "import { createRequire as __sbCreateRequire } from 'node:module'; var require = __sbCreateRequire(import.meta.url);" },
  }),
  // Claude Code's hooks: a small entry run for every hook event, and the per-session companion it starts.
  build({ ...node, entryPoints: ["src/adapters/claude/hook-main.ts"], outfile: "dist/claude-hook.js" }),
  build({ ...node, entryPoints: ["src/adapters/claude/companion-main.ts"], outfile: "dist/claude-companion.js" }),
];
if (existsSync("src/extension/extension.ts")) {
  // VS Code loads extensions as CommonJS; `vscode` is provided by the extension host.
  builds.push(
    build({
      ...common,
      platform: "node",
      format: "cjs",
      entryPoints: ["src/extension/extension.ts"],
      outfile: "dist/extension.cjs",
      external: ["vscode", "bufferutil", "utf-8-validate"],
      define: { ...common.define, "import.meta.url": "__sbImportMetaUrl" },
      banner: { js: "const __sbImportMetaUrl = require('url').pathToFileURL(__filename).href;" },
    }),
  );
}
const copied = [];
if (existsSync("src/webview/main.ts")) {
  builds.push(build({ ...common, platform: "browser", target: "chrome120", format: "iife", entryPoints: ["src/webview/main.ts"], outfile: "media/sidebar.js" }));
  await mkdir("media", { recursive: true });
  await copyFile("node_modules/@vscode/codicons/dist/codicon.css", "media/codicon.css");
  await copyFile("node_modules/@vscode/codicons/dist/codicon.ttf", "media/codicon.ttf");
  copied.push({ dir: "node_modules/@vscode/codicons", into: ["media/codicon.css", "media/codicon.ttf"] });
}
await mkdir("dist", { recursive: true });
const metafiles = (await Promise.all(builds)).map((r) => r.metafile);
// What the bundles contain (not shipped; test/unit/notices.test.ts checks the notices against it).
await writeFile("dist/bundles.meta.json", JSON.stringify({ metafiles, copied }));
const notices = collectNotices(".", metafiles, copied);
if (notices.problems.length > 0) {
  for (const p of notices.problems) console.error(`build: ${p}`);
  await rm(NOTICES_FILE, { force: true }); // no stale notices for `vsce package` to pick up
  process.exit(1);
}
await writeFile(NOTICES_FILE, notices.text);
// The Claude Code hook's shell fast path (it hands PreToolUse to a running companion with curl).
await copyFile("src/adapters/claude/claude-hook.sh", "dist/claude-hook.sh");
