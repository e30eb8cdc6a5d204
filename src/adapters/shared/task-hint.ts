// An endpoint's task hint, as every adapter derives it: the first non-blank line of the prompt, trimmed
// and cut to 200 characters (whole code points).

const TASK_HINT_MAX = 200;

export function firstLine(text: string): string {
  const line = text.split("\n").find((l) => l.trim()) ?? "";
  return [...line.trim()].slice(0, TASK_HINT_MAX).join("");
}
