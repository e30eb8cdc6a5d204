// Agent-supplied text for a terminal an adapter writes to (its own chat view, not an output stream):
// line breaks and tabs are kept, every other C0/C1 control character, DEL and the Unicode bidi
// controls (which reorder what is shown) become visible escapes, so an agent cannot move the cursor,
// recolour, retitle or reorder what the user reads.

const BIDI_AND_CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function visibleChatText(text: string): string {
  return text.replace(BIDI_AND_CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    if (c === "\r") return "\\r";
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** One line: also line breaks and tabs become escapes (titles, commands, status lines). */
export function visibleLine(text: string): string {
  return visibleChatText(text).replace(/\n/g, "\\n").replace(/\t/g, "\\t");
}
