/** A malformed or unsupported file given by the user (npy, safetensors, index.json). */
import { InputError } from '../runtime/errors.ts';
export class FileFormatError extends InputError {
  /** The file the problem was found in. */
  readonly file: string;
  /** The tensor concerned, when there is one. */
  readonly tensor: string | undefined;

  constructor(file: string, problem: string, tensor?: string) {
    const where = tensor === undefined ? file : `${file}: tensor '${tensor}'`;
    super(`${where}: ${problem}`.replace(/\s*\n\s*/g, ' '));
    this.file = file;
    this.tensor = tensor;
  }
}
