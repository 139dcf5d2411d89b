// Reading the small text files of a model or a take (configs, tokenizer.json, index.json,
// meta.json) with a size check first: a multi-gigabyte file named where a config belongs must
// be one clear line, not a string that fills the heap.
import { readFileSync, statSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { FileFormatError } from './format-error.ts';

/** Larger than any real one: umT5's tokenizer.json is 16 MiB, a 14B index.json under 200 KiB. */
export const MAX_TEXT_FILE_BYTES = 256 * 2 ** 20;

function tooLarge(file: string, size: number): FileFormatError {
  return new FileFormatError(file, `is ${size} bytes, more than the ${MAX_TEXT_FILE_BYTES} a JSON or text file of a model may have; is this the right file?`);
}

/** The UTF-8 text of a file, refused when larger than `max` bytes. */
export function readTextFileChecked(file: string, max = MAX_TEXT_FILE_BYTES): string {
  const size = statSync(file).size;
  if (size > max) throw tooLarge(file, size);
  return readFileSync(file, 'utf8');
}

/** As readTextFileChecked, asynchronously. */
export async function readTextFileCheckedAsync(file: string, max = MAX_TEXT_FILE_BYTES): Promise<string> {
  const size = (await fsp.stat(file)).size;
  if (size > max) throw tooLarge(file, size);
  return fsp.readFile(file, 'utf8');
}
