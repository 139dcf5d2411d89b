// GGML's block-quantized weights (the layouts of GGUF files; ggml-common.h) dequantized in
// WGSL: `fn egoxDq_NAME(e: u32) -> f32` returns element e of operand NAME (raw block bytes in
// u32 words), one byte at a time (the reference formulas); the matmul loads use the word-wise
// form below, bitwise equal. A row of K values is K / QK whole blocks (the launcher
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
 * Word-wise decoding, what the matmul loads use. A block's scales are decoded once per
 * sub-block of `BLOCK_SUB_ELEMENTS` values (the span over which ggml's scale factors are
 * constant) into `EgoxQc_NAME { o: block byte offset, a, b: scale and offset factors, h: q5
 * high bits }`; a quad of values is then decoded from whole u32 words with vector arithmetic
 * (one word per field: its 4 quants, 4 of its 8 nibbles or 4 of its 16 two-bit highs; two loads
 * where a block starts at a half-word). Every value is the same f32 expression as in
 * `egoxDqAt` above ((d sc) q - (dmin m) for K-quants, d (q - 8) for Q4_0, ...), so the results
 * are bitwise those of the element decoder (test/kernels/gemm/quant.test.ts).
 */
export const BLOCK_SUB_ELEMENTS: Readonly<Record<BlockQuantDType, number>> = {
  q8_0: 32, q4_0: 32, q4_1: 32, q5_0: 32, q5_1: 32, q4_k: 32, q5_k: 32, q6_k: 16,
};

/** Whether every field a quad reads sits at a multiple of 4 bytes (block size and offsets). */
function wordAligned(t: BlockQuantDType): boolean {
  return BLOCK_QUANT[t].bytes % 4 === 0;
}

/** `egoxWd_NAME(p)`: the 4 bytes at byte offset p (p even) as one little-endian word. */
function wordReader(t: BlockQuantDType, name: string): string {
  if (wordAligned(t)) return `fn egoxWd_${name}(p: u32) -> u32 { return ${name}[p >> 2u]; }`;
  // Odd-halfword starts need the next word too; rows of the same parity (K / QK even) keep
  // the branch uniform across a subgroup.
  return `fn egoxWd_${name}(p: u32) -> u32 {
  let w = ${name}[p >> 2u];
  if ((p & 2u) == 0u) { return w; }
  return (w >> 16u) | (${name}[(p >> 2u) + 1u] << 16u);
}`;
}

/** Sub-block context of element e: its block's byte offset and the factors a, b (and q5 highs h). */
function contextBody(t: BlockQuantDType, n: string): string {
  switch (t) {
    case 'q8_0':
    case 'q4_0':
      return `return EgoxQc_${n}(o, egoxH_${n}(o), 0.0, 0u);`;
    case 'q4_1':
      return `return EgoxQc_${n}(o, egoxH_${n}(o), egoxH_${n}(o + 2u), 0u);`;
    case 'q5_0':
      return `return EgoxQc_${n}(o, egoxH_${n}(o), 0.0, egoxWd_${n}(o + 2u));`;
    case 'q5_1':
      return `return EgoxQc_${n}(o, egoxH_${n}(o), egoxH_${n}(o + 2u), egoxWd_${n}(o + 4u));`;
    case 'q4_k':
    case 'q5_k':
      return `let s = j >> 5u;
  return EgoxQc_${n}(o, egoxH_${n}(o) * egoxKsm_${n}(o + 4u, s, 0u), egoxH_${n}(o + 2u) * egoxKsm_${n}(o + 4u, s, 1u), 0u);`;
    case 'q6_k':
      return `let r = j & 127u;
  let sc = egoxI8_${n}(o + 192u + 8u * (j >> 7u) + ((r & 31u) >> 4u) + 2u * (r >> 5u));
  return EgoxQc_${n}(o, egoxH_${n}(o + 208u) * sc, 0.0, 0u);`;
  }
}

