// A unified line diff (what `diff -u` / `git diff` print), for showing a reviewer what a `write` or
// `edit` tool call would change. Pure. Myers' O(ND) algorithm after trimming the common prefix and
// suffix; past `maxEditDistance` it gives up on finding the shortest script and shows the differing
// middle as removed-then-added, which is still a correct diff. Output is capped at `maxBytes`.

export interface UnifiedDiffOptions {
  /** Lines of context around each change; default 3. */
  context?: number;
  /** Cap on the output (UTF-16 code units); default 256 KiB. Beyond it the diff ends with a note. */
  maxBytes?: number;
  /** Edit distance beyond which Myers stops (its cost grows with its square); default 2000. */
  maxEditDistance?: number;
}

type Op = { t: " " | "-" | "+"; line: string };

interface Lines {
  lines: string[];
  /** The text does not end with a newline (and is not empty). */
  noEol: boolean;
}

function splitLines(text: string): Lines {
  if (text === "") return { lines: [], noEol: false };
  const lines = text.split("\n");
  const noEol = lines[lines.length - 1] !== "";
  if (!noEol) lines.pop();
  return { lines, noEol };
}

/** The shortest edit script between two line arrays (Myers), or undefined past `maxD`. */
export function myersOps(a: readonly string[], b: readonly string[], maxD: number): Op[] | undefined {
  const n = a.length;
  const m = b.length;
  const trace: Int32Array[] = [];
  const limit = Math.min(maxD, n + m);
  for (let d = 0; d <= limit; d++) {
    const prev = trace[d - 1];
    const cur = new Int32Array(2 * d + 1);
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (d === 0) x = 0;
      else if (k === -d || (k !== d && prev![k - 1 + d - 1]! < prev![k + 1 + d - 1]!)) x = prev![k + 1 + d - 1]!;
      else x = prev![k - 1 + d - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      cur[k + d] = x;
      if (x >= n && y >= m) {
        trace.push(cur);
        return backtrack(a, b, trace, d);
      }
    }
    trace.push(cur);
  }
  return undefined;
}

function backtrack(a: readonly string[], b: readonly string[], trace: Int32Array[], D: number): Op[] {
  const ops: Op[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = D; d > 0; d--) {
    const prev = trace[d - 1]!;
    const k = x - y;
    const down = k === -d || (k !== d && prev[k - 1 + d - 1]! < prev[k + 1 + d - 1]!);
    const prevK = down ? k + 1 : k - 1;
    const prevX = prev[prevK + d - 1]!;
    const prevY = prevX - prevK;
    const midX = down ? prevX : prevX + 1;
    while (x > midX) ops.push({ t: " ", line: a[--x]! }), y--;
    if (down) ops.push({ t: "+", line: b[prevY]! });
    else ops.push({ t: "-", line: a[prevX]! });
    x = prevX;
    y = prevY;
  }
  while (x > 0) ops.push({ t: " ", line: a[--x]! });
  return ops.reverse();
}

/**
 * A unified diff from `oldText` to `newText` with `--- oldLabel` / `+++ newLabel` headers; "" when
 * they are equal. Use "/dev/null" as the old label for a new file.
 */
export function unifiedDiff(oldText: string, newText: string, oldLabel: string, newLabel: string, opts: UnifiedDiffOptions = {}): string {
  if (oldText === newText) return "";
  const ctx = opts.context ?? 3;
  const maxBytes = opts.maxBytes ?? 256 * 1024;
  const A = splitLines(oldText);
  const B = splitLines(newText);
  const a = A.lines;
  const b = B.lines;
  // Lines without a final newline differ from the same text with one: mark them so they do not match.
  const EOL_MARK = "\u0000noeol";
  if (A.noEol && a.length) a[a.length - 1] += EOL_MARK;
  if (B.noEol && b.length) b[b.length - 1] += EOL_MARK;

  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const midA = a.slice(pre, a.length - suf);
  const midB = b.slice(pre, b.length - suf);
  const middle = (midA.length && midB.length ? myersOps(midA, midB, opts.maxEditDistance ?? 2000) : undefined) ?? [
    ...midA.map((line): Op => ({ t: "-", line })),
    ...midB.map((line): Op => ({ t: "+", line })),
  ];
  const ops: Op[] = [...a.slice(0, pre).map((line): Op => ({ t: " ", line })), ...middle, ...a.slice(a.length - suf).map((line): Op => ({ t: " ", line }))];

  const out: string[] = [`--- ${oldLabel}`, `+++ ${newLabel}`];
  let size = out[0]!.length + out[1]!.length + 2;
  let truncatedAt: number | undefined;
  const emit = (text: string): boolean => {
    if (size + text.length + 1 > maxBytes) return false;
    out.push(text);
    size += text.length + 1;
    return true;
  };

  // Old/new line number before each op.
  const oldNo: number[] = [];
  const newNo: number[] = [];
  for (let i = 0, o = 0, nn = 0; i < ops.length; i++) {
    oldNo.push(o);
    newNo.push(nn);
    if (ops[i]!.t !== "+") o++;
    if (ops[i]!.t !== "-") nn++;
  }
  const changes = ops.flatMap((op, i) => (op.t === " " ? [] : [i]));
  let ci = 0;
  hunks: while (ci < changes.length) {
    const start = Math.max(0, changes[ci]! - ctx);
    let end = changes[ci]! + 1;
    while (ci + 1 < changes.length && changes[ci + 1]! - end <= 2 * ctx) end = changes[++ci]! + 1;
    ci++;
    end = Math.min(ops.length, end + ctx);
    const slice = ops.slice(start, end);
    const oldCount = slice.filter((op) => op.t !== "+").length;
    const newCount = slice.filter((op) => op.t !== "-").length;
    const oldStart = oldCount ? oldNo[start]! + 1 : oldNo[start]!;
    const newStart = newCount ? newNo[start]! + 1 : newNo[start]!;
    if (!emit(`@@ -${range(oldStart, oldCount)} +${range(newStart, newCount)} @@`)) {
      truncatedAt = start;
      break;
    }
    for (const [j, op] of slice.entries()) {
      const noEol = op.line.endsWith(EOL_MARK);
      const text = op.t + (noEol ? op.line.slice(0, -EOL_MARK.length) : op.line);
      if (!emit(text) || (noEol && !emit("\\ No newline at end of file"))) {
        truncatedAt = start + j;
        break hunks;
      }
    }
  }
  if (truncatedAt !== undefined) {
    const rest = ops.slice(truncatedAt).filter((op) => op.t !== " ").length;
    out.push(`[diff truncated at ${Math.round(maxBytes / 1024)} KiB; ${rest} more changed line${rest === 1 ? "" : "s"} not shown]`);
  }
  return out.join("\n") + "\n";
}

function range(start: number, count: number): string {
  return count === 1 ? String(start) : `${start},${count}`;
}
