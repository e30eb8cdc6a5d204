// The few ANSI SGR sequences the stream terminals write (header, footer, stderr in red), in one place.
export const RED = "\x1b[31m";
export const GREEN = "\x1b[32m";
/** Back to the terminal's own foreground colour (not "reset": the output's own styling stays). */
export const DEFAULT_FG = "\x1b[39m";
export const DIM = "\x1b[2m";
export const BOLD = "\x1b[1m";
/** Neither bold nor dim. */
export const NORMAL = "\x1b[22m";
