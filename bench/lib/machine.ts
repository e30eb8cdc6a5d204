// What every benchmark records about the machine and the build it measured.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import os from "node:os";

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

export function machineInfo(root: string, brokerEntry: string) {
  let commit: string | null = null;
  let dirty: boolean | null = null;
  try {
    const git = (args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8", timeout: 2000, stdio: ["ignore", "pipe", "ignore"] }).trim();
    commit = git(["rev-parse", "--short", "HEAD"]);
    dirty = git(["status", "--porcelain", "--", "src"]) !== "";
  } catch {
    commit = null;
  }
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    available_parallelism: os.availableParallelism(),
    cpu_model: cpus[0]?.model ?? null,
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    total_mem_mb: Math.round(os.totalmem() / 2 ** 20),
    loadavg_at_start: os.loadavg().map((x) => round(x, 2)),
    tmpdir: os.tmpdir(),
    shell: process.env.SHELL ?? null,
    git_commit: commit,
    src_dirty: dirty,
    broker_bundle_bytes: statSync(brokerEntry).size,
    broker_bundle_sha256: createHash("sha256").update(readFileSync(brokerEntry)).digest("hex").slice(0, 16),
    broker_bundle_mtime: statSync(brokerEntry).mtime.toISOString(),
  };
}
