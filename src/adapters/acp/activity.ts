// The session's state as its task hint in the sidebar (pure): `working: <first line of the prompt>`,
// `waiting for approval: <summary>` or `idle`, and `(N queued)` while prompts wait.

export type Activity = "starting" | "idle" | "working" | "waiting for approval";

const TASK_HINT_MAX = 200;

/** The first non-blank line, trimmed and cut to TASK_HINT_MAX characters (not UTF-16 units). */
export function firstLine(text: string): string {
  const line = text.split("\n").find((l) => l.trim()) ?? "";
  return [...line.trim()].slice(0, TASK_HINT_MAX).join("");
}

export function hintText(activity: Activity, about: string, waiting: number): string {
  return `${activity}${about && activity !== "idle" ? `: ${about}` : ""}${waiting ? ` (${waiting} queued)` : ""}`.slice(0, 1000);
}
