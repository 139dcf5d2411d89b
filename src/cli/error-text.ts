// The one place error text is made safe for a terminal: whatever a file header or a library
// put in a message (CR, ESC sequences, newlines, megabytes of text) comes out as one line of
// printable characters, at most MAX_ERROR_CHARS long.

export const MAX_ERROR_CHARS = 500;

/** Control bytes (C0, DEL, C1) and Unicode line/paragraph separators and bidi overrides. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escape(ch: string): string {
  const c = ch.charCodeAt(0);
  if (c === 0x0a) return '\\n';
  if (c === 0x0d) return '\\r';
  if (c === 0x09) return '\\t';
  return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}

/** `text` as one printable line of at most `max` characters (an ellipsis marks a cut). */
export function terminalLine(text: string, max = MAX_ERROR_CHARS): string {
  // Escape only what can be shown: a 100 MB message is cut before it is scanned.
  const head = text.length > max * 2 ? text.slice(0, max * 2) : text;
  const line = head.trim().replace(UNSAFE, escape);
  return line.length > max || head.length < text.length ? `${line.slice(0, max - 1)}…` : line;
}
