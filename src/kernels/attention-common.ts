// Pieces shared by the attention variants: the spec (what the WGSL depends on) and the shape
// (sizes, passed as uniforms so one pipeline serves every sequence length), vec4 loads and
// stores for f32 and packed 16-bit storage, query tiling, and the EgoX geometry weight.
//
// The EgoX bias log(c' + 1 + 1e-6) is applied in its exact multiplicative form: softmax over
// s + log(w) equals softmax over s with every exp(s - m) multiplied by w. The kernels keep
// the running max over the unbiased scores, multiply each probability by w and never take a
// log (w >= 1e-6 > 0 for lambda >= -1, so nothing changes sign or underflows to zero).
// Exo queries get a zero direction at load: their w is then the same constant for every
// key, which cancels in the normalisation, so there is no per-query branch.
//
// Extension point for additive score terms (T5's relative-position bias [H, Lq, Lk]): add a
// spec flag and a binding here, and in each variant add the term (times log2 e: the kernels
// work in base 2) to the score where it is computed, before the running max; both variants
// mark that place.

import type { DType } from '../runtime/dtype.ts';
import type { UniformDecl } from '../runtime/program.ts';
import { WGSL_HALF_BITS, f32BitsToHalfCodeExpr, unpackPairFn } from './wgsl-half.ts';

export type AttentionDType = 'f32' | 'f16' | 'bf16';
export type AttentionVariant = 'subgroup' | 'flash';

/** Everything the generated WGSL depends on (the pipeline key). */
export interface AttentionSpec {
  headDim: number;
  /** Storage of q, k and v. */
  dtype: AttentionDType;
  outDtype: AttentionDType;
  /** out += attention instead of out = attention (Wan's image + text cross-attention sum). */
  accumulate?: boolean;
  /** EgoX geometry bias; lambda > 1 scales only positive cosines (lambda itself is a uniform). */
  egoBias?: { lambdaAboveOne: boolean };
  variant: AttentionVariant;
  /** subgroup variant: lanes per subgroup (the adapter's fixed subgroup size). */
  subgroupSize?: number;
  /** subgroup variant: queries each lane keeps in registers. */
  queriesPerLane?: number;
}

/** Sizes of one launch (uniforms, not part of the pipeline key). */
export interface AttentionShape {
  lq: number;
  lk: number;
  heads: number;
  ego?: EgoGrid;
}

/** Where the ego queries are and which key directions each query uses. */
export interface EgoGrid {
  /** Query tokens per frame (rows * cols of the token grid); query q is in frame floor(q / tokensPerFrame). */
  tokensPerFrame: number;
  /** Columns of the token grid; a query's column is (q % tokensPerFrame) % gridWidth. */
  gridWidth: number;
  /** Queries whose column is >= egoColStart get the bias (49 of 77 in EgoX); the others none. */
  egoColStart: number;
  /** Key-direction sets: kdir is [frames, Lk, 3], one set per query frame. */
  frames: number;
}

export const LOG2E = 1.4426950408889634;
/** 1 + 1e-6 rounded to f32, the constant term of the EgoX weight. */
const EGO_W_OFFSET = '1.000001';

export function specKey(spec: AttentionSpec, tuning: string): string {
  const bias = spec.egoBias ? `ego-${spec.egoBias.lambdaAboveOne ? 'gt1' : 'le1'}` : 'nobias';
  return `attention-${spec.variant}:d${spec.headDim}:${spec.dtype}->${spec.outDtype}:${spec.accumulate ? 'acc' : 'store'}:${bias}:${tuning}`;
}

/** Binding element type for vec4-wide access to a tensor of `dtype`. */
function vec4BindingType(dtype: DType): string {
  return dtype === 'f32' ? 'vec4<f32>' : 'vec2<u32>';
}

/** WGSL `fn NAME(i: u32) -> vec4<f32>` reading the i-th group of 4 elements of `buf`. */
export function loadVec4Fn(dtype: AttentionDType, buf: string, name: string): string {
  if (dtype === 'f32') return `fn ${name}(i: u32) -> vec4<f32> { return ${buf}[i]; }`;
  const unpack = `${name}Pair`;
  return `${unpackPairFn(dtype, unpack)}
fn ${name}(i: u32) -> vec4<f32> { let w = ${buf}[i]; return vec4<f32>(${unpack}(w.x), ${unpack}(w.y)); }`;
}

/** WGSL `fn NAME(i: u32, v: vec4<f32>)` writing (or adding to) the i-th group of 4 of `buf`. */
export function storeVec4Fn(dtype: AttentionDType, buf: string, name: string, accumulate: boolean): string {
  if (dtype === 'f32') {
    return `fn ${name}(i: u32, v: vec4<f32>) { ${buf}[i] = ${accumulate ? `${buf}[i] + v` : 'v'}; }`;
  }
  const code = (x: string) => f32BitsToHalfCodeExpr(dtype, `bitcast<u32>(${x})`);
  return `${accumulate ? loadVec4Fn(dtype, buf, `${name}Old`) : ''}
fn ${name}(i: u32, v: vec4<f32>) {
  let x = ${accumulate ? `${name}Old(i) + v` : 'v'};
  ${buf}[i] = vec2<u32>(${code('x.x')} | (${code('x.y')} << 16u), ${code('x.z')} | (${code('x.w')} << 16u));
}`;
}

