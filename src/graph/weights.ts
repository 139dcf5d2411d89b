// The weight store: resolves weights by name in a checkpoint (a safetensors file, a sharded
// folder, or tensors in memory), checks their shapes, and streams them into GPU buffers in
// bounded chunks, converting the file's dtype to the storage dtype the kernels want
// (bf16 files stay bf16; f32 files may become bf16 or f16 on request).

import type { StDtype } from '../io/safetensors-dtype.ts';
import type { GgmlTypeName } from '../io/gguf/index.ts';
import { BLOCK_QUANT, elementBytes, isBlockQuant, isFp8, storageBytes, type BlockQuantDType, type DType, type FloatDType, type Fp8DType, type WeightDType } from '../runtime/dtype.ts';
import { dequantizeBlocks, type GgmlBlockType } from '../io/gguf/dequant.ts'; // not index.ts: the browser bundle has no node:fs

/** The dtype names checkpoints give their tensors (safetensors, and GGUF's GGML types). */
export type FileDtype = StDtype | GgmlTypeName;
import { bf16ToF32Bits, f16ToF32Bits, f32BitsToBf16, f32BitsToF16 } from '../runtime/dtype.ts';
import { shapeString, type Shape } from '../runtime/tensor.ts';
import { GraphError } from './ir.ts';
import type { QuantizedWeights } from './quantized.ts';
import { InputError } from '../runtime/errors.ts';

/** What the store needs from a checkpoint (src/io's Checkpoint and SafetensorsFile fit it). */
export interface WeightSource {
  readonly tensors: ReadonlyMap<string, { dtype: FileDtype; shape: number[] }>;
  chunks(name: string, chunkBytes: number): AsyncIterable<Uint8Array>;
}

/** Tensors held in memory (tests, generated tiny weights). */
export class MemoryWeightSource implements WeightSource {
  readonly tensors = new Map<string, { dtype: StDtype; shape: number[]; bytes: Uint8Array }>();

