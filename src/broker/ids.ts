// Ids and timestamps of the broker's records, cheap because several are made per message.
import { randomBytes } from "node:crypto";

// Timestamps repeat within a millisecond (several per message): format each millisecond once.
let nowMs = 0;
let nowIso = "";
export const now = () => {
  const ms = Date.now();
  if (ms !== nowMs) {
    nowMs = ms;
    nowIso = new Date(ms).toISOString();
  }
  return nowIso;
};

// Ids need to be unique, not secret (owner tokens and approval ids are the secrets): a random
// per-process prefix plus a counter is unique across restarts and far cheaper than random bytes per id.
const ID_PREFIX = randomBytes(9).toString("base64url");
let idCounter = 0;
export const newId = (prefix: string) => `${prefix}_${ID_PREFIX}${(++idCounter).toString(36)}`;

export function truncateCodePoints(text: string, max: number): string {
  const cps = Array.from(text);
  return cps.length > max ? cps.slice(0, max).join("") : text;
}
