// Shared pieces of the GEMM family: the compile-time spec every variant receives, operand
// loaders (f32 / packed f16 / packed bf16, fast vec4 or generic), the fused epilogues and the
// output stores. The variants (gemm-subgroup.ts, gemm-tiled.ts, gemm-sgmatrix.ts) only decide
// how the accumulation loop is organised.

import type { BindingDecl, UniformDecl } from '../../runtime/program.ts';
import { sgmShapeKey, type SgmTiling } from '../shared/subgroup-matrix.ts';
import type { FloatDType, WeightDType } from '../../runtime/dtype.ts';
import { isBlockQuant, isFp8 } from '../../runtime/dtype.ts';
import { FP8_DECODE_FN, WGSL_FP8 } from './fp8.ts';
import { blockDequantFns } from './quant-blocks.ts';

export type GemmActivation = 'none' | 'gelu_tanh' | 'gelu_erf' | 'silu';
/** What happens to y = alpha * X W^T (+ bias) before the store. */
export type GemmEpilogue = GemmActivation | 'gated_residual';

/**
 * How the accumulation is organised.
 * - subgroup: one subgroup of `sg` lanes per workgroup computes a `tm` x (sg * rn) tile; each
 *   lane loads tm/sg rows of X and rn rows of W as vec4 along K, X rows are shared across the
 *   lanes with subgroupBroadcast; no workgroup memory, no barriers (best on lavapipe-like CPUs).
 * - tiled: 16 x 16 threads, each computing tm x tn outputs, operands staged through
 *   workgroup memory in k-slices of `bk` (the usual GPU technique).
 * - sgmatrix: subgroup matrices (tensor cores); see SgmatrixVariant.
 */
export type GemmVariant =
  | { kind: 'subgroup'; sg: number; tm: number; rn: number }
  | { kind: 'tiled'; tm: number; tn: number; bk: number }
  | SgmatrixVariant;

/**
 * Subgroup-matrix GEMM: a grid of gm x gn subgroups, each owning sm x sn result matrices of
 * the config `cfg` (so the workgroup tile is gm*sm*cfg.M x gn*sn*cfg.N), operands staged
 * through workgroup memory in k-slices of `bk` converted to cfg.component. X is rounded to
 * that component: with f16 components this is a 16-bit-precision variant.
 */
export interface SgmatrixVariant extends SgmTiling {
  kind: 'sgmatrix';
}

export function variantKey(v: GemmVariant): string {
  if (v.kind === 'sgmatrix') {
    return `sm${sgmShapeKey(v.cfg)}s${v.sg}g${v.gm}x${v.gn}t${v.sm}x${v.sn}k${v.bk}${v.emulate ? 'emu' : ''}`;
  }
  return v.kind === 'subgroup' ? `sg${v.sg}x${v.tm}x${v.rn}` : `tl${v.tm}x${v.tn}x${v.bk}`;
}

/** Row stride and batch stride of an operand, in elements. */
export interface OperandLayout {
  ld: number;
  batchStride: number;
}

/** Second accumulation segment (LoRA: Y += T B^T with T = s X A^T), i.e. K concatenated. */
export interface ExtraKSpec {
  K: number;
  tDtype: FloatDType;
  bDtype: FloatDType;
  t: OperandLayout;
  b: OperandLayout;
  /** vec4 loads allowed for T / B (ld, batch stride and offsets are multiples of 4). */
  tVec4: boolean;
  bVec4: boolean;
}

export interface ResidualSpec {
  dtype: FloatDType;
  layout: OperandLayout;
  /** The residual is the output tensor itself (read, then overwritten). */
  inPlace: boolean;
}

