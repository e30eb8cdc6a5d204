// Agent-supplied text made safe to show: every character that could change what a reader sees without
// being seen itself becomes a visible escape (`\x1b`, `\n`, `\u202e`, `\u{e0041}`). One pure function
// for every place that shows agent text: the CLI's listings, the stream terminal's header and footer,
// the sidebar webview and VS Code notifications. What the approver reads must be what runs.
//
// Made visible:
// - C0 controls, DEL and C1 controls (\p{Cc}): ESC sequences, CR that returns to column 0, and the
//   8-bit CSI/OSC (U+009B, U+009D) that some terminals act on even when UTF-8 encoded;
// - format characters (\p{Cf}): the bidi controls U+061C, U+200E/F, U+202A–202E, U+2066–2069, zero
//   widths (U+200B–200D, U+2060, U+FEFF), interlinear annotations (U+FFF9–FFFB), tag characters
//   (U+E0000–E007F, which can smuggle invisible ASCII);
// - every other default-ignorable code point (Hangul fillers, variation selectors, U+034F, …);
// - line and paragraph separators (U+2028/2029), which break a line in some renderers;
// - lone surrogates (\p{Cs}), which are not text.
// Kept as they are: emoji presentation selectors (U+FE0E/FE0F) right after an emoji and a zero-width
// joiner between two pictographs (👩‍💻), which only join what is already visible.

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

const HIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Default_Ignorable_Code_Point}\u2028\u2029]/gu;
const EMOJI_SELECTOR = /\p{Emoji}$/u;
const PICTOGRAPH_BEFORE = /\p{Extended_Pictographic}\p{Emoji_Modifier}?\uFE0F?$/u;
const PICTOGRAPH_AFTER = /^\p{Extended_Pictographic}/u;
/** An escape made by escapeChar, or one code point. */
const UNITS = /\\x[0-9a-f]{2}|\\u\{[0-9a-f]+\}|\\u[0-9a-f]{4}|\\[nrt]|[\s\S]/gu;

export interface VisibleTextOptions {
  /** Keep line feeds and tabs as they are (multi-line blocks in the sidebar); CR is still escaped. */
  keepLines?: boolean;
}

/** The escape a reader sees for one hidden character. */
export function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.codePointAt(0)!;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, "0")}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, "0")}`;
  return `\\u{${code.toString(16)}}`;
}

/** Agent text with control, bidi and invisible characters made visible; everything else kept. */
export function visibleText(text: string, opts: VisibleTextOptions = {}): string {
  return text.replace(HIDDEN, (c, offset: number, whole: string) => {
    if (opts.keepLines && (c === "\n" || c === "\t")) return c;
    if ((c === "\ufe0f" || c === "\ufe0e") && EMOJI_SELECTOR.test(whole.slice(Math.max(0, offset - 2), offset))) return c;
    if (c === "\u200d" && PICTOGRAPH_BEFORE.test(whole.slice(Math.max(0, offset - 5), offset)) && PICTOGRAPH_AFTER.test(whole.slice(offset + 1, offset + 3))) return c;
    return escapeChar(c);
  });
}

/** True when `visibleText` would change the text (something in it is hidden from a reader). */
export function hasHiddenText(text: string): boolean {
  return visibleText(text) !== text;
}

/**
 * One line of agent text for a table cell or a notification: hidden characters made visible (so a
 * line break shows as `\n` and cannot fake a second line), then cut to `max` code points with `…`.
 */
export function visibleLine(text: string, max = Infinity): string {
  const shown = visibleText(text);
  if (shown.length <= max) return shown;
  // Cut between whole escapes and whole code points, never inside `\u202e`.
  const units = shown.match(UNITS) ?? [];
  if (units.length <= max) return shown;
  let out = "";
  let n = 0;
  for (const u of units) {
    const width = u.length > 1 && u[0] === "\\" ? u.length : 1;
    if (n + width > max - 1) break;
    out += u;
    n += width;
  }
  return out + "…";
}

/**
 * JSON for a terminal: JSON.stringify escapes C0 controls but not DEL, C1, bidi or invisible
 * characters; these get `\uXXXX` escapes too, so the output is the same JSON value and shows nothing hidden.
 */
export function visibleJson(value: unknown, indent?: number): string {
  // JSON.stringify already escapes C0 controls and lone surrogates inside strings, so a raw line feed
  // in its output is the indentation's; everything else hidden is inside a string.
  return String(JSON.stringify(value, null, indent)).replace(HIDDEN, (c) => {
    const code = c.codePointAt(0)!;
    if (code < 0x20) return c;
    if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, "0")}`;
    const hi = 0xd800 + ((code - 0x10000) >> 10);
    const lo = 0xdc00 + ((code - 0x10000) & 0x3ff);
    return `\\u${hi.toString(16)}\\u${lo.toString(16)}`;
  });
}
