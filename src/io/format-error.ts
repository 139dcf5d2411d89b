/**
 * Error for a malformed or unsupported file given by the user (npy, safetensors, index.json).
 * exitCode 2 tells the CLI to print the one-line message and exit 2 without a stack.
 */
export class FileFormatError extends Error {
  readonly exitCode = 2;
  /** The file the problem was found in. */
  readonly file: string;
  /** The tensor concerned, when there is one. */
  readonly tensor: string | undefined;

  constructor(file: string, problem: string, tensor?: string) {
    const where = tensor === undefined ? file : `${file}: tensor '${tensor}'`;
    super(`${where}: ${problem}`.replace(/\s*\n\s*/g, ' '));
    this.name = 'FileFormatError';
    this.file = file;
    this.tensor = tensor;
  }
}