/** Everything compile-time about one GEMM dispatch. Offsets into bindings are uniforms. */
export interface GemmSpec {
  M: number;
  N: number;
  K: number;
  batch: number;
  xDtype: FloatDType;
  /** fp8 weights are widened in the load (and multiplied by `wScale` when set). */
  wDtype: WeightDType;
  yDtype: FloatDType;
  /** Multiply each widened W value by the uniform `wScale` (fp8 "scaled" checkpoints' per-tensor scale). */
  wScale?: boolean;
  x: OperandLayout;
  w: OperandLayout;
  y: OperandLayout;
  /** vec4 loads allowed for X / W (ld, batch stride and offsets all multiples of 4). */
  xVec4: boolean;
  wVec4: boolean;
  /** Multiply the accumulator by the uniform `alpha` before the bias. */
  alpha: boolean;
  bias: boolean;
  epilogue: GemmEpilogue;
  /** gated_residual only: residual operand and the gate's batch stride (0 = shared). */
  residual?: ResidualSpec;
  gateBatchStride?: number;
  extraK?: ExtraKSpec;
  variant: GemmVariant;
}

// ---- keys --------------------------------------------------------------------------------

function layoutKey(l: OperandLayout): string {
  return `${l.ld}/${l.batchStride}`;
}

/** Key naming every specialisation of the spec except the variant (added by the variant). */
export function specKey(s: GemmSpec, fit: string): string {
  const parts = [
    // M is a uniform (one pipeline per token count); a batch's strides still name it.
    `n${s.N}k${s.K}b${s.batch}`,
    `${s.xDtype}${s.xVec4 ? '4' : '1'}.${s.wDtype}${s.wVec4 ? '4' : '1'}${s.wScale ? 's' : ''}->${s.yDtype}`,
    `x${layoutKey(s.x)}w${layoutKey(s.w)}y${layoutKey(s.y)}`,
    s.alpha ? 'alpha' : '',
    s.bias ? 'bias' : '',
    s.epilogue,
    s.residual ? `res${s.residual.inPlace ? 'IP' : s.residual.dtype + layoutKey(s.residual.layout)}g${s.gateBatchStride ?? 0}` : '',
    s.extraK
      ? `xk${s.extraK.K}${s.extraK.tDtype}${s.extraK.tVec4 ? '4' : '1'}${s.extraK.bDtype}${s.extraK.bVec4 ? '4' : '1'}t${layoutKey(s.extraK.t)}b${layoutKey(s.extraK.b)}`
      : '',
    fit,
  ];
  return parts.filter((p) => p !== '').join(':');
}

// ---- bindings and uniforms ---------------------------------------------------------------

function loadType(dtype: WeightDType, vec4: boolean): string {
  if (isFp8(dtype) || isBlockQuant(dtype)) return 'u32';
  if (dtype === 'f32') return vec4 ? 'vec4<f32>' : 'f32';
  return vec4 ? 'vec2<u32>' : 'u32';
}

/**
 * Binding order: X, W, [T, B], [bias], [gate], [res], Y. Every binding except Y is read-only;
 * an in-place residual is read from Y.
 */
export function gemmBindings(s: GemmSpec): BindingDecl[] {
  const b: BindingDecl[] = [
    { name: 'X', type: loadType(s.xDtype, s.xVec4), access: 'read' },
    { name: 'W', type: loadType(s.wDtype, s.wVec4), access: 'read' },
  ];
  if (s.extraK) {
    b.push({ name: 'T', type: loadType(s.extraK.tDtype, s.extraK.tVec4), access: 'read' });
    b.push({ name: 'B', type: loadType(s.extraK.bDtype, s.extraK.bVec4), access: 'read' });
  }
  if (s.bias) b.push({ name: 'BIAS', type: 'f32', access: 'read' });
  if (s.epilogue === 'gated_residual') {
    b.push({ name: 'GATE', type: 'f32', access: 'read' });
    if (!s.residual!.inPlace) b.push({ name: 'RES', type: loadType(s.residual!.dtype, false), access: 'read' });
  }
  b.push({ name: 'Y', type: s.yDtype === 'f32' ? 'f32' : 'u32', access: 'read_write' });
  return b;
}

