// What a gate does when no broker can be reached: fail closed. Every adapter (pi, Claude Code, ACP)
// denies the gated call with a sentence saying why and how to fix it, unless the user opted into
// running unreviewed with the adapter's own variable (SWITCHBOARD_PI_OFFLINE, SWITCHBOARD_CLAUDE_OFFLINE…).

export type OfflinePolicy = "block" | "allow";

/** "block" or "allow" from a setting or variable (case and spaces ignored); undefined for anything else. */
export function parseOfflinePolicy(value: unknown): OfflinePolicy | undefined {
  const v = typeof value === "string" ? value.trim().toLowerCase() : value;
  return v === "block" || v === "allow" ? v : undefined;
}

/** The sentence a blocked call gets back: what happened, and the two ways out. */
export function offlineDenial(why: string, envVar: string): string {
  return `Not run: Switchboard approval is required, but the broker cannot be reached (${why}). Start it (VS Code with Agent Switchboard, or \`switchboard broker\`), or set ${envVar}=allow.`;
}
