// Packages an extension folder into a VSIX with @vscode/vsce (a devDependency), offline.
//   const vsix = await packageVsix("test/fixtures/hello-ext");
// By default the folder is copied to a temp dir first (without node_modules, .git, .vscode-test,
// test-artifacts) so nothing is written into it; `inPlace: true` packages the folder itself (use
// that when the manifest's vscode:prepublish script needs node_modules, e.g. to bundle). Always
// --no-dependencies: bundle the extension first if it has runtime dependencies.
//   const files = vsixFiles(vsix);   // "extension/package.json" → its bytes, as VS Code would unpack them
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";

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

/**
 * The files of a VSIX (a zip: vsce writes stored or deflated entries) by path inside it. Reads the
 * central directory at the end, then each entry's data after its local header.
 */
export function vsixFiles(vsixPath: string): Map<string, Buffer> {
  const zip = readFileSync(vsixPath);
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error(`${vsixPath} is not a zip file (no end of central directory)`);
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const files = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`${vsixPath}: bad central directory entry ${i}`);
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    const local = zip.readUInt32LE(at + 42);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + size);
    if (method !== 0 && method !== 8) throw new Error(`${vsixPath}: ${name} uses zip method ${method}`);
    files.set(name, method === 8 ? inflateRawSync(data) : Buffer.from(data));
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return files;
}