/** Element offsets of each operand inside its binding (views of big tensors start early). */
/** Values of the size uniforms every variant declares (gemmUniforms): rows M and tiles per batch. */
export function gemmSizeValues(s: GemmSpec, tiles: number): Record<string, number> {
  return { M: s.M, tiles };
}

export function gemmUniforms(s: GemmSpec): UniformDecl[] {
  const u: UniformDecl[] = [
    { name: 'M', type: 'u32' },
    { name: 'tiles', type: 'u32' },
    { name: 'xOff', type: 'u32' },
    { name: 'wOff', type: 'u32' },
    { name: 'yOff', type: 'u32' },
  ];
  if (s.extraK) u.push({ name: 'tOff', type: 'u32' }, { name: 'bOff', type: 'u32' });
  if (s.bias) u.push({ name: 'biasOff', type: 'u32' });
  if (s.epilogue === 'gated_residual') {
    u.push({ name: 'gateOff', type: 'u32' });
    if (!s.residual!.inPlace) u.push({ name: 'rOff', type: 'u32' });
  }
  if (s.alpha) u.push({ name: 'alpha', type: 'f32' });
  if (s.wScale) u.push({ name: 'wScale', type: 'f32' });
  return u;
}

// ---- loaders -----------------------------------------------------------------------------

/** WGSL expression widening the half `sel` (0 = low, 1 = high) of packed word `w`. */
function halfOfWord(dtype: 'f16' | 'bf16', w: string, hiExpr: string): string {
  if (dtype === 'bf16') return `bitcast<f32>(select(${w} << 16u, ${w} & 0xffff0000u, ${hiExpr}))`;
  return `unpack2x16float(${w})[select(0u, 1u, ${hiExpr})]`;
}

function unpack2(dtype: 'f16' | 'bf16', w: string): string {
  if (dtype === 'bf16') return `vec2<f32>(bitcast<f32>(${w} << 16u), bitcast<f32>(${w} & 0xffff0000u))`;
  return `unpack2x16float(${w})`;
}

/**
 * WGSL functions for operand NAME:
 *   ld_NAME1(e) -> f32        element e
 *   ld_NAME4(e) -> vec4<f32>  elements e..e+3 (e a multiple of 4 on the vec4 path)
 */
export function loaderFns(name: string, dtype: WeightDType, vec4: boolean, scale?: string): string {
  if (isFp8(dtype)) return fp8LoaderFns(name, dtype, vec4, scale);
  if (isBlockQuant(dtype)) {
    // Blocks: the quad of a vec4 load (e a multiple of 4) always sits in one block, decoded
    // word-wise; loops that hoist the sub-block context (subgroup.ts) call the parts directly.
    return `${blockDequantFns(dtype, name)}
fn ld_${name}1(e: u32) -> f32 { return egoxDq_${name}(e); }
fn ld_${name}4(e: u32) -> vec4<f32> { return ${vec4 ? `egoxDq4_${name}(e)` : `vec4<f32>(egoxDq_${name}(e), egoxDq_${name}(e + 1u), egoxDq_${name}(e + 2u), egoxDq_${name}(e + 3u))`}; }`;
  }
  const f: string[] = [];
  if (dtype === 'f32') {
    f.push(vec4 ? `fn ld_${name}1(e: u32) -> f32 { return ${name}[e >> 2u][e & 3u]; }` : `fn ld_${name}1(e: u32) -> f32 { return ${name}[e]; }`);
    f.push(
      vec4
        ? `fn ld_${name}4(e: u32) -> vec4<f32> { return ${name}[e >> 2u]; }`
        : `fn ld_${name}4(e: u32) -> vec4<f32> { return vec4<f32>(${name}[e], ${name}[e + 1u], ${name}[e + 2u], ${name}[e + 3u]); }`,
    );
  } else {
    const half = dtype as 'f16' | 'bf16';
    const word = vec4 ? `${name}[e >> 2u][(e >> 1u) & 1u]` : `${name}[e >> 1u]`;
    f.push(`fn ld_${name}1(e: u32) -> f32 { let w = ${word}; return ${halfOfWord(half, 'w', '(e & 1u) == 1u')}; }`);
    f.push(
      vec4
        ? `fn ld_${name}4(e: u32) -> vec4<f32> { let w = ${name}[e >> 2u]; return vec4<f32>(${unpack2(half, 'w.x')}, ${unpack2(half, 'w.y')}); }`
        : `fn ld_${name}4(e: u32) -> vec4<f32> { return vec4<f32>(ld_${name}1(e), ld_${name}1(e + 1u), ld_${name}1(e + 2u), ld_${name}1(e + 3u)); }`,
    );
  }
  return f.join('\n');
}

