// A network's weights written quantized the way the community files hold them, each with its
// "twin": an F32 safetensors of exactly the values the quantized file holds.
// - GGUF: chosen Linear weights in Q8_0 / Q4_K where their rows are whole blocks, conv kernels
//   flattened into block rows with the original shape recorded, the rest kept as floats; the
//   twin has the blocks dequantized by the float64 formulas of test/ref/quant.ts.
// - Scaled fp8 (ComfyUI's *_fp8_scaled): chosen weights as F8_E4M3 with a `scale_weight` each.
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors-writer.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { f32ToHalfCodes, halfCodesToF32 } from '../../src/runtime/dtype.ts';
import { ggufBytes, type KvValue, type TensorSpec } from '../io/gguf/gguf-bytes.ts';
import { dequant64 } from '../ref/quant.ts';
import { fp8Nearest, fp8Value } from '../ref/fp8.ts';
import { quantizeQ4_K, quantizeQ6_K, quantizeQ8_0 } from './quantize-blocks.ts';
import * as fs from 'node:fs';

export type QuantKind = 'Q8_0' | 'Q4_K' | 'Q6_K';

/** Tensors by name: F32 or BF16 in the source (values widened to f32). */
export type NetworkTensors = Map<string, { shape: number[]; dtype: 'F32' | 'BF16'; values: Float32Array }>;

export interface GgufTwinPlan {
  /** The tensor's name in the GGUF file (default: unchanged). */
  rename?: (name: string) => string;
  /**
   * Whether a tensor is quantized: 'rows' (a Linear weight: its rows of K values must be whole
   * blocks), 'flat' (a conv kernel: the values are cut into rows of one block, the original
   * shape recorded as shape-fixing converters do), or undefined (kept as a float).
   */
  quantize(name: string, shape: number[]): 'rows' | 'flat' | undefined;
  /** The kinds to try for this tensor, in order (default: the `kinds` given to writeGgufTwin). */
  kindsFor?: (name: string) => readonly QuantKind[];
  /** Multi-dimensional F32 tensors that stay floats are written F16 (converters' default); else F32. */
  f16Rest?: boolean;
}

const GGML = { F32: 0, F16: 1, BF16: 30, Q8_0: 8, Q4_K: 12, Q6_K: 14 } as const;
const BLOCK = { Q8_0: 32, Q4_K: 256, Q6_K: 256 } as const;
const BLOCK_BYTES = { Q8_0: 34, Q4_K: 144, Q6_K: 210 } as const;
const QUANTIZE = { Q8_0: quantizeQ8_0, Q4_K: quantizeQ4_K, Q6_K: quantizeQ6_K } as const;
const DEQUANT = { Q8_0: 'q8_0', Q4_K: 'q4_k', Q6_K: 'q6_k' } as const;

export async function readNetwork(path: string, rename: (key: string) => string = (k) => k): Promise<NetworkTensors> {
  const f = await SafetensorsFile.open(path);
  const out: NetworkTensors = new Map();
  try {
    for (const [key, info] of f.tensors) {
      const b = await f.read(key);
      if (info.dtype !== 'F32' && info.dtype !== 'BF16') throw new Error(`${path}: ${key} is ${info.dtype}`);
      const values = info.dtype === 'F32' ? new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4) : halfCodesToF32(new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2), 'bf16');
      out.set(rename(key), { shape: info.shape, dtype: info.dtype, values });
    }
  } finally {
    await f.close();
  }
  return out;
}

/** GPU bytes a value of each block kind takes, against 4 for f32. */
export const BLOCK_VALUE_BYTES: Record<QuantKind, number> = { Q8_0: 34 / 32, Q4_K: 144 / 256, Q6_K: 210 / 256 };

/**
 * Writes `gguf` (kinds tried in order, first whose block fits) and its F32 `twin`; returns how
 * many tensors took each type and the kind of each quantized tensor.
 */
