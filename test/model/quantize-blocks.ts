// Test-only quantizers to GGML's Q8_0, Q4_K and Q6_K block layouts (plain rounding, not llama.cpp's
// search): enough to write GGUF test models whose dequantized values the reference knows.
import { f32BitsToF16, f32Bits } from '../../src/runtime/dtype.ts';
import { half64 } from '../ref/quant.ts';

const f16 = (x: number) => f32BitsToF16(f32Bits(x));

/** One row of Q8_0 blocks (K a multiple of 32). */
export function quantizeQ8_0(row: Float32Array): Uint8Array {
  const out = new Uint8Array((row.length / 32) * 34);
  for (let b = 0; b < row.length / 32; b++) {
    const x = row.subarray(32 * b, 32 * b + 32);
    const dBits = f16(x.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127);
    const d = half64(dBits);
    out[34 * b] = dBits & 0xff;
    out[34 * b + 1] = dBits >> 8;
    for (let j = 0; j < 32; j++) out[34 * b + 2 + j] = (d ? Math.max(-127, Math.min(127, Math.round(x[j]! / d))) : 0) & 0xff;
  }
  return out;
}

/** One row of Q4_K super-blocks (K a multiple of 256): 8 sub-blocks with 6-bit scales and mins. */
export function quantizeQ4_K(row: Float32Array): Uint8Array {
  const out = new Uint8Array((row.length / 256) * 144);
  for (let b = 0; b < row.length / 256; b++) {
    const x = row.subarray(256 * b, 256 * b + 256);
    const o = 144 * b;
    const scales: number[] = [];
    const mins: number[] = [];
    for (let s = 0; s < 8; s++) {
      const sub = x.subarray(32 * s, 32 * s + 32);
      const lo = Math.min(0, ...sub);
      scales.push((Math.max(...sub) - lo) / 15);
      mins.push(-lo);
    }
    const dBits = f16(Math.max(...scales) / 63);
    const mBits = f16(Math.max(...mins) / 63);
    const [d, dmin] = [half64(dBits), half64(mBits)];
    const sc = scales.map((v) => (d ? Math.min(63, Math.round(v / d)) : 0));
    const mn = mins.map((v) => (dmin ? Math.min(63, Math.round(v / dmin)) : 0));
    out.set([dBits & 0xff, dBits >> 8, mBits & 0xff, mBits >> 8], o);
    for (let j = 0; j < 4; j++) {
      out[o + 4 + j] = (sc[j]! & 63) | ((sc[j + 4]! >> 4) << 6);
      out[o + 8 + j] = (mn[j]! & 63) | ((mn[j + 4]! >> 4) << 6);
      out[o + 12 + j] = (sc[j + 4]! & 15) | ((mn[j + 4]! & 15) << 4);
    }
    const nib = (i: number) => {
      const s = i >> 5;
      const step = d * sc[s]!;
      return step ? Math.max(0, Math.min(15, Math.round((x[i]! + dmin * mn[s]!) / step))) : 0;
    };
    for (let g = 0; g < 4; g++) for (let l = 0; l < 32; l++) out[o + 16 + 32 * g + l] = nib(64 * g + l) | (nib(64 * g + 32 + l) << 4);
  }
  return out;
}

/**
 * One row of Q6_K super-blocks (K a multiple of 256): 16 sub-blocks of 16 with int8 scales
 * relative to the f16 d, 6-bit quants q stored as q - 32 would be: low nibbles in ql, the two
 * high bits in qh, in ggml's interleaved order (element i of a 128-half: quadrant i / 32).
 */
export function quantizeQ6_K(row: Float32Array): Uint8Array {
  const out = new Uint8Array((row.length / 256) * 210);
  for (let b = 0; b < row.length / 256; b++) {
    const x = row.subarray(256 * b, 256 * b + 256);
    const o = 210 * b;
    const scales = Array.from({ length: 16 }, (_, s) => x.subarray(16 * s, 16 * s + 16).reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 31);
    const dBits = f16(Math.max(...scales) / 127);
    const d = half64(dBits);
    const sc = scales.map((v) => (d ? Math.min(127, Math.round(v / d)) : 0));
    sc.forEach((v, s) => (out[o + 192 + s] = v & 0xff));
    out[o + 208] = dBits & 0xff;
    out[o + 209] = dBits >> 8;
    for (let i = 0; i < 256; i++) {
      const step = d * sc[i >> 4]!;
      const q = step ? Math.max(0, Math.min(63, Math.round(x[i]! / step) + 32)) : 32;
      const half = i >> 7;
      const qd = (i & 127) >> 5;
      const l = i & 31;
      const lo = o + 64 * half + l + 32 * (qd & 1);
      const hi = o + 128 + 32 * half + l;
      out[lo] = out[lo]! | ((q & 15) << (4 * (qd >> 1)));
      out[hi] = out[hi]! | ((q >> 4) << (2 * qd));
    }
  }
  return out;
}