/** Quad j..j+3 of the context's block (j a multiple of 4 inside the context's sub-block). */
function quadBody(t: BlockQuantDType, n: string): string {
  const nib = (at: string, hi: string) => `let q = vec4<f32>(egoxBytes_${n}((egoxWd_${n}(${at}) >> select(0u, 4u, ${hi})) & 0x0f0f0f0fu));`;
  switch (t) {
    case 'q8_0':
      return `let w = bitcast<vec4<i32>>(vec4<u32>(egoxWd_${n}(c.o + 2u + j)) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u);
  return c.a * vec4<f32>(w);`;
    case 'q4_0':
      return `${nib(`c.o + 2u + (j & 15u)`, 'j >= 16u')} return c.a * (q - 8.0);`;
    case 'q4_1':
      return `${nib(`c.o + 4u + (j & 15u)`, 'j >= 16u')} return c.a * q + c.b;`;
    case 'q5_0':
    case 'q5_1': {
      const qs = t === 'q5_0' ? 6 : 8;
      const q = `let nb = (egoxWd_${n}(c.o + ${qs}u + (j & 15u)) >> select(0u, 4u, j >= 16u)) & 0x0f0f0f0fu;
  let hb = ((vec4<u32>(c.h >> j) >> vec4<u32>(0u, 1u, 2u, 3u)) & vec4<u32>(1u)) << vec4<u32>(4u);
  let q = vec4<f32>(egoxBytes_${n}(nb) | hb);`;
      return t === 'q5_0' ? `${q} return c.a * (q - 16.0);` : `${q} return c.a * q + c.b;`;
    }
    case 'q4_k':
    case 'q5_k': {
      const qs = t === 'q4_k' ? 16 : 48;
      const g = `let hi = (j >> 5u) & 1u; let l = j & 31u;
  let nb = (${n}[(c.o + ${qs}u + 32u * (j >> 6u) + l) >> 2u] >> (4u * hi)) & 0x0f0f0f0fu;`;
      // Q5_K: bit s (the sub-block) of each of the 32 high-bit bytes.
      const fifth = t === 'q5_k' ? ` | (((${n}[(c.o + 16u + l) >> 2u] >> (j >> 5u)) & 0x01010101u) << 4u)` : '';
      return `${g}
  let q = vec4<f32>(egoxBytes_${n}(nb${fifth}));
  return c.a * q - c.b;`;
    }
    case 'q6_k':
      return `let half = j >> 7u; let r = j & 127u; let qd = r >> 5u; let l = r & 31u;
  let lo = (egoxWd_${n}(c.o + 64u * half + l + 32u * (qd & 1u)) >> (4u * (qd >> 1u))) & 0x0f0f0f0fu;
  let hb = (egoxWd_${n}(c.o + 128u + 32u * half + l) >> (2u * qd)) & 0x03030303u;
  let q = vec4<f32>(egoxBytes_${n}(lo | (hb << 4u)));
  return c.a * (q - 32.0);`;
  }
}

/**
 * WGSL of the word-wise decoder for operand NAME: `egoxQc_NAME(e) -> EgoxQc_NAME` (the
 * context of element e's sub-block) and `egoxQq_NAME(c, j) -> vec4<f32>` (values j..j+3 of the
 * block, j = e % QK a multiple of 4).
 */
function wordDequantFns(t: BlockQuantDType, name: string): string {
  const { elements, bytes } = BLOCK_QUANT[t];
  return `
struct EgoxQc_${name} { o: u32, a: f32, b: f32, h: u32 }
fn egoxBytes_${name}(w: u32) -> vec4<u32> { return (vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu); }
${wordReader(t, name)}
fn egoxQc_${name}(e: u32) -> EgoxQc_${name} {
  let o = (e / ${elements}u) * ${bytes}u;
  let j = e % ${elements}u;
  ${contextBody(t, name)}
}
fn egoxQq_${name}(c: EgoxQc_${name}, j: u32) -> vec4<f32> {
  ${quadBody(t, name)}
}`;
}

/**
 * WGSL defining, for operand NAME, the element decoder `fn egoxDq_NAME(e: u32) -> f32` (the
 * reference formulas, one value at a time) and the word-wise decoder `egoxQc_NAME` /
 * `egoxQq_NAME` the matmul loads use, plus `fn egoxDq4_NAME(e: u32) -> vec4<f32>` (elements
 * e..e+3, e a multiple of 4) through the latter.
 */
export function blockDequantFns(t: BlockQuantDType, name: string): string {
  const { elements, bytes } = BLOCK_QUANT[t];
  const k = t.endsWith('_k') && t !== 'q6_k' ? kScale(name) : '';
  return `${HALF_BITS}${readers(name)}${k}
fn egoxDqAt_${name}(o: u32, j: u32) -> f32 {
  ${body(t, name)}
}
fn egoxDq_${name}(e: u32) -> f32 { return egoxDqAt_${name}((e / ${elements}u) * ${bytes}u, e % ${elements}u); }
${wordDequantFns(t, name)}
fn egoxDq4_${name}(e: u32) -> vec4<f32> { return ${blockQuad(t, name, `egoxQc_${name}(e)`, 'e')}; }`;
}

/** WGSL expression: the sub-block context of element `e` of operand NAME (hoisted by loops). */
export function blockContext(name: string, e: string): string {
  return `egoxQc_${name}(${e})`;
}

/** WGSL expression: the quad at element `e` (a multiple of 4) of operand NAME, inside context `c`'s sub-block. */
export function blockQuad(t: BlockQuantDType, name: string, c: string, e: string): string {
  return `egoxQq_${name}(${c}, (${e}) % ${BLOCK_QUANT[t].elements}u)`;
}

/**
 * A program dequantizing the first `n` elements of blocks (binding `SRC`) to f32 (`DST`): by
 * the element decoder, or with `words` by the matmul loads' word-wise quads.
 */
export function blockWidenProgram(t: BlockQuantDType, n: number, words = false): KernelProgram {
  const value = (i: string) => (words ? `egoxDq4_SRC(${i} & ~3u)[${i} & 3u]` : `egoxDq_SRC(${i})`);
  return widenProgram(`${t}${words ? 'w' : ''}`, blockDequantFns(t, 'SRC'), value, n);
}
