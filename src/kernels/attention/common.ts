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

import type { DType, FloatDType } from '../../runtime/dtype.ts';
import type { KernelProgram, UniformDecl } from '../../runtime/program.ts';
import { WGSL_HALF_BITS, f32BitsToHalfCodeExpr, unpackPairFn } from '../shared/wgsl-half.ts';
import { sgmShapeKey, type SgmShape } from '../shared/subgroup-matrix.ts';

export type AttentionVariant = 'subgroup' | 'flash' | 'sgmatrix';

/** Everything the generated WGSL depends on (the pipeline key). */
export interface AttentionSpec {
  headDim: number;
  /** Storage of q, k and v. */
  dtype: FloatDType;
  outDtype: FloatDType;
  /** out += attention instead of out = attention (Wan's image + text cross-attention sum). */
  accumulate?: boolean;
  /** EgoX geometry bias; lambda > 1 scales only positive cosines (lambda itself is a uniform). */
  egoBias?: { lambdaAboveOne: boolean };
  variant: AttentionVariant;
  /**
   * subgroup variant: lanes per subgroup (the adapter's fixed subgroup size). sgmatrix
   * variant: the adapter's subgroupMaxSize (the workgroup is a multiple of it), or with
   * `emulate` the lanes of an emulated subgroup.
   */
  subgroupSize?: number;
  /** sgmatrix variant: the subgroup-matrix config the kernel multiplies with. */
  sgm?: SgmShape;
  /** sgmatrix variant: plain-WGSL emulation of the matrices (tests on adapters without them; never chosen automatically). */
  emulate?: true;
  /** subgroup variant: queries each lane keeps in registers. */
  queriesPerLane?: number;
  /**
   * Q, K, V, O are windows of bigger tensors (a split over the binding limit): loads and
   * stores add the window offsets, and the EgoX bias uses global query/key/frame indices
   * (uniforms from AttentionShape.window).
   */
  windowed?: boolean;
  /**
   * One chunk of the keys (a split of K/V over the binding limit): 'first' and 'middle'
   * leave the running softmax state in O (unnormalised, f32) and in the state buffer
   * (m, l per query and head); 'middle' and 'last' resume from it; 'last' normalises and
   * stores as usual. Chunks of whole key blocks repeat the unsplit arithmetic exactly.
   */
  keyChunk?: 'first' | 'middle' | 'last';
}

/** Where a windowed launch sits in the whole problem, and the window offsets (in vec4s / state pairs / f32s). */
export interface AttentionWindow {
  /** Global index of the window's first query (the EgoX column rule is global). */
  q0: number;
  /** The whole key count: the row stride of the key-direction sets. */
  lkAll: number;
  /** Query segment length when the window lies inside one frame (default tokensPerFrame). */
  segLen?: number;
  qOff: number;
  kOff: number;
  vOff: number;
  oOff: number;
  sOff: number;
  /**
   * f32 offsets of the direction windows: query q of the window at qdOff + 3q; key k of the
   * chunk for the window's frame f at kdOff + 3 (f lkAll + k).
   */
  qdOff: number;
  kdOff: number;
}

