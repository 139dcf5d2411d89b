// GGML's block-quantized weights (the layouts of GGUF files; ggml-common.h) dequantized in
// WGSL, one element at a time: `fn egoxDq_NAME(e: u32) -> f32` returns element e of operand
// NAME (raw block bytes in u32 words). A row of K values is K / QK whole blocks (the launcher
// refuses other K), so element e lives in block e / QK at position e % QK and no row index is
// needed. Scales are f16 read by their bits (subnormals exact). Formulas, per block:
//   q8_0  d, 32 x i8                     v = d q
//   q4_0  d, 16 B nibbles                v = d (nib - 8)        (low nibbles: elements 0..15)
//   q4_1  d, m, nibbles                  v = d nib + m
//   q5_0  d, qh u32, nibbles             v = d ((nib | bit_j(qh) << 4) - 16)
//   q5_1  d, m, qh u32, nibbles          v = d (nib | bit_j(qh) << 4) + m
//   q4_k  d, dmin, 12 B 6-bit scales/mins, 128 B nibbles; 8 sub-blocks of 32:
//         v = d sc_s nib - dmin m_s      (sub-block s = 2 (j / 64) + (j % 64 >= 32))
//   q5_k  as q4_k plus 32 B of fifth bits (bit s of qh[j % 32])
//   q6_k  128 B low nibbles, 64 B 2-bit highs, 16 x i8 scales, d; v = d sc (q6 - 32)

import type { BlockQuantDType } from '../../runtime/dtype.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import { widenProgram } from './widen.ts';
import { BLOCK_QUANT } from '../../runtime/dtype.ts';

/** Byte, f16 scale and int8 readers over operand NAME's words. */
function readers(name: string): string {
  return `
fn egoxU8_${name}(o: u32) -> u32 { return (${name}[o >> 2u] >> ((o & 3u) * 8u)) & 0xffu; }
fn egoxI8_${name}(o: u32) -> f32 { return f32(i32(egoxU8_${name}(o) << 24u) >> 24u); }
fn egoxH_${name}(o: u32) -> f32 { return egoxHalfBits((${name}[o >> 2u] >> ((o & 2u) * 8u)) & 0xffffu); }
fn egoxU32_${name}(o: u32) -> u32 { return egoxU8_${name}(o) | (egoxU8_${name}(o + 1u) << 8u) | (egoxU8_${name}(o + 2u) << 16u) | (egoxU8_${name}(o + 3u) << 24u); }`;
}

/** f16 bits -> f32, exact for subnormals, infinities and NaN. */
const HALF_BITS = /* wgsl */ `
fn egoxHalfBits(h: u32) -> f32 {
  let s = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) { return bitcast<f32>(s | bitcast<u32>(f32(m) * 5.9604644775390625e-8)); }
  if (e == 31u) { return bitcast<f32>(s | 0x7f800000u | (m << 13u)); }
  return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
}`;

/** The 6-bit scale (x = 0) or min (x = 1) of sub-block s of a K-quant's 12 packed bytes at `o`. */
function kScale(name: string): string {
  return `
fn egoxKsm_${name}(o: u32, s: u32, x: u32) -> f32 {
  if (s < 4u) { return f32(egoxU8_${name}(o + s + 4u * x) & 63u); }
  let lo = select(egoxU8_${name}(o + s + 4u) & 15u, egoxU8_${name}(o + s + 4u) >> 4u, x == 1u);
  return f32(lo | ((egoxU8_${name}(o + s - 4u + 4u * x) >> 6u) << 4u));
}`;
}

