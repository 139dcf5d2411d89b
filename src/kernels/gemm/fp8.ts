// 8-bit float weights (safetensors F8_E4M3 / F8_E5M2, ComfyUI's fp8 checkpoints) widened to
// f32 in WGSL, bit-exact: the matmul weight loaders (common.ts) call these per byte, so the
// weights stay 8 bits in GPU memory. Four bytes per u32, element 4i in the low byte.
//   E4M3 ("fn"): bias 7, 3 mantissa bits, no infinities; S.1111.111 is NaN; max 448.
//   E5M2: bias 15, 2 mantissa bits, IEEE-like: exponent 31 is inf (m = 0) or NaN.
// Subnormals (exponent field 0) are m * 2^-9 (E4M3) and m * 2^-16 (E5M2).

import type { Fp8DType } from '../../runtime/dtype.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import { widenProgram } from './widen.ts';

export const FP8_DECODE_FN: Record<Fp8DType, string> = { f8e4m3: 'egoxF8e4m3', f8e5m2: 'egoxF8e5m2' };

/** `fn egoxF8e4m3(b: u32) -> f32` / `fn egoxF8e5m2(b: u32) -> f32` for a byte in the low 8 bits. */
export const WGSL_FP8: Record<Fp8DType, string> = {
  f8e4m3: /* wgsl */ `
fn egoxF8e4m3(b: u32) -> f32 {
  let s = (b & 0x80u) << 24u;
  let e = (b >> 3u) & 0xfu;
  let m = b & 7u;
  if (e == 0xfu && m == 7u) { return bitcast<f32>(s | 0x7fc00000u); }
  if (e == 0u) { return bitcast<f32>(s | bitcast<u32>(f32(m) * 0.001953125)); }
  return bitcast<f32>(s | ((e + 120u) << 23u) | (m << 20u));
}`,
  f8e5m2: /* wgsl */ `
fn egoxF8e5m2(b: u32) -> f32 {
  let s = (b & 0x80u) << 24u;
  let e = (b >> 2u) & 0x1fu;
  let m = b & 3u;
  if (e == 0x1fu) { return bitcast<f32>(s | select(0x7f800000u, 0x7fc00000u, m != 0u)); }
  if (e == 0u) { return bitcast<f32>(s | bitcast<u32>(f32(m) * 0.0000152587890625)); }
  return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 21u));
}`,
};

/** A program widening `n` packed fp8 values (binding `SRC`) to f32 (`DST`), as the loaders do. */
export function fp8WidenProgram(dtype: Fp8DType, n: number): KernelProgram {
  return widenProgram(dtype, WGSL_FP8[dtype], (i) => `${FP8_DECODE_FN[dtype]}((SRC[${i} >> 2u] >> ((${i} & 3u) * 8u)) & 0xffu)`, n);
}
