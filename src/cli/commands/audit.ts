// `switchboard audit`: check (or list) the approval audit log's SHA-256 chain.
import { readFile } from "node:fs/promises";
import { parseAuditLines, verifyChain } from "../../platform/audit-chain.js";
import { CliError, UsageError, api, json, out, type CommandSpec, type Ctx } from "../context.js";
import { visibleJson } from "../../protocol/index.js";

async function audit(ctx: Ctx): Promise<number> {
  const [sub = "verify"] = ctx.args;
  if (sub !== "verify" && sub !== "list") throw new UsageError(`Unknown audit command "${sub}"; use verify or list.`);
  const file = typeof ctx.values.file === "string" ? ctx.values.file : undefined;
  const records = file
    ? parseAuditLines(await readFile(file, "utf8").catch((e: Error) => Promise.reject(new CliError(`Cannot read ${file}: ${e.message}`))))
    : (await (await api(ctx)).auditAll()).records;
  if (sub === "list") {
    if (ctx.json) return json(records);
    out(records.map((r) => visibleJson(r)).join("\n") || "The audit log is empty.");
    return 0;
  }
  const check = verifyChain(records);
  if (ctx.json) json(check);
  else if (check.ok) out(`The audit log is intact: ${check.count} record${check.count === 1 ? "" : "s"}, head ${check.head.slice(0, 16)}….`);
  else out(`The audit log is broken at record ${check.index + 1} (seq ${visibleJson(check.seq)}): it ${check.problem}.`);
  return check.ok ? 0 : 1;
}

export const spec: CommandSpec = {
  name: "audit",
  usage: `  audit verify [--file PATH]       Check the approval audit log's SHA-256 chain`,
  options: { file: { type: "string" } },
  maxArgs: { verify: 0, list: 0 },
  run: audit,
};
