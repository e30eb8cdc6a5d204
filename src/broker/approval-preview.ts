// Bounded texts of an approval. Listings, observer snapshots and feed changes carry a preview whose
// long texts are cut (docs/protocol.md section 9, "Previews"), so what they cost does not follow what
// an agent sent. A policy verdict is bounded where it is made: it explains a command part by part and
// each part (and its sentence) quotes the command, so an unbounded verdict of a 64 KiB command would
// carry it twice more, in the journal, in memory and in every listing and snapshot.
import { APPROVAL_PREVIEW_BYTES, type Approval, type ApprovalPolicy, type PartVerdict } from "../protocol/index.js";

/** A verdict's sentence, and each part's text and reason, at most (cut in the middle). */
export const VERDICT_TEXT_BYTES = 1024;
/** A verdict's parts at most, and their texts together at most; parts beyond either are left out. */
export const VERDICT_MAX_PARTS = 50;
export const VERDICT_PARTS_BYTES = 8 * 1024;

/** UTF-8 bytes of `text`, without measuring when its length alone shows it is at most `max`. */
function fits(text: string, max: number): boolean {
  return text.length * 3 <= max || Buffer.byteLength(text) <= max;
}

/** The longest start of `text` of at most `max` UTF-8 bytes, on a character boundary. */
export function utf8Head(text: string, max: number): string {
  if (fits(text, max)) return text;
  // Not half a surrogate pair either: it would become U+FFFD.
  const buf = Buffer.from(text.slice(0, max).replace(/[\uD800-\uDBFF]$/, ""));
  let end = Math.min(buf.length, max);
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--; // not inside a character
  return buf.toString("utf8", 0, end);
}

/** The longest end of `text` of at most `max` UTF-8 bytes, on a character boundary. */
function utf8Tail(text: string, max: number): string {
  const buf = Buffer.from(text.slice(-max).replace(/^[\uDC00-\uDFFF]/, ""));
  let start = Math.max(0, buf.length - max);
  while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
  return buf.toString("utf8", start);
}

/** `text` in at most `max` UTF-8 bytes: its start and its end with "…" between (a sentence keeps its ending). */
export function cutMiddle(text: string, max: number): string {
  if (fits(text, max)) return text;
  const room = max - 3; // "…" is 3 bytes
  const tail = Math.floor(room / 4);
  return `${utf8Head(text, room - tail)}…${utf8Tail(text, tail)}`;
}

/** `p` with its texts bounded (the same object when they already are). */
export function boundVerdict(p: ApprovalPolicy): ApprovalPolicy {
  const reason = cutMiddle(p.reason, VERDICT_TEXT_BYTES);
  let budget = VERDICT_PARTS_BYTES;
  let changed = reason !== p.reason || p.parts.length > VERDICT_MAX_PARTS;
  const parts: PartVerdict[] = [];
  for (const part of p.parts.slice(0, VERDICT_MAX_PARTS)) {
    const text = cutMiddle(part.part, VERDICT_TEXT_BYTES);
    const why = cutMiddle(part.reason, VERDICT_TEXT_BYTES);
    const size = Buffer.byteLength(text) + Buffer.byteLength(why);
    if (size > budget) {
      changed = true;
      break;
    }
    budget -= size;
    if (text !== part.part || why !== part.reason) {
      changed = true;
      parts.push({ ...part, part: text, reason: why });
    } else parts.push(part);
  }
  return changed ? { ...p, reason, parts } : p;
}

/**
 * Previews already made, by approval. The store replaces an approval when it changes and never edits
 * one, so a preview stays right as long as its approval lives; a listing or a snapshot of thousands
 * then costs a lookup each. Previews are shared: never change one.
 */
const previews = new WeakMap<Approval, Approval>();

/** `a` with long texts cut to a preview (on a character boundary) and `truncated` saying what was cut; its verdict bounded. */
export function approvalPreview(a: Approval): Approval {
  let p = previews.get(a);
  if (!p) previews.set(a, (p = makePreview(a)));
  return p;
}

function makePreview(a: Approval): Approval {
  let truncated: Record<string, number> | undefined;
  const cut = (field: "command" | "detail" | "diff"): string | null => {
    const text = a[field];
    if (text === null || fits(text, APPROVAL_PREVIEW_BYTES)) return text;
    (truncated ??= {})[field] = Buffer.byteLength(text);
    return utf8Head(text, APPROVAL_PREVIEW_BYTES);
  };
  const command = cut("command");
  const detail = cut("detail");
  const diff = cut("diff");
  // Verdicts are bounded when made; one journaled by an older broker is bounded here.
  const policy = a.policy ? boundVerdict(a.policy) : a.policy;
  if (!truncated && policy === a.policy) return a;
  return { ...a, command, detail, diff, ...(policy !== a.policy ? { policy } : {}), ...(truncated ? { truncated } : {}) };
}
