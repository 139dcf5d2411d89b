// The error roots of egox. The CLI maps `exitCode` to the process exit code:
// 2 = bad input or environment (one line, no stack), 1 = internal fault (anything else).
// This file imports nothing, so it is the one file of egox that src/io may import too: every
// input error of every layer derives from the InputError below and none keeps a copy.

/**
 * Bad user input (a file, a field, an option): the CLI prints the one-line message and exits 2.
 * Subclasses only name the kind of input (and may carry its data); the name comes from the subclass.
 */
export class InputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
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
