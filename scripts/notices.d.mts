// Types of scripts/notices.mjs (plain JavaScript so that `node scripts/build.mjs` runs it as is), for the tests.
export interface Metafile {
  outputs: Record<string, { inputs: Record<string, unknown> }>;
}
export interface Copied {
  dir: string;
  into: string[];
}
export interface ShippedPackage {
  dir: string;
  name: string;
  version: string;
  license: string | undefined;
  files: { name: string; text: string }[];
  shippedIn: string[];
}
export const NOTICES_FILE: string;
export const ALLOWED_LICENSES: Set<string>;
export function packageDirOf(input: string): string | undefined;
export function shippedPackages(metafiles: Metafile[], copied?: Copied[]): Map<string, string[]>;
export function licenseExpression(manifest: { license?: unknown; licenses?: unknown }): string | undefined;
export function licenseAllowed(expression: string | undefined, allowed?: Set<string>): boolean;
export function licenseFiles(names: string[]): string[];
export function problemsOf(pkg: ShippedPackage): string[];
export function renderNotices(packages: ShippedPackage[]): string;
export function collectNotices(root: string, metafiles: Metafile[], copied?: Copied[]): { text: string; problems: string[]; packages: ShippedPackage[] };