/**
 * fp8 operand NAME (four bytes per u32 word): ld_NAME1 widens one byte, ld_NAME4 on the vec4
 * path the four bytes of one word; each value times `scale` (a WGSL expression) when given.
 */
function fp8LoaderFns(name: string, dtype: 'f8e4m3' | 'f8e5m2', vec4: boolean, scale?: string): string {
  const dec = FP8_DECODE_FN[dtype];
  const by = scale ? ` * ${scale}` : '';
  const one = `fn ld_${name}1(e: u32) -> f32 { return ${dec}((${name}[e >> 2u] >> ((e & 3u) * 8u)) & 0xffu)${by}; }`;
  const four = vec4
    ? `fn ld_${name}4(e: u32) -> vec4<f32> { let w = ${name}[e >> 2u]; return vec4<f32>(${dec}(w & 0xffu), ${dec}((w >> 8u) & 0xffu), ${dec}((w >> 16u) & 0xffu), ${dec}(w >> 24u))${by}; }`
    : `fn ld_${name}4(e: u32) -> vec4<f32> { return vec4<f32>(ld_${name}1(e), ld_${name}1(e + 1u), ld_${name}1(e + 2u), ld_${name}1(e + 3u)); }`;
  return [WGSL_FP8[dtype], one, four].join('\n');
}

/** Loader functions for every matrix operand of the spec. */
export function allLoaderFns(s: GemmSpec): string {
  const f = [loaderFns('X', s.xDtype, s.xVec4), loaderFns('W', s.wDtype, s.wVec4, s.wScale ? 'params.wScale' : undefined)];
  if (s.extraK) f.push(loaderFns('T', s.extraK.tDtype, s.extraK.tVec4), loaderFns('B', s.extraK.bDtype, s.extraK.bVec4));
  if (s.residual && !s.residual.inPlace) f.push(loaderFns('RES', s.residual.dtype, false));
  return f.join('\n');
}

/**
 * `fn lm_NAME(e, k) -> vec4<f32>`: the quad at element e (the k-th of a row of K), zeros at
 * and past K, for the last k-slice of a segment whose K is not a multiple of the slice.
 */
export function maskedQuadLoaderFn(name: string, K: number): string {
  return K % 4 === 0
    ? `fn lm_${name}(e: u32, k: u32) -> vec4<f32> { if (k < ${K}u) { return ld_${name}4(e); } return vec4<f32>(0.0); }`
    : `fn lm_${name}(e: u32, k: u32) -> vec4<f32> {
  if (k + 4u <= ${K}u) { return ld_${name}4(e); }
  var r = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) { if (k + c < ${K}u) { r[c] = ld_${name}1(e + c); } }
  return r;
}`;
}

// ---- activations -------------------------------------------------------------------------

/**
 * Activation functions in f32. GELU(tanh) uses 0.5 (1 + tanh(u)) = sigmoid(2u), which has no
 * inf/inf for large |u|. Exact GELU uses 0.5 x erfc(-x / sqrt 2) with a Chebyshev-fitted erfc
 * of fractional error < 1.2e-7 everywhere, so the negative tail keeps its relative accuracy.
 */
