// The error roots of egox. The CLI maps `exitCode` to the process exit code:
// 2 = bad input or environment (one line, no stack), 1 = internal fault (anything else).
// This file imports nothing, so it is the one file of egox that src/io may import too: every
// input error of every layer derives from the InputError below and none keeps a copy.
// Input errors carry text from files (tensor names, JSON keys): their messages are made one
// printable line of at most MAX_ERROR_CHARS when made, so library callers get what the CLI prints.

/**
 * Bad user input (a file, a field, an option): the CLI prints the one-line message and exits 2.
 * Subclasses only name the kind of input (and may carry its data); the name comes from the subclass.
 */
export class InputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(terminalLine(message));
    this.name = new.target.name;
  }
}

/** The machine cannot run egox as configured (no adapter, missing feature, bad option). */
export class EnvironmentError extends InputError {}

/** A GPU validation/out-of-memory error or device loss, with the kernel that was running. */
export class GpuError extends Error {
  readonly exitCode: number;
  constructor(message: string, readonly kernel?: string, exitCode = 1) {
    super(kernel ? `${message} (kernel ${kernel})` : message);
    this.name = 'GpuError';
    this.exitCode = exitCode;
  }
}

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
