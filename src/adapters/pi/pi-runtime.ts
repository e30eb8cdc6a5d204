// The running pi's own module (@mariozechner/pi-coding-agent), for its bash tool. The adapter bundle
// does not contain pi: it uses the copy that loaded it, so that the bash tool behaves exactly like the
// one pi ships (truncation, temp files, messages). When the bundle is imported natively the bare
// specifier may not resolve (pi is not installed next to Switchboard), so the package is first looked
// up from the script pi was started with.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

type PiModule = typeof import("@mariozechner/pi-coding-agent");

/** The parts of pi's API the adapter uses. */
export interface PiRuntime {
  createBashToolDefinition: PiModule["createBashToolDefinition"];
  createLocalBashOperations: PiModule["createLocalBashOperations"];
  getShellConfig: PiModule["getShellConfig"] | undefined;
  /** where it was loaded from */
  source: string;
}

const PACKAGE = "@mariozechner/pi-coding-agent";

/** Package folders of pi above the entry script (`pi` is usually a symlink into node_modules). */
export function piPackageCandidates(script: string | undefined): string[] {
  if (!script) return [];
  let file: string;
  try {
    file = realpathSync(script);
  } catch {
    return [];
  }
  const found: string[] = [];
  for (let dir = dirname(file), i = 0; i < 8; i++, dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        const json = JSON.parse(readFileSync(pkg, "utf8")) as { name?: unknown };
        if (json.name === PACKAGE || (typeof json.name === "string" && json.name.endsWith("/pi-coding-agent"))) found.push(dir);
      } catch {
        // not a usable package.json; keep looking upwards
      }
    }
    if (dirname(dir) === dir) break;
  }
  return found;
}

export async function loadPiRuntime(script = process.argv[1]): Promise<{ runtime?: PiRuntime; error?: string }> {
  const specifiers = [...piPackageCandidates(script).map((dir) => pathToFileURL(join(dir, "dist", "index.js")).href), PACKAGE];
  const errors: string[] = [];
  for (const spec of specifiers) {
    try {
      const mod = (await import(/* @vite-ignore */ spec)) as Partial<PiModule>;
      if (typeof mod.createBashToolDefinition !== "function" || typeof mod.createLocalBashOperations !== "function") {
        errors.push(`${spec} has no createBashToolDefinition`);
        continue;
      }
      return {
        runtime: {
          createBashToolDefinition: mod.createBashToolDefinition,
          createLocalBashOperations: mod.createLocalBashOperations,
          getShellConfig: typeof mod.getShellConfig === "function" ? mod.getShellConfig : undefined,
          source: spec,
        },
      };
    } catch (err) {
      errors.push(`${spec}: ${(err as Error).message}`);
    }
  }
  return { error: errors.join("; ") || "no candidate" };
}
