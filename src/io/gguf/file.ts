// A GGUF file (the community's quantized Wan2.1 files, llama.cpp's format) read as tensors:
// names, PyTorch-order shapes, GGML types and where the bytes are, every size and offset
// checked against the file before use. Shapes are the GGML dims reversed, or the original
// shape a converter recorded (`comfy.gguf.orig_shape.<name>`, for the 5-D patch embedding).

import { promises as fsp } from 'node:fs';
import { FileFormatError } from '../format-error.ts';
import { OpenTensorFile, readExact } from '../tensor-reads.ts';
import { NeedMoreBytes, parseGgufHeader, type GgufValue } from './header.ts';
import { GGML_OTHER, GGML_READ, READ_TYPE_NAMES, type GgmlTypeName } from './types.ts';

export interface GgufTensorInfo {
  name: string;
  dtype: GgmlTypeName;
  /** PyTorch order (outermost first). */
  shape: number[];
  byteLength: number;
  file: string;
  fileOffset: number;
}

/** Headers past this are refused (Wan files hold a few KiB of metadata; LLM vocabularies tens of MiB). */
const MAX_HEADER_BYTES = 512 * 1024 * 1024;

export class GgufFile extends OpenTensorFile<GgufTensorInfo> {
  private constructor(
    path: string,
    handle: fsp.FileHandle,
    readonly version: number,
    tensors: ReadonlyMap<string, GgufTensorInfo>,
    readonly metadata: ReadonlyMap<string, GgufValue>,
    readonly alignment: number,
  ) {
    super(path, handle, tensors);
  }

  readonly warnings: readonly string[] = [];

  static async open(path: string): Promise<GgufFile> {
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(path, 'r');
    } catch (e) {
      throw new FileFormatError(path, `cannot open GGUF file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    try {
      return await GgufFile.fromHandle(path, handle);
    } catch (e) {
      await handle.close().catch(() => {});
      throw e;
    }
  }

  private static async fromHandle(path: string, handle: fsp.FileHandle): Promise<GgufFile> {
    const fail = (problem: string, tensor?: string): never => {
      throw new FileFormatError(path, problem, tensor);
    };
    const stat = await handle.stat();
    if (!stat.isFile()) fail('is not a regular file; expected a .gguf file');
    const size = stat.size;
    if (size < 24) fail(`file is only ${size} bytes, too short for a GGUF header`);
    let want = Math.min(size, 1 << 20);
    let header;
    for (;;) {
      try {
        header = parseGgufHeader(path, await readExact(handle, path, 0, want), size);
        break;
      } catch (e) {
        if (!(e instanceof NeedMoreBytes)) throw e;
        if (want >= MAX_HEADER_BYTES) fail(`header is larger than ${MAX_HEADER_BYTES / 2 ** 20} MiB; not a sane GGUF file`);
        want = Math.min(size, want * 4, MAX_HEADER_BYTES);
      }
    }
    const tensors = new Map<string, GgufTensorInfo>();
    for (const t of header.tensors) {
      const type = GGML_READ.get(t.type);
      if (!type) {
        const other = GGML_OTHER.get(t.type);
        fail(other ? `is ${other}, which egox does not read (it reads ${READ_TYPE_NAMES}); use a file quantized to one of those` : `has unknown GGML type ${t.type}`, t.name);
      }
      const numel = t.dims.reduce((a, b) => a * b, 1);
      if (!Number.isSafeInteger(numel)) fail(`dims ${JSON.stringify(t.dims)} are too large`, t.name);
      if (t.dims[0]! % type!.block !== 0) fail(`is ${type!.name} but its rows of ${t.dims[0]} values are not whole blocks of ${type!.block}`, t.name);
      const byteLength = (numel / type!.block) * type!.bytes;
      if (t.offset % header.alignment !== 0) fail(`data offset ${t.offset} is not a multiple of the alignment ${header.alignment}`, t.name);
      const fileOffset = header.dataStart + t.offset;
      if (fileOffset + byteLength > size) fail(`data [${fileOffset}, ${fileOffset + byteLength}) runs past the end of the file (${size} bytes); the file is truncated`, t.name);
      tensors.set(t.name, { name: t.name, dtype: type!.name, shape: shapeOf(path, t.name, t.dims, header.metadata), byteLength, file: path, fileOffset });
    }
    return new GgufFile(path, handle, header.version, tensors, header.metadata, header.alignment);
  }

}

/** PyTorch-order shape: the recorded original shape when it has the same element count, else the dims reversed. */
function shapeOf(path: string, name: string, dims: number[], metadata: ReadonlyMap<string, GgufValue>): number[] {
  const recorded = metadata.get(`comfy.gguf.orig_shape.${name}`);
  const numel = dims.reduce((a, b) => a * b, 1);
  if (recorded === undefined) return [...dims].reverse();
  const shape = Array.isArray(recorded) ? recorded.map(Number) : [];
  if (shape.length === 0 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0) || shape.reduce((a, b) => a * b, 1) !== numel) {
    throw new FileFormatError(path, `metadata comfy.gguf.orig_shape.${name} = ${JSON.stringify(recorded, (_, v) => (typeof v === 'bigint' ? String(v) : v))} does not describe its ${numel} values`, name);
  }
  return shape;
}