export const WGSL_ACTIVATIONS = /* wgsl */ `
fn egoxErfc(z: f32) -> f32 {
  let a = abs(z);
  let t = 1.0 / (1.0 + 0.5 * a);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let r = t * exp(-a * a + p);
  return select(r, 2.0 - r, z < 0.0);
}
fn egoxGeluErf(x: f32) -> f32 { return 0.5 * x * egoxErfc(-0.70710678118654752 * x); }
fn egoxGeluTanh(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return x / (1.0 + exp(-2.0 * u));
}
fn egoxSilu(x: f32) -> f32 { return x / (1.0 + exp(-x)); }
`;

const ACT_FN: Record<GemmActivation, string> = {
  none: '',
  gelu_tanh: 'egoxGeluTanh',
  gelu_erf: 'egoxGeluErf',
  silu: 'egoxSilu',
};

// ---- epilogue and stores -----------------------------------------------------------------

/**
 * `fn egoxEpi(acc, b, m, n) -> f32`: alpha, bias, activation or gated residual, for the
 * output element (m, n) of batch b (chunk-local indices), plus store helpers
 * `stY1(b, m, n, v)` (f32 output) or `stY2(b, m, n, v0, v1)` (packed pair, n even).
 */
export function epilogueFns(s: GemmSpec): string {
  const f: string[] = [];
  const act = s.epilogue === 'gated_residual' ? 'none' : s.epilogue;
  if (act !== 'none') f.push(WGSL_ACTIVATIONS);
  const yIndex = `params.yOff + b * ${s.y.batchStride}u + m * ${s.y.ld}u + n`;
  let body = s.alpha ? 'var v = acc * params.alpha;' : 'var v = acc;';
  if (s.bias) body += ' v += BIAS[params.biasOff + n];';
  if (act !== 'none') body += ` v = ${ACT_FN[act]}(v);`;
  if (s.epilogue === 'gated_residual') {
    const r = s.residual!;
    let res: string;
    if (r.inPlace) {
      res = s.yDtype === 'f32' ? `Y[${yIndex}]` : halfOfWord(s.yDtype, `Y[(${yIndex}) >> 1u]`, `((${yIndex}) & 1u) == 1u`);
    } else {
      res = `ld_RES1(params.rOff + b * ${r.layout.batchStride}u + m * ${r.layout.ld}u + n)`;
    }
    body += ` v = ${res} + GATE[params.gateOff + b * ${s.gateBatchStride ?? 0}u + n] * v;`;
  }
  f.push(`fn egoxEpi(acc: f32, b: u32, m: u32, n: u32) -> f32 { ${body} return v; }`);
  if (s.yDtype === 'f32') {
    f.push(`fn stY1(b: u32, m: u32, n: u32, acc: f32) { Y[${yIndex}] = egoxEpi(acc, b, m, n); }`);
  } else {
    // The caller guarantees n even, ld/offset even: a pair never straddles two threads' words.
    const code = (v: string) => (s.yDtype === 'bf16' ? `egoxF32BitsToBf16(bitcast<u32>(${v}))` : `egoxF32BitsToF16(bitcast<u32>(${v}))`);
    f.push(
      `fn stY2(b: u32, m: u32, n: u32, a0: f32, a1: f32) { let v0 = egoxEpi(a0, b, m, n); let v1 = egoxEpi(a1, b, m, n + 1u); Y[(${yIndex}) >> 1u] = ${code('v0')} | (${code('v1')} << 16u); }`,
    );
    // A lone last column (odd N is rejected for packed outputs, so this only serves n+1 >= N
    // inside a tile whose N is even: never straddles). Kept for symmetry with stY1.
  }
  return f.join('\n');
}

