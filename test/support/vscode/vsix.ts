// Packages an extension folder into a VSIX with @vscode/vsce (a devDependency), offline.
//   const vsix = await packageVsix("test/fixtures/hello-ext");
// By default the folder is copied to a temp dir first (without node_modules, .git, .vscode-test,
// test-artifacts) so nothing is written into it; `inPlace: true` packages the folder itself (use
// that when the manifest's vscode:prepublish script needs node_modules, e.g. to bundle). Always
// --no-dependencies: bundle the extension first if it has runtime dependencies.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const VSCE = fileURLToPath(new URL("../../../node_modules/@vscode/vsce/vsce", import.meta.url));

export interface PackageVsixOptions {
  /** Where the .vsix goes; default <tmp>/sb-vsix-XXXX/<folder name>.vsix. */
  outFile?: string;
  /** Bound on vsce; default 120 s. */
  timeoutMs?: number;
  /** Run vsce in the folder itself instead of a temp copy. */
  inPlace?: boolean;
  /** More vsce arguments, e.g. ["--no-rewrite-relative-links"] for a README with relative links and no repository field. */
  extraArgs?: string[];
}

const SKIP = new Set(["node_modules", ".git", ".vscode-test", "test-artifacts"]);

export async function packageVsix(extensionDir: string, o: PackageVsixOptions = {}): Promise<string> {
  const src = resolve(extensionDir);
  if (!existsSync(join(src, "package.json"))) throw new Error(`no package.json in ${src}`);
  if (!existsSync(VSCE)) throw new Error(`@vscode/vsce is not installed (${VSCE}): run npm ci`);
  const work = await mkdtemp(join(tmpdir(), "sb-vsix-"));
  const copy = o.inPlace ? src : join(work, basename(src));
  const outFile = resolve(o.outFile ?? join(work, `${basename(src)}.vsix`));
  mkdirSync(dirname(outFile), { recursive: true });
  if (!o.inPlace) {
    cpSync(src, copy, {
      recursive: true,
      filter: (p) => p === src || (!SKIP.has(basename(p)) && !p.endsWith(".vsix")) || dirname(p) !== src,
    });
  }
  const args = [VSCE, "package", "--no-dependencies", "--allow-missing-repository", "--skip-license", ...(o.extraArgs ?? []), "--out", outFile];
  try {
    await new Promise<void>((resolveRun, reject) => {
      execFile(process.execPath, args, { cwd: copy, timeout: o.timeoutMs ?? 120_000, env: { ...process.env, CI: "1" } }, (err, stdout, stderr) => {
        if (err) reject(new Error(`vsce package failed for ${src}: ${err.message}\n${stdout}${stderr}`));
        else resolveRun();
      });
    });
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    throw err;
  } finally {
    if (!o.inPlace) await rm(copy, { recursive: true, force: true });
  }
  if (dirname(outFile) !== work) await rm(work, { recursive: true, force: true });
  if (!existsSync(outFile)) throw new Error(`vsce did not write ${outFile}`);
  return outFile;
}
