// "Allow similar…": a rule generalised from one request, for the person to review before saving.
// `npm run test:unit` → `npm run test:*`; `git log --oneline -5` → `git log *`; an edit of
// `src/a/b.ts` → `src/a/**`. Pure.
import { posix } from "node:path";
import type { PolicyDecision, Rule } from "../protocol/policy.js";
import { analyzeShell } from "./shell.js";
import { unwrap } from "./unwrap.js";

const SUBCOMMAND = /^[A-Za-z][\w.-]*$/;

export function proposeRule(
  req: { command?: string | null; edit?: string | null; cwd?: string | null; workspace?: string | null },
  decision: PolicyDecision = "allow",
): Rule | string {
  if (req.command) {
    const analysis = analyzeShell(req.command);
    const first = analysis.commands.find((c) => c.words.length > 0 && c.via.length === 0) ?? analysis.commands.find((c) => c.words.length > 0);
    if (!first) return "the command runs nothing a rule could name";
    const run = unwrap(first.words, first.assignments).runs[0];
    const words = run?.words ?? [];
    if (!words[0] || words[0].value === null) return "the command's name is computed by the shell, so no rule can allow it";
    const out = [quote(words[0].value)];
    let colon = false;
    for (const w of words.slice(1, 3)) {
      if (w.value === null || w.value.startsWith("-")) break;
      if (/^[\w.-]+:[^\s*]+$/.test(w.value)) {
        out.push(quote(w.value.slice(0, w.value.indexOf(":") + 1)) + "*");
        colon = true;
        break;
      }
      if (!SUBCOMMAND.test(w.value) || out.length >= 2) break;
      out.push(quote(w.value));
    }
    const command = colon ? out.join(" ") : [...out, "*"].join(" ");
    return { id: slug(`${decision}-${command}`), decision, command };
  }
  if (req.edit) {
    const root = req.workspace ?? req.cwd;
    if (!root) return "there is no workspace to make the path relative to";
    const rel = posix.relative(root, posix.resolve(req.cwd ?? root, req.edit));
    if (!rel || rel.startsWith("..") || posix.isAbsolute(rel)) return "the file is outside the workspace, which always asks";
    const dir = posix.dirname(rel);
    const edit = dir === "." ? rel : `${dir}/**`;
    return { id: slug(`${decision}-edit-${edit}`), decision, edit };
  }
  return "the request has neither a command nor a path";
}

function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "")}'`;
}

function slug(text: string): string {
  const s = text
    .replace(/\*+/g, "any")
    .replace(/[^A-Za-z0-9_.:@/+-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "");
  return s.slice(0, 100) || "rule";
}
