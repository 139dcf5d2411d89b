// Reading one tensor's bytes from an open file, whole, as a range, or in bounded chunks: the
// same for every container that stores tensors as contiguous runs (safetensors, GGUF).
import type { promises as fsp } from 'node:fs';
import { FileFormatError } from './format-error.ts';

/** Largest single read() call; the OS caps one read near 2 GiB anyway. */
const MAX_READ = 1 << 30;

/** Reads exactly `length` bytes at `position` into a fresh buffer, looping over short reads. */
export async function readExact(handle: fsp.FileHandle, path: string, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const want = Math.min(length - done, MAX_READ);
    const { bytesRead } = await handle.read(out, done, want, position + done);
    if (bytesRead === 0) {
      throw new FileFormatError(path, `unexpected end of file at byte ${position + done} (was the file truncated while open?)`);
    }
    done += bytesRead;
  }
  return out;
}

/** Where a tensor's bytes are. */
export interface TensorBytes {
  name: string;
  byteLength: number;
  fileOffset: number;
}

export function checkRange(t: TensorBytes, byteStart: number, byteLength: number): void {
  if (!Number.isSafeInteger(byteStart) || !Number.isSafeInteger(byteLength) || byteStart < 0 || byteLength < 0
    || byteStart + byteLength > t.byteLength) {
    throw new RangeError(`readRange: [${byteStart}, +${byteLength}) is outside tensor '${t.name}' (${t.byteLength} bytes)`);
  }
}

export async function readTensorRange(handle: fsp.FileHandle, path: string, t: TensorBytes, byteStart: number, byteLength: number): Promise<Uint8Array> {
  checkRange(t, byteStart, byteLength);
  return readExact(handle, path, t.fileOffset + byteStart, byteLength);
}

export async function* tensorChunks(handle: fsp.FileHandle, path: string, t: TensorBytes, chunkBytes: number): AsyncIterable<Uint8Array> {
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) {
    throw new RangeError(`chunks: chunkBytes must be a positive integer, got ${chunkBytes}`);
  }
  for (let at = 0; at < t.byteLength; at += chunkBytes) {
    yield await readExact(handle, path, t.fileOffset + at, Math.min(chunkBytes, t.byteLength - at));
  }
}

/** A file of contiguous tensors open for reading: lookup, whole reads, ranges, chunks, close. */
export abstract class OpenTensorFile<T extends TensorBytes> {
  constructor(
    readonly path: string,
    protected readonly handle: fsp.FileHandle,
    readonly tensors: ReadonlyMap<string, T>,
  ) {}

  info(name: string): T {
    const t = this.tensors.get(name);
    if (!t) throw new FileFormatError(this.path, 'no such tensor in this file', name);
    return t;
  }

  async read(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    return readExact(this.handle, this.path, t.fileOffset, t.byteLength);
  }

  async readRange(name: string, byteStart: number, byteLength: number): Promise<Uint8Array> {
    return readTensorRange(this.handle, this.path, this.info(name), byteStart, byteLength);
  }

  chunks(name: string, chunkBytes: number): AsyncIterable<Uint8Array> {
    return tensorChunks(this.handle, this.path, this.info(name), chunkBytes);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
