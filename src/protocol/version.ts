// Versions of the wire contract and of this build.
declare const __SWITCHBOARD_VERSION__: string | undefined;

/** The package version, injected by the bundler; "0.0.0-dev" when run from source. */
export const SWITCHBOARD_VERSION: string = typeof __SWITCHBOARD_VERSION__ === "string" ? __SWITCHBOARD_VERSION__ : "0.0.0-dev";

/** MASONS local IPC protocol version this broker speaks (a superset of 1.x). */
export const PROTOCOL_VERSION = "1.1";
export const PROTOCOL_MAJOR = 1;

/** Major part of a "MAJOR.MINOR[.PATCH]" or "MAJOR.x" version string, or undefined if malformed. */
export function protocolMajor(version: string): number | undefined {
  const m = /^(\d+)(?:\.(?:\d+|x))*$/.exec(version.trim());
  return m ? Number(m[1]) : undefined;
}
