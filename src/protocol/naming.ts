// How sessions are named and shown: pure, no imports (the sidebar bundle uses it too).

/**
 * Whether a session's name only repeats its command (a `switchboard run` without --session is named
 * after what it runs, possibly cut with "…"): places that show both show the command alone.
 */
export function sessionRepeatsCommand(session: string, command: string): boolean {
  const named = session.replace(/…$/, "");
  return named !== "" && command.replace(/\s+/g, " ").trim().startsWith(named);
}