function body(t: BlockQuantDType, n: string): string {
  switch (t) {
    case 'q8_0':
      return `return egoxH_${n}(o) * egoxI8_${n}(o + 2u + j);`;
    case 'q4_0':
    case 'q4_1': {
      const qs = t === 'q4_0' ? 2 : 4;
      const nib = `let b = egoxU8_${n}(o + ${qs}u + (j & 15u)); let q = f32(select(b & 15u, b >> 4u, j >= 16u));`;
      return t === 'q4_0' ? `${nib} return egoxH_${n}(o) * (q - 8.0);` : `${nib} return egoxH_${n}(o) * q + egoxH_${n}(o + 2u);`;
    }
    case 'q5_0':
    case 'q5_1': {
      const [qh, qs] = t === 'q5_0' ? [2, 6] : [4, 8];
      const q = `let b = egoxU8_${n}(o + ${qs}u + (j & 15u)); let h = (egoxU32_${n}(o + ${qh}u) >> j) & 1u; let q = f32(select(b & 15u, b >> 4u, j >= 16u) | (h << 4u));`;
      return t === 'q5_0' ? `${q} return egoxH_${n}(o) * (q - 16.0);` : `${q} return egoxH_${n}(o) * q + egoxH_${n}(o + 2u);`;
    }
    case 'q4_k':
    case 'q5_k': {
      const qs = t === 'q4_k' ? 16 : 48;
      const g = `let g = j >> 6u; let hi = (j & 32u) >> 5u; let s = 2u * g + hi; let l = j & 31u;`;
      const nib = `let b = egoxU8_${n}(o + ${qs}u + 32u * g + l); var q = f32(select(b & 15u, b >> 4u, hi == 1u));`;
      const fifth = t === 'q5_k' ? ` q += f32(((egoxU8_${n}(o + 16u + l) >> s) & 1u) * 16u);` : '';
      return `${g} ${nib}${fifth} return egoxH_${n}(o) * egoxKsm_${n}(o + 4u, s, 0u) * q - egoxH_${n}(o + 2u) * egoxKsm_${n}(o + 4u, s, 1u);`;
    }
    case 'q6_k':
      return `let half = j >> 7u; let r = j & 127u; let qd = r >> 5u; let l = r & 31u;
  let lo = (egoxU8_${n}(o + 64u * half + l + 32u * (qd & 1u)) >> (4u * (qd >> 1u))) & 15u;
  let hb = (egoxU8_${n}(o + 128u + 32u * half + l) >> (2u * qd)) & 3u;
  let sc = egoxI8_${n}(o + 192u + 8u * half + (l >> 4u) + 2u * qd);
  return egoxH_${n}(o + 208u) * sc * (f32(lo | (hb << 4u)) - 32.0);`;
  }
}

/**
 * WGSL defining `fn egoxDq_NAME(e: u32) -> f32` and `fn egoxDq4_NAME(e: u32) -> vec4<f32>`
 * (elements e..e+3, e a multiple of 4: one block, its offset found once) for operand NAME.
 */
export function blockDequantFns(t: BlockQuantDType, name: string): string {
  const { elements, bytes } = BLOCK_QUANT[t];
  const k = t.endsWith('_k') && t !== 'q6_k' ? kScale(name) : '';
  return `${HALF_BITS}${readers(name)}${k}
fn egoxDqAt_${name}(o: u32, j: u32) -> f32 {
  ${body(t, name)}
}
fn egoxDq_${name}(e: u32) -> f32 { return egoxDqAt_${name}((e / ${elements}u) * ${bytes}u, e % ${elements}u); }
fn egoxDq4_${name}(e: u32) -> vec4<f32> {
  let o = (e / ${elements}u) * ${bytes}u;
  let j = e % ${elements}u;
  return vec4<f32>(egoxDqAt_${name}(o, j), egoxDqAt_${name}(o, j + 1u), egoxDqAt_${name}(o, j + 2u), egoxDqAt_${name}(o, j + 3u));
}`;
}

/** A program dequantizing the first `n` elements of blocks (binding `SRC`) to f32 (`DST`), as the loaders do. */
export function blockWidenProgram(t: BlockQuantDType, n: number): KernelProgram {
  return widenProgram(t, blockDequantFns(t, 'SRC'), (i) => `egoxDq_SRC(${i})`, n);
}
