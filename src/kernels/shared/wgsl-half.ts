// WGSL helpers for 16-bit storage packed two per u32 (element 2i in the low half).
// The bit-exact conversions mirror src/runtime/dtype.ts; compute kernels that only need to
// widen use the cheap forms (unpack2x16float, a shift for bf16).

import type { DType } from '../../runtime/dtype.ts';

export const WGSL_HALF_BITS = /* wgsl */ `
fn egoxF32BitsToF16(bits: u32) -> u32 {
  let sign = (bits >> 16u) & 0x8000u;
  let expo = (bits >> 23u) & 0xffu;
  let mant = bits & 0x7fffffu;
  if (expo == 0xffu) { return select(sign | 0x7c00u, sign | 0x7e00u, mant != 0u); }
  let e = i32(expo) - 112;
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    let full = mant | 0x800000u;
    let shift = u32(14 - e);
    let half = 1u << (shift - 1u);
    let rest = full & ((1u << shift) - 1u);
    var outv = full >> shift;
    if (rest > half || (rest == half && (outv & 1u) == 1u)) { outv += 1u; }
    return sign | outv;
  }
  var outv = (u32(e) << 10u) | (mant >> 13u);
  let rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (outv & 1u) == 1u)) { outv += 1u; }
  return sign | outv;
}
fn egoxF16ToF32Bits(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let expo = (h >> 10u) & 0x1fu;
  let mant = h & 0x3ffu;
  if (expo == 0x1fu) { return sign | 0x7f800000u | (mant << 13u); }
  if (expo == 0u) {
    if (mant == 0u) { return sign; }
    let p = firstLeadingBit(mant);
    return sign | ((p + 103u) << 23u) | ((mant << (23u - p)) & 0x7fffffu);
  }
  return sign | ((expo + 112u) << 23u) | (mant << 13u);
}
fn egoxF32BitsToBf16(bits: u32) -> u32 {
  if ((bits & 0x7fffffffu) > 0x7f800000u) { return 0x7fc0u; }
  return (bits + 0x7fffu + ((bits >> 16u) & 1u)) >> 16u;
}
`;

/** WGSL expression widening 16-bit code `code` (a u32 in 0..0xffff) of `dtype` to f32 bits. */
export function halfCodeToF32BitsExpr(dtype: 'f16' | 'bf16', code: string): string {
  return dtype === 'bf16' ? `((${code}) << 16u)` : `egoxF16ToF32Bits(${code})`;
}

/** WGSL expression narrowing f32 bits `bits` to a 16-bit code of `dtype`. */
export function f32BitsToHalfCodeExpr(dtype: 'f16' | 'bf16', bits: string): string {
  return dtype === 'bf16' ? `egoxF32BitsToBf16(${bits})` : `egoxF32BitsToF16(${bits})`;
}

/**
 * Fast WGSL function `NAME(word: u32) -> vec2<f32>` widening a packed pair, for compute
 * kernels (unpack2x16float is exact for every f16 value).
 */
export function unpackPairFn(dtype: DType, name: string): string {
  if (dtype === 'bf16') return `fn ${name}(w: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u)); }`;
  if (dtype === 'f16') return `fn ${name}(w: u32) -> vec2<f32> { return unpack2x16float(w); }`;
  throw new Error(`unpackPairFn: ${dtype} is not a packed 16-bit type`);
}
