// Reads the golden sets written by test/reference/gga_reference.py (JSON manifest + raw .bin).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bf16ToF32 } from '../../src/runtime/dtype.ts';

export const GOLDEN_DIR = path.join('test', 'golden', 'recon');
export const DATA_DIR = path.join('..', 'shared', 'data', 'egoexo4d');
export const META = path.join(DATA_DIR, 'meta.json');

export interface GoldenSet {
  info: Record<string, unknown>;
  /** Tensor as float64 values (bf16 codes are widened exactly). */
  get(name: string): { data: Float64Array; shape: number[] };
}

export function loadGolden(set: string): GoldenSet {
  const info = JSON.parse(fs.readFileSync(path.join(GOLDEN_DIR, `${set}.json`), 'utf8')) as Record<string, unknown>;
  const tensors = info['tensors'] as Record<string, { file: string; dtype: string; shape: number[] }>;
  return {
    info,
    get(name) {
      const t = tensors[name];
      if (!t) throw new Error(`golden ${set}: no tensor ${name}`);
      const raw = fs.readFileSync(path.join(GOLDEN_DIR, t.file));
      const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
      let data: Float64Array;
      if (t.dtype === 'f64') data = new Float64Array(buf);
      else if (t.dtype === 'f32') data = Float64Array.from(new Float32Array(buf));
      else if (t.dtype === 'bf16') data = Float64Array.from(new Uint16Array(buf), (h) => bf16ToF32(h));
      else throw new Error(`golden ${set}: dtype ${t.dtype}`);
      const n = t.shape.reduce((a, b) => a * b, 1);
      if (data.length !== n) throw new Error(`golden ${set}/${name}: ${data.length} values, shape [${t.shape}]`);
      return { data, shape: t.shape };
    },
  };
}

/** Max |a - b| over all elements (NaN anywhere gives NaN, which fails any <= bound). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}
