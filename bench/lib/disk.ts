// The durability floor: how long one small append + fdatasync takes on the disk that holds the
// journal (the broker answers a message only after such a sync, shared by a batch of messages).
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { summarize, type Summary } from "./stats.js";

export async function fdatasyncFloor(dir: string, samples: number, recordBytes = 600): Promise<Summary> {
  const file = join(dir, "fsync-probe.ndjson");
  const fh = await open(file, "a", 0o600);
  const line = Buffer.from("x".repeat(recordBytes - 1) + "\n");
  const ms: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const t0 = process.hrtime.bigint();
      await fh.write(line, 0, line.length);
      await fh.datasync();
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    await fh.close();
    await rm(file, { force: true });
  }
  return summarize(ms);
}