export async function writeGgufTwin(net: NetworkTensors, kinds: readonly QuantKind[], plan: GgufTwinPlan, paths: { gguf: string; twin: string }): Promise<{ types: Record<string, number>; quantized: Map<string, QuantKind> }> {
  const tensors: TensorSpec[] = [];
  const kv: Record<string, KvValue> = { 'general.architecture': { type: 'str', value: 'egox-test' } };
  const twin: Record<string, TensorToWrite> = {};
  const types: Record<string, number> = {};
  const quantized = new Map<string, QuantKind>();
  for (const [name, { shape, dtype, values }] of net) {
    const ggufName = plan.rename?.(name) ?? name;
    const how = plan.quantize(name, shape);
    const numel = values.length;
    const rowLen = (kind: QuantKind) => (how === 'flat' ? BLOCK[kind] : shape[shape.length - 1]!);
    const kind = how ? (plan.kindsFor?.(name) ?? kinds).find((k) => rowLen(k) % BLOCK[k] === 0 && numel % rowLen(k) === 0) : undefined;
    if (kind) {
      const K = rowLen(kind);
      const rows = numel / K;
      const q = QUANTIZE[kind];
      const data = new Uint8Array((numel / BLOCK[kind]) * BLOCK_BYTES[kind]);
      for (let r = 0; r < rows; r++) data.set(q(values.subarray(r * K, (r + 1) * K)), (r * data.length) / rows);
      tensors.push({ name: ggufName, dims: [K, rows], type: GGML[kind], data });
      if (how === 'flat' || shape.length !== 2) kv[`comfy.gguf.orig_shape.${ggufName}`] = { type: 'arr_i64', value: shape };
      twin[name] = { dtype: 'F32', shape, data: Float32Array.from(dequant64(DEQUANT[kind], data, numel / BLOCK[kind])) };
      types[kind] = (types[kind] ?? 0) + 1;
      quantized.set(name, kind);
      continue;
    }
    const type = dtype === 'BF16' ? 'BF16' : plan.f16Rest && shape.length > 1 ? 'F16' : 'F32';
    const bytes = type === 'F32' ? new Uint8Array(values.slice().buffer) : new Uint8Array(f32ToHalfCodes(values, type === 'F16' ? 'f16' : 'bf16').buffer);
    tensors.push({ name: ggufName, dims: [...shape].reverse(), type: GGML[type], data: bytes });
    twin[name] = { dtype: 'F32', shape, data: type === 'F32' ? values : halfCodesToF32(new Uint16Array(bytes.buffer), type === 'F16' ? 'f16' : 'bf16') };
    types[type] = (types[type] ?? 0) + 1;
  }
  fs.writeFileSync(paths.gguf, ggufBytes({ kv, tensors }));
  await writeSafetensors(paths.twin, twin);
  return { types, quantized };
}

/**
 * GPU weight bytes saved when the graph holds the Linear weights `names` as the file's blocks
 * instead of f32: those whose rows of K values are whole blocks (a flattened one is dequantized).
 */
export function bytesSavedByBlocks(net: NetworkTensors, quantized: ReadonlyMap<string, QuantKind>, names: (name: string) => boolean): number {
  let saved = 0;
  for (const [name, kind] of quantized) {
    const { shape, values } = net.get(name)!;
    if (names(name) && shape[shape.length - 1]! % BLOCK[kind] === 0) saved += values.length * (4 - BLOCK_VALUE_BYTES[kind]);
  }
  return saved;
}

/** Writes `scaled` (the chosen tensors as F8_E4M3 + scale_weight, the rest F32) and its F32 `twin`; returns how many values went fp8. */
export async function writeFp8Twin(net: NetworkTensors, chosen: (name: string) => boolean, paths: { scaled: string; twin: string }): Promise<number> {
  const fp8: Record<string, TensorToWrite> = {};
  const twin: Record<string, TensorToWrite> = {};
  let values = 0;
  for (const [name, { shape, values: v }] of net) {
    if (!chosen(name)) {
      fp8[name] = twin[name] = { dtype: 'F32', shape, data: v };
      continue;
    }
    values += v.length;
    const scale = Math.fround(v.reduce((m, x) => Math.max(m, Math.abs(x)), 0) / 448);
    const codes = Uint8Array.from(v, (x) => fp8Nearest('f8e4m3', x / scale));
    fp8[name] = { dtype: 'F8_E4M3', shape, data: codes };
    fp8[name.replace(/\.weight$/, '.scale_weight')] = { dtype: 'F32', shape: [1], data: Float32Array.of(scale) };
    twin[name] = { dtype: 'F32', shape, data: Float32Array.from(codes, (c) => Math.fround(fp8Value('f8e4m3', c) * scale)) };
  }
  await writeSafetensors(paths.scaled, fp8);
  await writeSafetensors(paths.twin, twin);
  return values;
}