  set(name: string, dtype: StDtype, shape: Shape, data: ArrayBufferView): this {
    this.tensors.set(name, { dtype, shape: [...shape], bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return this;
  }

  async *chunks(name: string, chunkBytes: number): AsyncIterable<Uint8Array> {
    const t = this.tensors.get(name);
    if (!t) throw new WeightFileError(`weight '${name}' not in memory source`);
    for (let p = 0; p < t.bytes.length; p += chunkBytes) yield t.bytes.slice(p, Math.min(t.bytes.length, p + chunkBytes));
  }
}

/** A checkpoint the user gave lacks a weight the model needs, or holds it in a shape or dtype egox cannot use. */
export class WeightFileError extends InputError {}

export const WEIGHT_CHUNK_BYTES = 16 * 2 ** 20;

const FLOAT_FILE_TYPES: Partial<Record<FileDtype, WeightDType>> = {
  F32: 'f32', F16: 'f16', BF16: 'bf16', F8_E4M3: 'f8e4m3', F8_E5M2: 'f8e5m2',
  Q8_0: 'q8_0', Q4_0: 'q4_0', Q4_1: 'q4_1', Q5_0: 'q5_0', Q5_1: 'q5_1', Q4_K: 'q4_k', Q5_K: 'q5_k', Q6_K: 'q6_k',
};

/** The GPU dtype of a checkpoint tensor's file dtype, when it is a float egox reads. */
export function fileFloatDtype(dtype: FileDtype): WeightDType | undefined {
  return FLOAT_FILE_TYPES[dtype];
}

export class WeightStore {
  constructor(
    readonly source: WeightSource,
    /** Names the source by for error messages (a path). */
    readonly sourceName: string,
    /** Graph weight name -> checkpoint key (the model's name-mapping table). */
    readonly rename: (name: string) => string = (n) => n,
    /**
     * Per-tensor scales of fp8 weights by checkpoint key ("scaled" fp8 files): applied when an
     * fp8 tensor is widened on the host; matmuls that read fp8 as stored apply it themselves.
     */
    readonly fp8Scales: ReadonlyMap<string, number> = new Map(),
  ) {}

  /**
   * The weights the source holds as fp8 or GGML blocks, by graph name: what a graph declares
   * quantized so that matmuls read them as stored (graph/quantized.ts).
   */
  readonly quantized: QuantizedWeights = {
    get: (name) => {
      const key = this.rename(name);
      const t = this.source.tensors.get(key);
      const dtype = t && FLOAT_FILE_TYPES[t.dtype];
      if (!dtype || !(isFp8(dtype) || isBlockQuant(dtype)) || t.shape.reduce((a, b) => a * b, 1) === 0) return undefined;
      // Blocks a converter cut across rows (a flattened tensor with its shape recorded) cannot
      // be read row by row by the matmul: those are dequantized on load instead.
      if (isBlockQuant(dtype) && t.shape[t.shape.length - 1]! % BLOCK_QUANT[dtype].elements !== 0) return undefined;
      return { dtype, scale: this.fp8Scales.get(key) };
    },
  };

  /** Checks that a weight exists with the expected element count and a float dtype. */
  check(name: string, shape: Shape): { key: string; fileDtype: WeightDType } {
    const key = this.rename(name);
    const t = this.source.tensors.get(key);
    if (!t) throw new WeightFileError(`weight '${key}' not found in ${this.sourceName}: is this the right model folder or format?`);
    const fileDtype = FLOAT_FILE_TYPES[t.dtype];
    if (!fileDtype) throw new WeightFileError(`weight '${key}' in ${this.sourceName} is ${t.dtype}; egox loads F32, F16, BF16, F8_E4M3 / F8_E5M2 and GGML Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K weights`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    const want = shape.reduce((a, b) => a * b, 1);
    if (n !== want) {
      throw new WeightFileError(`weight '${key}' has shape ${shapeString(t.shape)} in ${this.sourceName}; the model expects ${shapeString(shape)}`);
    }
    return { key, fileDtype };
  }

  /**
   * Streams a weight's bytes, converted to `dtype` storage, to `write(byteOffset, bytes)`;
   * chunks are bounded so host memory stays flat however large the tensor.
   */
  async stream(name: string, shape: Shape, dtype: DType, write: (offset: number, bytes: Uint8Array) => void | Promise<void>): Promise<void> {
    const { key, fileDtype } = this.check(name, shape);
    if (isFp8(fileDtype)) return this.streamFp8(key, fileDtype, shape, dtype, write);
    if (isBlockQuant(fileDtype)) {
      if (dtype === fileDtype) return this.streamRaw(key, shape, dtype, write);
      return this.streamDequantized(key, fileDtype, shape, dtype, write);
    }
    if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') throw new GraphError(`weight '${key}': storage dtype ${dtype} is not a float type`);
    let outOffset = 0;
    const inSize = fileDtype === 'f32' ? 4 : 2;
    // Whole pairs of elements, so 16-bit output stays word-aligned; a last odd element is padded.
    for await (const { bytes, partial } of wholeUnits(this.source.chunks(key, WEIGHT_CHUNK_BYTES), inSize * 2)) {
      if (!partial) {
        const piece = convert(bytes, fileDtype, dtype);
        await write(outOffset, piece);
        outOffset += piece.length;
        continue;
      }
      const padded = new Uint8Array(inSize * 2);
      padded.set(bytes);
      const total = storageBytes(dtype, shape.reduce((a, b) => a * b, 1));
      await write(outOffset, convert(padded, fileDtype, dtype).subarray(0, total - outOffset));
    }
  }

  /** Bytes as stored (fp8, GGML blocks): whole words, the last one zero-padded. */
  private async streamRaw(key: string, shape: Shape, dtype: DType, write: (offset: number, bytes: Uint8Array) => void | Promise<void>): Promise<void> {
    const total = storageBytes(dtype, shape.reduce((a, b) => a * b, 1));
    let at = 0;
    for await (const { bytes, partial } of wholeUnits(this.source.chunks(key, WEIGHT_CHUNK_BYTES), 4)) {
      if (!partial) {
        await write(at, bytes);
        at += bytes.length;
        continue;
      }
      const last = new Uint8Array(4);
      last.set(bytes);
      await write(at, last.subarray(0, total - at));
    }
  }

  /**
   * A GGML block tensor the graph reads as floats (a conv kernel, a norm, a table): decoded on
   * the host a chunk of whole blocks at a time, so memory stays flat however large the tensor.
   */
  private async streamDequantized(key: string, fileDtype: BlockQuantDType, shape: Shape, dtype: DType, write: (offset: number, bytes: Uint8Array) => void | Promise<void>): Promise<void> {
    if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') throw new WeightFileError(`weight '${key}' in ${this.sourceName} is ${fileDtype.toUpperCase()}, which egox cannot store as ${dtype}`);
    let at = 0;
    for await (const { bytes, partial } of wholeUnits(this.source.chunks(key, WEIGHT_CHUNK_BYTES), BLOCK_QUANT[fileDtype].bytes)) {
      if (partial) throw new WeightFileError(`weight '${key}' in ${this.sourceName} ends in a partial ${fileDtype.toUpperCase()} block; the file is truncated or corrupt`);
      // Whole blocks hold an even number of values, so 16-bit output stays word-aligned.
      const piece = convert(new Uint8Array(decodeToF32(fileDtype, bytes).buffer), 'f32', dtype);
      await write(at, piece);
      at += piece.length;
    }
  }

  /** An fp8 tensor: as stored (4 bytes a word, the last word zero-padded) or widened on the host. */
  private async streamFp8(key: string, fileDtype: Fp8DType, shape: Shape, dtype: DType, write: (offset: number, bytes: Uint8Array) => void | Promise<void>): Promise<void> {
    const total = storageBytes(dtype, shape.reduce((a, b) => a * b, 1));
    if (dtype === fileDtype) return this.streamRaw(key, shape, dtype, write);
    if (isFp8(dtype) || (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16')) throw new GraphError(`weight '${key}': cannot store ${fileDtype} as ${dtype}`);
    const scale = this.fp8Scales.get(key) ?? 1;
    let at = 0;
    // Even element counts per piece keep 16-bit output word-aligned; chunks are even-sized.
    for await (const chunk of this.source.chunks(key, WEIGHT_CHUNK_BYTES)) {
      const f32 = fp8ToF32(chunk, fileDtype, scale);
      const piece = convert(new Uint8Array(f32.buffer), 'f32', dtype);
      await write(at, piece.subarray(0, Math.min(piece.length, total - at)));
      at += piece.length;
    }
  }
}

/**
 * Bytes of a file dtype as f32 values (fp8 times `scale`, GGML blocks decoded): whole elements
 * or whole blocks only. What host-side readers (embedding rows, dequantized weights) use.
 */
export function decodeToF32(dtype: WeightDType, bytes: Uint8Array, scale = 1): Float32Array {
  if (isFp8(dtype)) return fp8ToF32(bytes, dtype, scale);
  if (isBlockQuant(dtype)) return dequantizeBlocks(dtype.toUpperCase() as GgmlBlockType, bytes);
  const f32 = convert(bytes, dtype, 'f32');
  return new Float32Array(f32.buffer.slice(f32.byteOffset, f32.byteOffset + f32.byteLength));
}

/** Bytes `numel` values of a file dtype take in the file (GGML blocks: `numel` whole blocks' worth). */
export function fileByteLength(dtype: WeightDType, numel: number): number {
  if (isBlockQuant(dtype)) return (numel / BLOCK_QUANT[dtype].elements) * BLOCK_QUANT[dtype].bytes;
  return numel * elementBytes(dtype);
}

/** Widens fp8 bytes to f32 bit patterns (times `scale`), exactly as the GPU loaders do. */
export function fp8ToF32(bytes: Uint8Array, dtype: Fp8DType, scale = 1): Float32Array {
  const table = FP8_TABLES[dtype];
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = table[bytes[i]!]! * scale;
  return out;
}

/** The 256 values of a format (E4M3: bias 7, S.1111.111 NaN; E5M2: bias 15, IEEE inf/NaN). */
function fp8Table(dtype: Fp8DType): Float32Array {
  const [mBits, bias] = dtype === 'f8e4m3' ? [3, 7] : [2, 15];
  const eMax = dtype === 'f8e4m3' ? 15 : 31;
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const sign = b & 0x80 ? -1 : 1;
    const e = (b & 0x7f) >> mBits;
    const m = b & ((1 << mBits) - 1);
    if (dtype === 'f8e4m3' && e === eMax && m === 7) t[b] = NaN;
    else if (dtype === 'f8e5m2' && e === eMax) t[b] = m === 0 ? sign * Infinity : NaN;
    else t[b] = sign * (e === 0 ? m * 2 ** (1 - bias - mBits) : (1 + m / (1 << mBits)) * 2 ** (e - bias));
  }
  return t;
}

const FP8_TABLES: Readonly<Record<Fp8DType, Float32Array>> = { f8e4m3: fp8Table('f8e4m3'), f8e5m2: fp8Table('f8e5m2') };

/** Converts a whole number of element pairs between float storage formats. */
export function convert(bytes: Uint8Array, from: FloatDType, to: FloatDType): Uint8Array {
  if (from === to) return bytes;
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  let f32bits: Uint32Array;
  if (from === 'f32') {
    f32bits = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4);
  } else {
    const codes = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
    f32bits = new Uint32Array(codes.length);
    const widen = from === 'bf16' ? bf16ToF32Bits : f16ToF32Bits;
    for (let i = 0; i < codes.length; i++) f32bits[i] = widen(codes[i]!);
  }
  if (to === 'f32') return new Uint8Array(f32bits.buffer, f32bits.byteOffset, f32bits.byteLength);
  const narrow = to === 'bf16' ? f32BitsToBf16 : f32BitsToF16;
  const out = new Uint16Array(f32bits.length);
  for (let i = 0; i < f32bits.length; i++) out[i] = narrow(f32bits[i]!);
  return new Uint8Array(out.buffer);
}

/**
 * A tensor's chunks re-cut into pieces of whole `unit`s (elements, words, GGML blocks), none
 * empty; bytes short of a unit at the end come last, marked partial.
 */
async function* wholeUnits(chunks: AsyncIterable<Uint8Array>, unit: number): AsyncGenerator<{ bytes: Uint8Array; partial: boolean }> {
  let carry = new Uint8Array(0);
  for await (const chunk of chunks) {
    const joined = carry.length ? concat(carry, chunk) : chunk;
    const usable = joined.length - (joined.length % unit);
    carry = joined.slice(usable);
    if (usable) yield { bytes: joined.subarray(0, usable), partial: false };
  }
  if (carry.length) yield { bytes: carry, partial: true };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