/**
 * WGSL storing a register tile: `accs[i][j]` is the accumulator of row `rowExpr(i)` and column
 * `colBase + j` (consecutive columns). The accumulators are copied into a private array and
 * stored by a loop, so the epilogue (erf, exp, loads of bias/gate/residual) is emitted once
 * instead of once per accumulator: unrolled 128 times it made lavapipe compile for tens of
 * seconds. Rows are `rowBase + i * rowStep`.
 */
export function storeTile(
  s: GemmSpec,
  accs: string[][],
  rowBase: string,
  rowStep: number,
  colBase: string,
  fitM: boolean,
  fitN: boolean,
): string {
  const rows = accs.length;
  const cols = accs[0]!.length;
  const L: string[] = [`var tileAcc: array<f32, ${rows * cols}>;`];
  accs.forEach((row, i) => row.forEach((a, j) => L.push(`tileAcc[${i * cols + j}] = ${a};`)));
  const pair = s.yDtype !== 'f32';
  const store = pair
    ? `stY2(b, m, n, tileAcc[i * ${cols}u + j], tileAcc[i * ${cols}u + j + 1u]);`
    : `stY1(b, m, n, tileAcc[i * ${cols}u + j]);`;
  // For packed outputs N is even, so n < N implies n + 1 < N.
  const inner = `for (var j = 0u; j < ${cols}u; j += ${pair ? 2 : 1}u) { let n = ${colBase} + j; ${fitN ? store : `if (n < ${s.N}u) { ${store} }`} }`;
  L.push(`for (var i = 0u; i < ${rows}u; i++) {
    let m = ${rowBase} + i * ${rowStep}u;
    ${fitM ? inner : `if (m < params.M) { ${inner} }`}
  }`);
  return L.join('\n  ');
}

/** Validation shared by the variants: internal faults, not user errors. */
export function checkSpec(s: GemmSpec): void {
  if (isBlockQuant(s.wDtype)) {
    const qk = s.wDtype.endsWith('_k') ? 256 : 32;
    if (s.K % qk !== 0 || s.w.ld !== s.K || s.w.batchStride % qk !== 0) throw new Error(`gemm: ${s.wDtype} weights need K a multiple of ${qk} (whole blocks per row), got K=${s.K}`);
  }
  for (const [k, v] of Object.entries({ M: s.M, N: s.N, K: s.K, batch: s.batch })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`gemm: ${k} = ${v} must be a positive integer`);
  }
  if (s.yDtype !== 'f32' && (s.N % 2 !== 0 || s.y.ld % 2 !== 0 || s.y.batchStride % 2 !== 0)) {
    throw new Error(`gemm: a ${s.yDtype} output needs an even N and even strides (got N=${s.N}, ld=${s.y.ld})`);
  }
  if (s.residual?.inPlace && s.residual.dtype !== s.yDtype) throw new Error('gemm: in-place residual must have the output dtype');
  if (s.epilogue === 'gated_residual' && !s.residual) throw new Error('gemm: gated_residual needs a residual spec');
}

// ---- K segments ---------------------------------------------------------------------------

/** One accumulation segment of a GEMM program: operand names, strides and offset uniforms. */
export interface Segment {
  x: string;
  w: string;
  K: number;
  xLd: number;
  wLd: number;
  xBs: number;
  wBs: number;
  xOff: string;
  wOff: string;
}

/** The X W^T segment. */
export function mainSegment(s: GemmSpec): Segment {
  return { x: 'X', w: 'W', K: s.K, xLd: s.x.ld, wLd: s.w.ld, xBs: s.x.batchStride, wBs: s.w.batchStride, xOff: 'params.xOff', wOff: 'params.wOff' };
}

/** The LoRA T B^T segment. */
export function extraSegment(e: ExtraKSpec): Segment {
  return { x: 'T', w: 'B', K: e.K, xLd: e.t.ld, wLd: e.b.ld, xBs: e.t.batchStride, wBs: e.b.batchStride, xOff: 'params.tOff', wOff: 'params.bOff' };
}
