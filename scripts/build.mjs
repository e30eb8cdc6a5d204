// Bundles every entry point with esbuild. One file per process keeps start-up fast and the VSIX small.
import { build } from "esbuild";
import { readFile } from "node:fs/promises";

const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));
const minify = process.argv.includes("--minify");

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: minify ? false : "linked",
  minify,
  legalComments: "none",
  logLevel: "warning",
  external: ["bufferutil", "utf-8-validate"],
  define: { __SWITCHBOARD_VERSION__: JSON.stringify(pkg.version) },
  // Bundled CommonJS deps (ws) call require(); give ESM bundles a real one.
  banner: { js: "import { createRequire as __sbCreateRequire } from 'node:module'; const require = __sbCreateRequire(import.meta.url);" },
};

await Promise.all([
  build({ ...common, entryPoints: ["src/broker/main.ts"], outfile: "dist/broker.js" }),
  build({
    ...common,
    entryPoints: ["src/cli/main.ts"],
    outfile: "dist/cli.js",
    banner: { js: "#!/usr/bin/env node\n" + common.banner.js },
  }),
]);
