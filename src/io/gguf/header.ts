// The GGUF header (v2 and v3, little-endian): magic "GGUF", version, tensor and key-value
// counts, the metadata key-values, the tensor infos, then the tensor data at the next multiple
// of `general.alignment` (32 by default). Parsed from bytes with every count and length checked
// against what the file can hold before anything is allocated from it.

import { FileFormatError } from '../format-error.ts';

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensorEntry {
  name: string;
  /** GGML order: dims[0] is the innermost (row length). */
  dims: number[];
  type: number;
  /** Offset from the start of the data section. */
  offset: number;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorEntry[];
  alignment: number;
  dataStart: number;
}

/** Thrown when the bytes end before the header does but the file has more: read more and retry. */
export class NeedMoreBytes extends Error {}

const MAX_DIMS = 8; // GGML's own limit is 4; community files carry a 5-D patch embedding
const MAX_STRING = 64 * 1024 * 1024;
const MAX_DEPTH = 4;

export function parseGgufHeader(path: string, b: Uint8Array, fileSize: number): GgufHeader {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = 0;
  const fail = (problem: string): never => {
    throw new FileFormatError(path, problem);
  };
  const need = (n: number, what: string) => {
    if (at + n > fileSize) fail(`${what} at byte ${at} runs past the end of the file (${fileSize} bytes); the file is truncated or not GGUF`);
    if (at + n > b.length) throw new NeedMoreBytes();
  };
  const u32 = (what: string) => (need(4, what), (at += 4), view.getUint32(at - 4, true));
  const u64 = (what: string): number => {
    need(8, what);
    const v = view.getBigUint64(at, true);
    at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${v} at byte ${at - 8} is not a sane size`);
    return Number(v);
  };
  const str = (what: string): string => {
    const n = u64(`length of ${what}`);
    if (n > MAX_STRING) fail(`${what} at byte ${at - 8} claims ${n} bytes (limit ${MAX_STRING})`);
    need(n, what);
    const s = new TextDecoder('utf-8', { fatal: false }).decode(b.subarray(at, at + n));
    at += n;
    return s;
  };
  const value = (type: number, key: string, depth: number): GgufValue => {
    const what = `value of '${key}'`;
    switch (type) {
      case 0: return (need(1, what), b[at++]!);
      case 1: return (need(1, what), (b[at++]! << 24) >> 24);
      case 2: return (need(2, what), (at += 2), view.getUint16(at - 2, true));
      case 3: return (need(2, what), (at += 2), view.getInt16(at - 2, true));
      case 4: return u32(what);
      case 5: return (need(4, what), (at += 4), view.getInt32(at - 4, true));
      case 6: return (need(4, what), (at += 4), view.getFloat32(at - 4, true));
      case 7: return (need(1, what), b[at++]! !== 0);
      case 8: return str(what);
      case 9: {
        if (depth >= MAX_DEPTH) fail(`'${key}': arrays nested deeper than ${MAX_DEPTH}`);
        const itemType = u32(`array type of '${key}'`);
        const count = u64(`array length of '${key}'`);
        // Every item takes at least one byte: a count past the file is corrupt.
        if (count > fileSize - at) fail(`'${key}': array of ${count} items cannot fit in the file`);
        const out: GgufValue[] = [];
        for (let i = 0; i < count; i++) out.push(value(itemType, key, depth + 1));
        return out;
      }
      case 10: return (need(8, what), (at += 8), view.getBigUint64(at - 8, true));
      case 11: return (need(8, what), (at += 8), view.getBigInt64(at - 8, true));
      case 12: return (need(8, what), (at += 8), view.getFloat64(at - 8, true));
      default: return fail(`'${key}' has unknown metadata value type ${type}`);
    }
  };

  need(4, 'magic');
  if (String.fromCharCode(b[0]!, b[1]!, b[2]!, b[3]!) !== 'GGUF') fail('does not start with "GGUF"; not a GGUF file');
  at = 4;
  const version = u32('version');
  if (version !== 2 && version !== 3) fail(`GGUF version ${version} is not supported (egox reads versions 2 and 3)`);
  const tensorCount = u64('tensor count');
  const kvCount = u64('metadata count');
  // A key-value takes at least 13 bytes, a tensor info at least 28: counts past that are corrupt.
  if (kvCount * 13 > fileSize) fail(`header claims ${kvCount} metadata entries, more than the file can hold`);
  if (tensorCount * 28 > fileSize) fail(`header claims ${tensorCount} tensors, more than the file can hold`);
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = str(`metadata key ${i}`);
    const type = u32(`type of '${key}'`);
    if (metadata.has(key)) fail(`metadata key '${key}' appears twice`);
    metadata.set(key, value(type, key, 0));
  }
  const tensors: GgufTensorEntry[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = str(`name of tensor ${i}`);
    if (names.has(name)) fail(`tensor '${name}' appears twice`);
    names.add(name);
    const n = u32(`dimension count of '${name}'`);
    if (n < 1 || n > MAX_DIMS) fail(`tensor '${name}' has ${n} dimensions (egox reads 1 to ${MAX_DIMS})`);
    const dims: number[] = [];
    for (let d = 0; d < n; d++) dims.push(u64(`dimension ${d} of '${name}'`));
    tensors.push({ name, dims, type: u32(`type of '${name}'`), offset: u64(`offset of '${name}'`) });
  }
  const alignValue = metadata.get('general.alignment') ?? 32;
  if (typeof alignValue !== 'number' || !Number.isInteger(alignValue) || alignValue < 1 || (alignValue & (alignValue - 1)) !== 0) {
    fail(`general.alignment ${String(alignValue)} is not a power of two`);
  }
  const alignment = alignValue as number;
  const dataStart = Math.ceil(at / alignment) * alignment;
  return { version, metadata, tensors, alignment, dataStart };
}