/** Sizes of one launch (uniforms, not part of the pipeline key). */
export interface AttentionShape {
  lq: number;
  lk: number;
  heads: number;
  ego?: EgoGrid;
  window?: AttentionWindow;
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

/** Running-max start and masked-score value: finite, so exp2(NEG_BIG - m) is 0, never NaN. */
export const NEG_BIG = '-3.0e38';
/** 1 + 1e-6 rounded to f32, the constant term of the EgoX weight. */
const EGO_W_OFFSET = '1.000001';

export function specKey(spec: AttentionSpec, tuning: string): string {
  const bias = spec.egoBias ? `ego-${spec.egoBias.lambdaAboveOne ? 'gt1' : 'le1'}` : 'nobias';
  const win = spec.windowed ? `:win${spec.keyChunk ? `-${spec.keyChunk}` : ''}` : '';
  const sgm = spec.variant === 'sgmatrix' ? `:${spec.sgm ? sgmShapeKey(spec.sgm) : 'nocfg'}:sg${spec.subgroupSize ?? 0}${spec.emulate ? ':emu' : ''}` : '';
  return `attention-${spec.variant}${sgm}:d${spec.headDim}:${spec.dtype}->${spec.outDtype}:${spec.accumulate ? 'acc' : 'store'}:${bias}:${tuning}${win}`;
}

/** Binding element type for vec4-wide access to a tensor of `dtype`. */
function vec4BindingType(dtype: DType): string {
  return dtype === 'f32' ? 'vec4<f32>' : 'vec2<u32>';
}

/**
 * WGSL `fn NAME(i: u32) -> vec4<f32>` reading the i-th group of 4 elements of `buf` (after
 * `offset`, a WGSL expression in groups of 4, when given).
 */
export function loadVec4Fn(dtype: FloatDType, buf: string, name: string, offset?: string): string {
  const at = offset ? `${offset} + i` : 'i';
  if (dtype === 'f32') return `fn ${name}(i: u32) -> vec4<f32> { return ${buf}[${at}]; }`;
  const unpack = `${name}Pair`;
  return `${unpackPairFn(dtype, unpack)}
fn ${name}(i: u32) -> vec4<f32> { let w = ${buf}[${at}]; return vec4<f32>(${unpack}(w.x), ${unpack}(w.y)); }`;
}

/** WGSL `fn NAME(i: u32, v: vec4<f32>)` writing (or adding to) the i-th group of 4 of `buf`. */
export function storeVec4Fn(dtype: FloatDType, buf: string, name: string, accumulate: boolean, offset?: string): string {
  const at = offset ? `${offset} + i` : 'i';
  if (dtype === 'f32') {
    return `fn ${name}(i: u32, v: vec4<f32>) { ${buf}[${at}] = ${accumulate ? `${buf}[${at}] + v` : 'v'}; }`;
  }
  const code = (x: string) => f32BitsToHalfCodeExpr(dtype, `bitcast<u32>(${x})`);
  return `${accumulate ? loadVec4Fn(dtype, buf, `${name}Old`, offset) : ''}
fn ${name}(i: u32, v: vec4<f32>) {
  let x = ${accumulate ? `${name}Old(i) + v` : 'v'};
  ${buf}[${at}] = vec2<u32>(${code('x.x')} | (${code('x.y')} << 16u), ${code('x.z')} | (${code('x.w')} << 16u));
}`;
}

/**
 * Loads, stores and (for 16-bit outputs) the exact rounding helpers, for q/k/v/O; with a key
 * chunk also the raw f32 O access and the (m, l) state: ldORaw/stORaw, ldState/stState.
 */
export function ioWgsl(spec: AttentionSpec): string {
  const w = spec.windowed;
  const chunk = spec.keyChunk
    ? `
fn ldORaw(i: u32) -> vec4<f32> { return O[params.oOff + i]; }
fn stORaw(i: u32, v: vec4<f32>) { O[params.oOff + i] = v; }
fn ldState(i: u32) -> vec2<f32> { return ST[params.sOff + i]; }
fn stState(i: u32, v: vec2<f32>) { ST[params.sOff + i] = v; }`
    : '';
  return `${spec.outDtype === 'f32' ? '' : WGSL_HALF_BITS}
${loadVec4Fn(spec.dtype, 'Q', 'ldQ', w ? 'params.qOff' : undefined)}
${loadVec4Fn(spec.dtype, 'K', 'ldK', w ? 'params.kOff' : undefined)}
${loadVec4Fn(spec.dtype, 'V', 'ldV', w ? 'params.vOff' : undefined)}
${storeVec4Fn(spec.outDtype, 'O', 'stO', spec.accumulate ?? false, w ? 'params.oOff' : undefined)}${chunk}`;
}

/** Checks a key-chunk spec: the running state lives in O, so O must be plain f32. */
export function checkKeyChunk(spec: AttentionSpec): void {
  if (!spec.keyChunk) return;
  if (!spec.windowed) throw new Error('attention: a key chunk needs a windowed spec');
  if (spec.outDtype !== 'f32' || spec.accumulate) throw new Error('attention: splitting the keys over the binding limit needs an f32 output without accumulate');
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
  // Windowed launches bind windows of the directions (offsets qdOff, kdOff) and take the
  // EgoX column of the global query q0 + q; unsplit launches keep the plain indexing.
  const w = spec.windowed;
  const queryDir = w
    ? `fn egoQueryDir(q: u32) -> vec3<f32> {
  let ego = (((params.q0 + q) % params.egoTpf) % params.egoGw) >= params.egoCol0;
  let j = params.qdOff + 3u * q;
  let d = vec3<f32>(qdir[j], qdir[j + 1u], qdir[j + 2u])${above ? '' : ' * params.lambda'};
  return select(vec3<f32>(0.0), d, ego);
}`
    : `fn egoQueryDir(q: u32) -> vec3<f32> {
  let ego = ((q % params.egoTpf) % params.egoGw) >= params.egoCol0;
  let d = vec3<f32>(qdir[3u * q], qdir[3u * q + 1u], qdir[3u * q + 2u])${above ? '' : ' * params.lambda'};
  return select(vec3<f32>(0.0), d, ego);
}`;
  return `
${queryDir}
fn egoKeyDir(frame: u32, k: u32) -> vec3<f32> {
  let i = ${w ? 'params.kdOff + 3u * (frame * params.lkAll + k)' : '3u * (frame * params.lk + k)'};
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

const WINDOW_UNIFORMS: readonly UniformDecl[] = ['q0', 'lkAll', 'qOff', 'kOff', 'vOff', 'oOff', 'qdOff', 'kdOff'].map((name) => ({ name, type: 'u32' as const }));

/** The uniforms of a spec: the common ones, plus the window's and the state offset's. */
export function attentionUniforms(spec: AttentionSpec): readonly UniformDecl[] {
  if (!spec.windowed) return ATTENTION_UNIFORMS;
  return [...ATTENTION_UNIFORMS, ...WINDOW_UNIFORMS, ...(spec.keyChunk ? [{ name: 'sOff', type: 'u32' as const }] : [])];
}

/**
 * Query tiling. With the EgoX bias, tiles never straddle a frame (all queries of a tile use
 * one key-direction set): the queries are cut into segments of tokensPerFrame and each
 * segment into tiles, the last tile of a segment partly idle. Without it, one segment.
 */
export function querySegments(shape: AttentionShape, tileQueries: number): { segLen: number; segments: number; tilesPerSeg: number } {
  const segLen = shape.window?.segLen ?? (shape.ego ? shape.ego.tokensPerFrame : shape.lq);
  const segments = Math.ceil(shape.lq / segLen);
  return { segLen, segments, tilesPerSeg: Math.ceil(segLen / tileQueries) };
}

/**
 * Uniform values of a launch: q pre-scale (scale * log2 e: the kernels use exp2), lambda, sizes.
 * `keysPerTile` is the variant's key block (the sgmatrix variant's differs from flash's).
 */
export function attentionUniformValues(
  spec: AttentionSpec,
  shape: AttentionShape,
  tileQueries: number,
  scale: number,
  lambda: number,
  keysPerTile = flashKeysPerTile(spec),
): Record<string, number> {
  const { segLen, tilesPerSeg } = querySegments(shape, tileQueries);
  const e = shape.ego;
  const w = shape.window;
  return {
    ...(w ? { q0: w.q0, lkAll: w.lkAll, qOff: w.qOff, kOff: w.kOff, vOff: w.vOff, oOff: w.oOff, sOff: w.sOff, qdOff: w.qdOff, kdOff: w.kdOff } : {}),
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
    bc: keysPerTile,
  };
}

/** flash variant: keys per tile (one score per thread of a query row; K and V tiles within 16 KB). */
export function flashKeysPerTile(spec: AttentionSpec): number {
  const d4 = spec.headDim / 4;
  return Math.max(1, Math.min(16, d4, Math.floor(16384 / (2 * 16 * d4))));
}

/** Bindings in launch order: q, k, v, [qdir, kdir], [state], out. */
export function attentionBindings(spec: AttentionSpec) {
  const io = (name: string, dtype: DType, access: 'read' | 'read_write') => ({ name, type: vec4BindingType(dtype), access });
  const b = [io('Q', spec.dtype, 'read'), io('K', spec.dtype, 'read'), io('V', spec.dtype, 'read')];
  if (spec.egoBias) {
    b.push({ name: 'qdir', type: 'f32', access: 'read' }, { name: 'kdir', type: 'f32', access: 'read' });
  }
  if (spec.keyChunk) b.push({ name: 'ST', type: 'vec2<f32>', access: 'read_write' });
  b.push(io('O', spec.outDtype, 'read_write'));
  return b;
}

/**
 * The opening of every query-tiled variant's main: this workgroup's head `h`, its query
 * segment (`frame`, `segBase`: one segment per frame for EgoX's per-frame key ranges) and the
 * first query of its tile inside the segment (`tileBase`, in steps of `tileQueries`).
 */
export function queryTileWgsl(tileQueries: string): string {
  return `  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let h = wg % params.heads;
  let tile = wg / params.heads;
  let frame = tile / params.tilesPerSeg;
  let segBase = frame * params.segLen;
  let tileBase = (tile % params.tilesPerSeg) * ${tileQueries};`;
}

/** The program of a query-tiled variant: one workgroup per (head, query tile of a segment). */
export function queryTiledProgram(
  spec: AttentionSpec,
  shape: AttentionShape,
  o: { tileQueries: number; tuning: string; wgsl: string; threads: number; enables?: KernelProgram['enables'] },
): KernelProgram {
  const { segments, tilesPerSeg } = querySegments(shape, o.tileQueries);
  const program: KernelProgram = {
    name: 'attention',
    key: specKey(spec, o.tuning),
    wgsl: o.wgsl,
    workgroupSize: [o.threads, 1, 1],
    bindings: attentionBindings(spec),
    uniforms: attentionUniforms(spec),
    dispatch: shape.heads * segments * tilesPerSeg,
  };
  return o.enables ? { ...program, enables: o.enables } : program;
}
