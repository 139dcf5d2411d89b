/**
 * Lazy safetensors reader. Opening reads only the 8-byte length and the header; tensor bytes are
 * read on demand at absolute file positions, so a 30 GB checkpoint costs a few MB of memory.
 */
import { promises as fsp } from 'node:fs';
import { FileFormatError } from './format-error.ts';
import { checkRange, OpenTensorFile, readExact } from './tensor-reads.ts';
import { MAX_HEADER_BYTES, parseSafetensorsHeader } from './safetensors-header.ts';
import type { StDtype } from './safetensors-dtype.ts';

export type { StDtype } from './safetensors-dtype.ts';

export interface TensorInfo {
  name: string;
  dtype: StDtype;
  shape: number[];
  byteLength: number;
  /** The file holding the bytes (as given to open, or resolved from an index.json). */
  file: string;
  /** Absolute position of the first byte in `file`. */
  fileOffset: number;
}

/** Reading interface shared by a single file and a (sharded) checkpoint. */
export interface TensorSource {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  /** Non-fatal oddities found while opening (the CLI may print them). */
  readonly warnings: readonly string[];
  /** The whole tensor as a fresh Uint8Array (byteOffset 0, so it can be viewed as any typed array). */
  read(name: string): Promise<Uint8Array>;
  /** `byteLength` bytes starting `byteStart` bytes into the tensor, as a fresh Uint8Array. */
  readRange(name: string, byteStart: number, byteLength: number): Promise<Uint8Array>;
  /** The tensor in consecutive fresh pieces of at most `chunkBytes` bytes each. */
  chunks(name: string, chunkBytes: number): AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}

export class SafetensorsFile extends OpenTensorFile<TensorInfo> implements TensorSource {
  private constructor(
    path: string,
    handle: fsp.FileHandle,
    tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
    readonly warnings: readonly string[],
    /** File size at open time; reads past it mean the file changed under us. */
    readonly fileSize: number,
  ) {
    super(path, handle, tensors);
  }

  static async open(path: string): Promise<SafetensorsFile> {
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(path, 'r');
    } catch (e) {
      throw new FileFormatError(path, `cannot open safetensors file (${errCode(e)})`);
    }
    try {
      return await SafetensorsFile.fromHandle(path, handle);
    } catch (e) {
      await handle.close().catch(() => {});
      throw e;
    }
  }

  private static async fromHandle(path: string, handle: fsp.FileHandle): Promise<SafetensorsFile> {
    const fail = (problem: string): never => {
      throw new FileFormatError(path, problem);
    };
    const stat = await handle.stat();
    if (!stat.isFile()) fail('is not a regular file; expected a .safetensors file');
    const size = stat.size;
    if (size === 0) fail('file is empty; expected a safetensors file (re-download or re-export it)');
    if (size < 8) fail(`file is only ${size} bytes, too short for the 8-byte safetensors header length`);

    const lenBytes = await readExact(handle, path, 0, 8);
    const declared = new DataView(lenBytes.buffer).getBigUint64(0, true);
    // Check the declared length against the file before trusting it with an allocation.
    if (declared > BigInt(size - 8)) {
      fail(`header length ${declared} runs past the end of the file (${size} bytes); the file is truncated or not safetensors`);
    }
    const headerLen = Number(declared);
    if (headerLen > MAX_HEADER_BYTES) {
      fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES / (1024 * 1024)} MB limit; not a sane safetensors file`);
    }
    if (headerLen < 2) fail(`header length ${headerLen} is too small (the smallest header, '{}', is 2 bytes)`);

    const headerBytes = await readExact(handle, path, 8, headerLen);
    const dataStart = 8 + headerLen;
    const parsed = parseSafetensorsHeader(path, headerBytes, size - dataStart);
    const tensors = new Map<string, TensorInfo>();
    for (const e of parsed.entries) {
      tensors.set(e.name, {
        name: e.name, dtype: e.dtype, shape: e.shape, byteLength: e.end - e.begin,
        file: path, fileOffset: dataStart + e.begin,
      });
    }
    return new SafetensorsFile(path, handle, tensors, parsed.metadata, parsed.warnings, size);
  }
}

/** Re-exported: callers of the safetensors reader use them. */
export { checkRange, readExact };

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? String(e);
}
