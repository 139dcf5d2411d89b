// Storage dtypes and bit-exact CPU conversions (round to nearest, ties to even).
// f16 and bf16 are stored two per u32 on the GPU (element 2i in the low half), so a
// 16-bit tensor of n elements takes ceil(n/2) words; the GPU cast kernels in
// src/kernels/elementwise/cast.ts implement the same bit rules as these functions.

export type DType = 'f32' | 'f16' | 'bf16' | 'i32' | 'u32' | Fp8DType | BlockQuantDType;

export const DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'i32', 'u32', 'f8e4m3', 'f8e5m2', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'q4_k', 'q5_k', 'q6_k'];

/**
 * GGML's block-quantized weights as GGUF files store them: each row of K values is K / `elements`
 * blocks of `bytes` bytes (scales and packed quants); only matmul weight loads read them.
 */
export type BlockQuantDType = 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'q4_k' | 'q5_k' | 'q6_k';

export const BLOCK_QUANT: Readonly<Record<BlockQuantDType, { elements: number; bytes: number }>> = {
  q8_0: { elements: 32, bytes: 34 },
  q4_0: { elements: 32, bytes: 18 },
  q4_1: { elements: 32, bytes: 20 },
  q5_0: { elements: 32, bytes: 22 },
  q5_1: { elements: 32, bytes: 24 },
  q4_k: { elements: 256, bytes: 144 },
  q5_k: { elements: 256, bytes: 176 },
  q6_k: { elements: 256, bytes: 210 },
};

export function isBlockQuant(dtype: DType): dtype is BlockQuantDType {
  return Object.prototype.hasOwnProperty.call(BLOCK_QUANT, dtype);
}

/**
 * 8-bit float weights as stored (safetensors F8_E4M3 / F8_E5M2), four per u32 (element 4i in
 * the low byte); only matmul weight loads read them, widening to f32.
 */
export type Fp8DType = 'f8e4m3' | 'f8e5m2';

/** What a matmul weight may be stored as on the GPU. */
export type WeightDType = FloatDType | Fp8DType | BlockQuantDType;

export function isFp8(dtype: DType): dtype is Fp8DType {
  return dtype === 'f8e4m3' || dtype === 'f8e5m2';
}

/** The float storage dtypes: what weights, activations and kernel operands may be. */
export type FloatDType = 'f32' | 'f16' | 'bf16';

export function isPacked16(dtype: DType): boolean {
  return dtype === 'f16' || dtype === 'bf16';
}

/** Bytes one element takes in its packed storage (fp8: 1, f16/bf16: 2, others 4; blocks: a fraction). */
export function elementBytes(dtype: DType): number {
  if (isBlockQuant(dtype)) return BLOCK_QUANT[dtype].bytes / BLOCK_QUANT[dtype].elements;
  return isFp8(dtype) ? 1 : isPacked16(dtype) ? 2 : 4;
}

/** Bytes a tensor of `numel` elements occupies in a GPU buffer (always a multiple of 4). */
export function storageBytes(dtype: DType, numel: number): number {
  if (isFp8(dtype)) return Math.ceil(numel / 4) * 4;
  if (isBlockQuant(dtype)) return Math.ceil((Math.ceil(numel / BLOCK_QUANT[dtype].elements) * BLOCK_QUANT[dtype].bytes) / 4) * 4;
  return isPacked16(dtype) ? Math.ceil(numel / 2) * 4 : numel * 4;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

export function f32Bits(x: number): number {
  f32Scratch[0] = x;
  return u32Scratch[0]!;
}

export function bitsToF32(bits: number): number {
  u32Scratch[0] = bits >>> 0;
  return f32Scratch[0]!;
}

/** f32 bits -> bf16 bits. NaN becomes the canonical quiet NaN 0x7FC0 (as PyTorch does). */
export function f32BitsToBf16(bits: number): number {
  bits >>>= 0;
  if ((bits & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  const lsb = (bits >>> 16) & 1;
  return ((bits + 0x7fff + lsb) >>> 16) & 0xffff;
}

export function bf16ToF32Bits(h: number): number {
  return (h << 16) >>> 0;
}

/** f32 bits -> IEEE binary16 bits, round to nearest even, with subnormals; NaN -> sign|0x7E00. */
export function f32BitsToF16(bits: number): number {
  bits >>>= 0;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 : sign | 0x7c00;
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // Subnormal or zero in f16: shift the full significand (with implicit 1) right.
    if (e < -10) return sign; // rounds to zero (even the tie at 2^-25 rounds to 0: even)
    const full = mant | 0x800000;
    const shift = 14 - e; // 24-bit significand -> 10-bit subnormal field
    const half = 1 << (shift - 1);
    const rest = full & ((1 << shift) - 1);
    let out = full >>> shift;
    if (rest > half || (rest === half && (out & 1))) out += 1;
    return sign | out;
  }
  let out = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (out & 1))) out += 1; // may carry into exponent: correct
  return sign | out;
}

export function f16ToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp === 0) {
    if (mant === 0) return sign >>> 0;
    // Normalise the subnormal.
    let m = mant;
    let e = -14;
    while ((m & 0x400) === 0) {
      m <<= 1;
      e -= 1;
    }
    return (sign | ((e + 127) << 23) | ((m & 0x3ff) << 13)) >>> 0;
  }
  return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
}

export function f16ToF32(h: number): number {
  return bitsToF32(f16ToF32Bits(h));
}

export function bf16ToF32(h: number): number {
  return bitsToF32(bf16ToF32Bits(h));
}

/** Converts f32 values to 16-bit codes (Uint16Array, one code per element). */
export function f32ToHalfCodes(src: Float32Array, dtype: 'f16' | 'bf16'): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  const conv = dtype === 'f16' ? f32BitsToF16 : f32BitsToBf16;
  for (let i = 0; i < bits.length; i++) out[i] = conv(bits[i]!);
  return out;
}

export function halfCodesToF32(src: Uint16Array, dtype: 'f16' | 'bf16'): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  const conv = dtype === 'f16' ? f16ToF32Bits : bf16ToF32Bits;
  for (let i = 0; i < src.length; i++) bits[i] = conv(src[i]!);
  return out;
}

/** Rounds every value through the given storage dtype (what a GPU round trip gives). */
export function roundThrough(src: Float32Array, dtype: DType): Float32Array {
  if (!isPacked16(dtype)) return Float32Array.from(src);
  return halfCodesToF32(f32ToHalfCodes(src, dtype as 'f16' | 'bf16'), dtype as 'f16' | 'bf16');
}