/** Loads, stores and (for 16-bit outputs) the exact rounding helpers, for q/k/v/O. */
export function ioWgsl(spec: AttentionSpec): string {
  return `${spec.outDtype === 'f32' ? '' : WGSL_HALF_BITS}
${loadVec4Fn(spec.dtype, 'Q', 'ldQ')}
${loadVec4Fn(spec.dtype, 'K', 'ldK')}
${loadVec4Fn(spec.dtype, 'V', 'ldV')}
${storeVec4Fn(spec.outDtype, 'O', 'stO', spec.accumulate ?? false)}`;
}

/**
 * WGSL helpers for the EgoX weight. `egoQueryDir(q)` is the (lambda-folded) direction of
 * query q, zero for exo queries; `egoKeyDir(frame, k)` the key direction of set `frame`;
 * `egoWeight(d)` maps their dot product to w = c' + 1 + 1e-6.
 */
export function egoBiasWgsl(spec: AttentionSpec): string {
  if (!spec.egoBias) return '';
  // lambda <= 1: lambda * clamp(c, -1, 1) == clamp(lambda * c, -|lambda|, |lambda|), so lambda
  // is folded into the query direction once and the per-pair work is clamp + add.
  const above = spec.egoBias.lambdaAboveOne;
  const weight = above
    ? `fn egoWeight(d: f32) -> f32 { let c = clamp(d, -1.0, 1.0); return max(c, c * params.lambda) + ${EGO_W_OFFSET}; }`
    : `fn egoWeight(d: f32) -> f32 { return clamp(d, -params.lambdaAbs, params.lambdaAbs) + ${EGO_W_OFFSET}; }`;
  return `
fn egoQueryDir(q: u32) -> vec3<f32> {
  let ego = ((q % params.egoTpf) % params.egoGw) >= params.egoCol0;
  let d = vec3<f32>(qdir[3u * q], qdir[3u * q + 1u], qdir[3u * q + 2u])${above ? '' : ' * params.lambda'};
  return select(vec3<f32>(0.0), d, ego);
}
fn egoKeyDir(frame: u32, k: u32) -> vec3<f32> {
  let i = 3u * (frame * params.lk + k);
  return vec3<f32>(kdir[i], kdir[i + 1u], kdir[i + 2u]);
}
${weight}`;
}

export const ATTENTION_UNIFORMS: readonly UniformDecl[] = [
  { name: 'qscale', type: 'f32' },
  { name: 'lambda', type: 'f32' },
  { name: 'lambdaAbs', type: 'f32' },
  { name: 'lq', type: 'u32' },
  { name: 'lk', type: 'u32' },
  { name: 'heads', type: 'u32' },
  { name: 'segLen', type: 'u32' },
  { name: 'tilesPerSeg', type: 'u32' },
  { name: 'egoTpf', type: 'u32' },
  { name: 'egoGw', type: 'u32' },
  { name: 'egoCol0', type: 'u32' },
  // Loop bounds equal to compile-time constants, passed as uniforms so that lavapipe does not
  // unroll the loops (unrolled gathers made the flash shader take tens of seconds to compile).
  { name: 'd4', type: 'u32' },
  { name: 'bc', type: 'u32' },
];

/**
 * Query tiling. With the EgoX bias, tiles never straddle a frame (all queries of a tile use
 * one key-direction set): the queries are cut into segments of tokensPerFrame and each
 * segment into tiles, the last tile of a segment partly idle. Without it, one segment.
 */
export function querySegments(shape: AttentionShape, tileQueries: number): { segLen: number; segments: number; tilesPerSeg: number } {
  const segLen = shape.ego ? shape.ego.tokensPerFrame : shape.lq;
  const segments = Math.ceil(shape.lq / segLen);
  return { segLen, segments, tilesPerSeg: Math.ceil(segLen / tileQueries) };
}

/** Uniform values of a launch: q pre-scale (scale * log2 e: the kernels use exp2), lambda, sizes. */
export function attentionUniformValues(
  spec: AttentionSpec,
  shape: AttentionShape,
  tileQueries: number,
  scale: number,
  lambda: number,
): Record<string, number> {
  const { segLen, tilesPerSeg } = querySegments(shape, tileQueries);
  const e = shape.ego;
  return {
    qscale: scale * LOG2E,
    lambda,
    lambdaAbs: Math.abs(lambda),
    lq: shape.lq,
    lk: shape.lk,
    heads: shape.heads,
    segLen,
    tilesPerSeg,
    egoTpf: e?.tokensPerFrame ?? 1,
    egoGw: e?.gridWidth ?? 1,
    egoCol0: e?.egoColStart ?? 0,
    d4: spec.headDim / 4,
    bc: flashKeysPerTile(spec),
  };
}

/** flash variant: keys per tile (one score per thread of a query row; K and V tiles within 16 KB). */
export function flashKeysPerTile(spec: AttentionSpec): number {
  const d4 = spec.headDim / 4;
  return Math.max(1, Math.min(16, d4, Math.floor(16384 / (2 * 16 * d4))));
}

/** Bindings in launch order: q, k, v, [qdir, kdir], out. */
export function attentionBindings(spec: AttentionSpec) {
  const io = (name: string, dtype: DType, access: 'read' | 'read_write') => ({ name, type: vec4BindingType(dtype), access });
  const b = [io('Q', spec.dtype, 'read'), io('K', spec.dtype, 'read'), io('V', spec.dtype, 'read')];
  if (spec.egoBias) {
    b.push({ name: 'qdir', type: 'f32', access: 'read' }, { name: 'kdir', type: 'f32', access: 'read' });
  }
  b.push(io('O', spec.outDtype, 'read_write'));
  return b;
}
