// Installing the adapter into pi's extensions folder (`switchboard install pi`, and whatever else wants
// to offer it, e.g. a VS Code command). pi auto-discovers `<agentDir>/extensions/<name>/` folders whose
// package.json names the entry in `pi.extensions`. The folder holds a small stub that imports the
// bundle from the Switchboard installation (dist/pi-extension.js, beside dist/broker.js, which it
// spawns), so the stub never goes stale in content; after moving or upgrading Switchboard, run the
// install again (the stub says so if its bundle is gone).
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { piAgentDir } from "./settings.js";

export const INSTALL_FOLDER = "agent-switchboard";
const MARKER = "Installed by `switchboard install pi`";

export interface InstallOptions {
  /** dist/pi-extension.js of this Switchboard installation. */
  bundle: string;
  /** pi's extensions folder; default `<PI_CODING_AGENT_DIR or ~/.pi/agent>/extensions`. */
  extensionsDir?: string;
  /** Options baked into the stub (e.g. a broker state folder other than the default). */
  options?: { home?: string };
  version: string;
  env?: NodeJS.ProcessEnv;
}

export interface InstallResult {
  folder: string;
  entry: string;
  bundle: string;
  /** An earlier install was replaced. */
  replaced: boolean;
}

export function defaultExtensionsDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(piAgentDir(env), "extensions");
}

export function stubSource(bundle: string, options: { home?: string }, version: string): string {
  const url = pathToFileURL(resolve(bundle)).href;
  return `// ${MARKER} (Agent Switchboard ${version}).
// It loads the Switchboard adapter for pi from the Switchboard installation named below. Run
// \`switchboard install pi\` again after moving or upgrading Switchboard; delete this folder (or run
// \`switchboard install pi --uninstall\`) to remove it.
const bundle = ${JSON.stringify(url)};
const options = ${JSON.stringify(options)};

export default async function agentSwitchboard(pi) {
  let mod;
  try {
    mod = await import(bundle);
  } catch (err) {
    process.stderr.write(\`[switchboard] the Switchboard extension for pi could not be loaded from \${bundle} (\${err && err.message ? err.message : err}). Run \\\`switchboard install pi\\\` again.\\n\`);
    return;
  }
  return mod.createSwitchboardExtension(options)(pi);
}
`;
}

export async function installPiExtension(opts: InstallOptions): Promise<InstallResult> {
  const bundle = resolve(opts.bundle);
  if (!existsSync(bundle)) throw new Error(`The pi extension bundle ${bundle} does not exist; build Switchboard first (npm run build).`);
  const folder = join(opts.extensionsDir ?? defaultExtensionsDir(opts.env), INSTALL_FOLDER);
  const entry = join(folder, "index.js");
  const replaced = existsSync(entry);
  if (replaced && !(await isOurs(folder))) throw new Error(`${folder} exists and was not created by Switchboard; move it away first.`);
  await mkdir(folder, { recursive: true });
  const write = async (file: string, text: string) => {
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, file);
  };
  await write(
    join(folder, "package.json"),
    JSON.stringify({ name: "agent-switchboard-pi", private: true, type: "module", description: MARKER, pi: { extensions: ["./index.js"] } }, null, 2) + "\n",
  );
  await write(entry, stubSource(bundle, opts.options ?? {}, opts.version));
  return { folder, entry, bundle, replaced };
}

/** Removes the folder an install created; false if there was none. */
export async function uninstallPiExtension(opts: { extensionsDir?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ folder: string; removed: boolean }> {
  const folder = join(opts.extensionsDir ?? defaultExtensionsDir(opts.env), INSTALL_FOLDER);
  if (!existsSync(folder)) return { folder, removed: false };
  if (!(await isOurs(folder))) throw new Error(`${folder} was not created by Switchboard; not removing it.`);
  await rm(folder, { recursive: true, force: true });
  return { folder, removed: true };
}

async function isOurs(folder: string): Promise<boolean> {
  const text = await readFile(join(folder, "index.js"), "utf8").catch(() => "");
  return text.includes(MARKER);
}
