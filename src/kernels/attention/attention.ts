// Attention family entry point: O = softmax(Q K^T * scale (+ EgoX bias)) V on token-major
// tensors, Q [Lq, H*D] (or [Lq, H, D]), K and V [Lk, H*D], O [Lq, H*D] — what the linear
// projections produce, so no transposes. Flash style: online softmax, never an Lq x Lk
// buffer (the launcher allocates only O). Storage f32, f16 or bf16; accumulation in f32.
//
// Variants (attention-common.ts has the shared pieces):
// - 'subgroup' (attention-subgroup.ts): lavapipe and other CPU adapters with a small fixed
//   subgroup size; keys shared across lanes with subgroupBroadcast, queries in registers.
// - 'flash' (attention-flash.ts): workgroup-memory tiles, for GPUs.
// - 'sgmatrix' (attention-sgmatrix.ts): flash attention on subgroup matrices (tensor cores)
//   where the adapter offers them; Q, K, V and P in f16, so only the default for 16-bit
//   inputs (or an f32 config).
// Sizes are uniforms, so one pipeline per (head dim, dtypes, bias mode) serves every length.
// Tensors over maxStorageBufferBindingSize (14B: [28028, 5120] f32 = 574 MB) are split into
// query windows and key chunks (splitAttention below); unsplit launches are unchanged.

import type { KernelContext, KernelDeviceInfo } from '../../runtime/kernel-context.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { bindingAlign, bindingLimit, elemBytes, rowsPerWindow, wholeBindingBytes, windowOf } from '../shared/binding-window.ts';
import { attentionUniformValues, flashKeysPerTile, type AttentionShape, type AttentionSpec, type AttentionVariant, type EgoGrid } from './common.ts';
import { attentionFlashProgram, flashTileQueries } from './flash.ts';
import { attentionSubgroupProgram, subgroupTileQueries } from './subgroup.ts';
import { attentionSgmatrixProgram, sgmAttentionTiles, sgmatrixKeyBlock, sgmatrixTileQueries } from './sgmatrix.ts';
import { deviceSgmShapes, subgroupMatricesTrusted, type SgmShape } from '../shared/subgroup-matrix.ts';
import { InputError } from '../../runtime/errors.ts';
import type { FloatDType } from '../../runtime/dtype.ts';

export type { AttentionShape, AttentionSpec, AttentionVariant, EgoGrid } from './common.ts';

export function attentionProgram(spec: AttentionSpec, shape: AttentionShape): KernelProgram {
  checkSpec(spec);
  if (spec.variant === 'sgmatrix') return attentionSgmatrixProgram(spec, shape);
  return spec.variant === 'subgroup' ? attentionSubgroupProgram(spec, shape) : attentionFlashProgram(spec, shape);
}

/**
 * Program and uniform values of one launch, for callers that record dispatches themselves
 * (graph lowering). Binding order: q, k, v, [qdir, kdir], out.
 */
export function attentionLaunch(
  spec: AttentionSpec,
  shape: AttentionShape,
  scale: number,
  lambda = 1,
): { program: KernelProgram; uniforms: Record<string, number> } {
  const program = attentionProgram(spec, shape);
  return { program, uniforms: attentionUniformValues(spec, shape, attentionTileQueries(spec), scale, lambda, spec.variant === 'sgmatrix' ? sgmatrixKeyBlock(spec) : undefined) };
}

/** Queries per workgroup tile of a spec (the uniforms need it). */
export function attentionTileQueries(spec: AttentionSpec): number {
  if (spec.variant === 'sgmatrix') return sgmatrixTileQueries(spec);
  return spec.variant === 'subgroup' ? subgroupTileQueries(spec) : flashTileQueries(spec);
}

/** Largest head dim of the subgroup variant: its registers grow with D (compile time too). */
export const SUBGROUP_MAX_HEAD_DIM = 128;

function checkSpec(spec: AttentionSpec): void {
  const d = spec.headDim;
  const max = spec.variant === 'subgroup' ? SUBGROUP_MAX_HEAD_DIM : 512;
  if (!(Number.isInteger(d) && d % 4 === 0 && d >= 16 && d <= max)) {
    throw new Error(`attention: head dim ${d} not supported by the ${spec.variant} variant (a multiple of 4 in 16..${max})`);
  }
}

/** The parts of a kernel context the variant choice reads. */
export type AttentionDeviceInfo = KernelDeviceInfo;

/** Software adapters that run shader lanes in CPU SIMD registers. */
function isCpuAdapter(dev: AttentionDeviceInfo): boolean {
  const a = dev.adapter;
  return a.isFallbackAdapter || a.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(`${a.device} ${a.description}`);
}

/** The adapter's subgroup size when it is fixed and small enough for the subgroup variant. */
function fixedSmallSubgroup(dev: AttentionDeviceInfo): number | undefined {
  const { subgroupMinSize: lo, subgroupMaxSize: hi } = dev.adapter;
  return dev.has('subgroups') && lo && lo === hi && lo <= 16 ? lo : undefined;
}

/**
 * The adapter's first subgroup-matrix config the sgmatrix variant can use for a head dim:
 * f32 results (f16 sums of scores would cost the softmax its precision), the head dim a
 * multiple of K and N, the tiles within the device's workgroup memory, f16 available for f16
 * configs. Undefined on CPU adapters and where the feature is off.
 */
export function sgmatrixConfigFor(dev: AttentionDeviceInfo, headDim: number): SgmShape | undefined {
  if (isCpuAdapter(dev)) return undefined;
  const wgBytes = dev.limits?.maxComputeWorkgroupStorageSize ?? 16384;
  return deviceSgmShapes(dev).find((s) => {
    if (s.result !== 'f32') return false;
    const tiles = sgmAttentionTiles(headDim, s, dev.adapter.subgroupMaxSize ?? 32);
    return tiles !== undefined && tiles.bytes <= wgBytes;
  });
}

/**
 * The default variant for a head dim: 'subgroup' on CPU adapters whose subgroup size is fixed
 * and small (lavapipe: 8, or 16 with LP_NATIVE_VECTOR_WIDTH=512) for D <= 128; 'sgmatrix' on
 * GPUs with a usable subgroup-matrix config, once checkSubgroupMatrices passed on the adapter,
 * when the inputs are 16-bit (`dtype` f16 or bf16:
 * the variant rounds Q, K, V and P to f16, so f32 inputs keep an f32 path unless the config
 * itself is f32); else 'flash' (GPUs, and head dims whose registers would not fit, e.g. the
 * VAE's 384-channel attention). Without `dtype` the inputs count as f32.
 */
export function chooseAttentionVariant(
  dev: AttentionDeviceInfo,
  headDim: number,
  dtype: FloatDType = 'f32',
): { variant: AttentionVariant; subgroupSize?: number; sgm?: SgmShape } {
  const sg = fixedSmallSubgroup(dev);
  if (sg && isCpuAdapter(dev) && headDim <= SUBGROUP_MAX_HEAD_DIM) return { variant: 'subgroup', subgroupSize: sg };
  const sgm = subgroupMatricesTrusted(dev) ? sgmatrixConfigFor(dev, headDim) : undefined;
  if (sgm && (dtype !== 'f32' || sgm.component === 'f32')) return { variant: 'sgmatrix', sgm, subgroupSize: dev.adapter.subgroupMaxSize ?? 32 };
  return { variant: 'flash' };
}

/** EgoX geometry-guided attention inputs (egox-official.md D.3). */
export interface EgoBiasInput extends Omit<EgoGrid, 'frames'> {
  /** Query directions [Lq, 3], f32. Only ego queries' rows are read for the bias. */
  qdir: Tensor;
  /** Key directions [F, Lk, 3], f32: set f serves the queries of frame f. */
  kdir: Tensor;
  /** cos_sim_scaling_factor (3.0 in EgoX): lambda > 1 scales positive cosines only. */
  lambda: number;
}

export interface AttentionOptions {
  /** Heads when the tensors are 2-D [L, H*D]; ignored for 3-D [L, H, D]. */
  heads?: number;
  /** Softmax scale; default 1 / sqrt(D) (umT5 uses 1). */
  scale?: number;
  /** Output dtype (default: q's dtype, or out's). */
  outDtype?: FloatDType;
  /** Output tensor to write (or add to, with accumulate). */
  out?: Tensor;
  /** out += attention (Wan I2V cross-attention sums a text and an image attention). */
  accumulate?: boolean;
  egoBias?: EgoBiasInput;
  /**
   * The precision class the caller needs; default from q's dtype. '16bit' lets a variant that
   * rounds Q, K, V and P to f16 (subgroup matrices) serve f32 tensors: a model whose weights
   * are bf16 computes in that class anyway.
   */
  precision?: 'f32' | '16bit';
  /** Force a variant (tests, benchmarks); default from chooseAttentionVariant. */
  variant?: AttentionVariant;
  /** subgroup variant: queries per lane (default 256 / D). */
  queriesPerLane?: number;
  /**
   * sgmatrix variant (with `variant: 'sgmatrix'`): the config (default: the adapter's first
   * usable one) and, for tests, the plain-WGSL emulation with `lanes` per emulated subgroup.
   */
  sgmatrix?: { shape?: SgmShape; emulate?: true; lanes?: number };
  /** Binding size limit to split against (tests); default dev.limits.maxStorageBufferBindingSize. */
  maxBindingBytes?: number;
  /**
   * f32 scratch of >= Lq * H * 2 elements for the running softmax state when K/V are split
   * over the binding limit (attentionStateElements); allocated and released here when needed
   * and not given (graph lowering passes one: it cannot allocate).
   */
  state?: Tensor;
}

/** Elements of the state scratch a split over the keys needs (m and l per query and head). */
export function attentionStateElements(lq: number, heads: number): number {
  return lq * heads * 2;
}

/** Tensors that do not fit together (bad user input: exit code 2). */
export class AttentionInputError extends InputError {}

function dims(t: Tensor, name: string, heads: number | undefined): [number, number, number] {
  if (t.shape.length === 3) return [t.shape[0]!, t.shape[1]!, t.shape[2]!];
  if (t.shape.length === 2 && heads && t.shape[1]! % heads === 0) return [t.shape[0]!, heads, t.shape[1]! / heads];
  throw new AttentionInputError(`attention: ${name} has shape [${t.shape.join(', ')}]; pass [L, H, D], or [L, H*D] with opts.heads`);
}

function isFloat(d: string): d is FloatDType {
  return d === 'f32' || d === 'f16' || d === 'bf16';
}

/**
 * softmax(q k^T * scale (+ EgoX bias)) v per head. q [Lq, H*D], k and v [Lk, H*D] (or 3-D
 * [L, H, D]); returns O [Lq, H*D] in q's layout (opts.out if given).
 */
export function attention(dev: KernelContext, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const [lq, H, D] = dims(q, 'q', opts.heads);
  const [lk, Hk, Dk] = dims(k, 'k', opts.heads ?? H);
  const [lv, Hv, Dv] = dims(v, 'v', opts.heads ?? H);
  if (Hk !== H || Hv !== H || Dk !== D || Dv !== D || lv !== lk) {
    throw new AttentionInputError(`attention: q [${lq}, ${H}, ${D}], k [${lk}, ${Hk}, ${Dk}], v [${lv}, ${Hv}, ${Dv}] do not fit together`);
  }
  if (!isFloat(q.dtype) || k.dtype !== q.dtype || v.dtype !== q.dtype) {
    throw new AttentionInputError(`attention: q, k, v must share one float dtype (got ${q.dtype}, ${k.dtype}, ${v.dtype})`);
  }
  const outDtype = opts.out?.dtype ?? opts.outDtype ?? q.dtype;
  if (!isFloat(outDtype)) throw new AttentionInputError(`attention: output dtype ${outDtype} is not a float type`);
  if (opts.out && opts.out.numel !== lq * H * D) throw new AttentionInputError(`attention: out has ${opts.out.numel} elements, expected ${lq * H * D}`);
  if (opts.accumulate && !opts.out) throw new AttentionInputError('attention: accumulate needs opts.out');

  const operands = opts.precision === '16bit' ? 'f16' : opts.precision === 'f32' ? 'f32' : q.dtype;
  const chosen: ReturnType<typeof forcedVariant> = opts.variant ? forcedVariant(dev, opts.variant, D, opts.sgmatrix) : chooseAttentionVariant(dev, D, operands);
  const eb = opts.egoBias;
  const spec: AttentionSpec = {
    headDim: D,
    dtype: q.dtype,
    outDtype,
    accumulate: opts.accumulate,
    egoBias: eb ? { lambdaAboveOne: eb.lambda > 1 } : undefined,
    variant: chosen.variant,
    subgroupSize: chosen.subgroupSize,
    queriesPerLane: opts.queriesPerLane,
    ...(chosen.sgm ? { sgm: chosen.sgm } : {}),
    ...(chosen.emulate ? { emulate: true as const } : {}),
  };
  let shape: AttentionShape = { lq, lk, heads: H };
  const tensors = [q, k, v];
  if (eb) {
    const frames = checkEgoBias(eb, lq, lk);
    shape = { ...shape, ego: { tokensPerFrame: eb.tokensPerFrame, gridWidth: eb.gridWidth, egoColStart: eb.egoColStart, frames } };
    tensors.push(eb.qdir, eb.kdir);
  }
  const out = opts.out ?? dev.empty(q.shape, outDtype, 'attention-out');
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const limit = bindingLimit(dev, opts.maxBindingBytes);
  if (Math.max(...[q, k, v, out, ...(eb ? [eb.qdir, eb.kdir] : [])].map(wholeBindingBytes)) <= limit) {
    tensors.push(out);
    const { program, uniforms } = attentionLaunch(spec, shape, scale, eb?.lambda ?? 1);
    dev.run(program, tensors, uniforms);
    return out;
  }
  splitAttention(dev, { q, k, v, out, H, D, spec, shape, scale, eb, limit, state: opts.state });
  return out;
}

/** Settings of a variant the caller forced (tests, benchmarks). */
function forcedVariant(
  dev: KernelContext,
  variant: AttentionVariant,
  headDim: number,
  o: AttentionOptions['sgmatrix'],
): { variant: AttentionVariant; subgroupSize?: number; sgm?: SgmShape; emulate?: true } {
  if (variant !== 'sgmatrix') return { variant, subgroupSize: fixedSmallSubgroup(dev) ?? 8 };
  if (o?.emulate) {
    // Any config runs emulated; the lanes only have to divide the workgroup.
    const sgm = o.shape ?? { M: 16, N: 16, K: 16, component: 'f16' as const, result: 'f32' as const };
    return { variant, sgm, subgroupSize: o.lanes ?? 8, emulate: true };
  }
  const sgm = o?.shape ?? sgmatrixConfigFor(dev, headDim);
  if (!sgm) {
    throw new Error(`attention: the sgmatrix variant needs an adapter with chromium-experimental-subgroup-matrix and a config fitting head dim ${headDim}; this adapter has none (use 'flash')`);
  }
  return { variant, sgm, subgroupSize: dev.adapter.subgroupMaxSize ?? 32 };
}

interface SplitProblem {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  out: Tensor;
  H: number;
  D: number;
  spec: AttentionSpec;
  shape: AttentionShape;
  scale: number;
  eb: EgoBiasInput | undefined;
  limit: number;
  state: Tensor | undefined;
}

/** Query windows: rows [q0, q1), and for the EgoX bias never across a frame boundary. */
function queryWindows(lq: number, rows: number, tpf: number | undefined): { q0: number; q1: number; frame0: number; segLen?: number }[] {
  const out: { q0: number; q1: number; frame0: number; segLen?: number }[] = [];
  if (!tpf) {
    const block = rows >= 64 ? rows - (rows % 64) : rows;
    for (let q0 = 0; q0 < lq; q0 += block) out.push({ q0, q1: Math.min(lq, q0 + block), frame0: 0 });
  } else if (rows >= tpf) {
    const block = rows - (rows % tpf); // whole frames: the unsplit tiling, frame by frame
    for (let q0 = 0; q0 < lq; q0 += block) out.push({ q0, q1: Math.min(lq, q0 + block), frame0: q0 / tpf });
  } else {
    // A frame larger than a window: pieces of one frame, each its own query segment.
    for (let f = 0; f * tpf < lq; f++) {
      const end = Math.min(lq, (f + 1) * tpf);
      for (let q0 = f * tpf; q0 < end; q0 += rows) {
        const q1 = Math.min(end, q0 + rows);
        out.push({ q0, q1, frame0: f, segLen: q1 - q0 });
      }
    }
  }
  return out;
}

/**
 * Attention over tensors larger than the binding limit. Queries (and O) split along rows,
 * which are contiguous. Keys and values split into chunks of rows too (a row holds every
 * head, so one window serves all heads): chunk by chunk, the kernel carries the online
 * softmax state (running max m, sum l, unnormalised O) through O and the state buffer. The
 * chunks are whole multiples of the kernels' key blocks, so every query sees the same
 * sequence of blocks, rescales and sums as unsplit: the result is bitwise the same.
 */
function splitAttention(dev: KernelContext, p: SplitProblem): void {
  const { q, k, v, out, H, D, spec, shape, eb, limit } = p;
  const align = bindingAlign(dev);
  const HD = H * D;
  const qRowBytes = HD * Math.max(elemBytes(q), elemBytes(out));
  let qRows = rowsPerWindow(limit, qRowBytes, align, 1, 'attention');
  const kvFit = Math.max(wholeBindingBytes(k), wholeBindingBytes(v)) <= limit;
  const kRows = kvFit ? shape.lk : rowsPerWindow(limit, HD * elemBytes(k), align, keyBlock(spec), 'attention');
  if (eb) {
    // The key-direction window of a query window spans its frames' sets ([F, Lk, 3] f32): at
    // most the frames whose sets fit (one frame's chunk always does: kRows * 12 bytes).
    const framesFit = Math.max(1, Math.floor((limit - align - 8) / (shape.lk * 12)));
    qRows = Math.min(qRows, framesFit * eb.tokensPerFrame);
  }
  const chunks = Math.ceil(shape.lk / kRows);
  let state = p.state;
  let ownState = false;
  if (chunks > 1) {
    if (spec.outDtype !== 'f32' || spec.accumulate) {
      throw new Error(`attention: K/V of ${k.byteLength} bytes exceed the binding limit ${limit}; splitting them needs an f32 output without accumulate`);
    }
    const need = attentionStateElements(shape.lq, H);
    if (state && (state.dtype !== 'f32' || state.numel < need)) throw new Error(`attention: state scratch must be f32 with >= ${need} elements`);
    if (!state) {
      state = dev.empty([need], 'f32', 'attention-state');
      ownState = true;
    }
  }
  const tpf = eb ? eb.tokensPerFrame : undefined;
  for (const w of queryWindows(shape.lq, qRows, tpf)) {
    const qw = windowOf(q, w.q0 * HD, w.q1 * HD, align, 4);
    const qdw = eb ? windowOf(eb.qdir, w.q0 * 3, w.q1 * 3, align) : undefined;
    const lastFrame = tpf ? Math.floor((w.q1 - 1) / tpf) : 0;
    const ow = windowOf(out, w.q0 * HD, w.q1 * HD, align, 4);
    const sw = state && chunks > 1 ? windowOf(state, w.q0 * H * 2, w.q1 * H * 2, align, 2) : undefined;
    for (let c = 0; c < chunks; c++) {
      const k0 = c * kRows;
      const k1 = Math.min(shape.lk, k0 + kRows);
      const kw = windowOf(k, k0 * HD, k1 * HD, align, 4);
      const vw = windowOf(v, k0 * HD, k1 * HD, align, 4);
      const kdw = eb ? windowOf(eb.kdir, 3 * (w.frame0 * shape.lk + k0), 3 * (lastFrame * shape.lk + k1), align) : undefined;
      const keyChunk = chunks === 1 ? undefined : c === 0 ? 'first' : c === chunks - 1 ? 'last' : 'middle';
      const s: AttentionSpec = { ...spec, windowed: true, keyChunk };
      const sh: AttentionShape = {
        ...shape,
        lq: w.q1 - w.q0,
        lk: k1 - k0,
        window: { q0: w.q0, lkAll: shape.lk, segLen: w.segLen, qOff: qw.off, kOff: kw.off, vOff: vw.off, oOff: ow.off, sOff: sw?.off ?? 0, qdOff: qdw?.off ?? 0, kdOff: kdw?.off ?? 0 },
      };
      const tensors = [qw.view, kw.view, vw.view];
      if (qdw && kdw) tensors.push(qdw.view, kdw.view);
      if (sw) tensors.push(sw.view);
      tensors.push(ow.view);
      const { program, uniforms } = attentionLaunch(s, sh, p.scale, eb?.lambda ?? 1);
      dev.run(program, tensors, uniforms);
    }
  }
  if (ownState) state!.release();
}

/** Keys a variant takes per step of its key loop: chunks of whole blocks repeat the unsplit arithmetic. */
function keyBlock(spec: AttentionSpec): number {
  if (spec.variant === 'sgmatrix') return sgmatrixKeyBlock(spec);
  return spec.variant === 'subgroup' ? spec.subgroupSize ?? 8 : flashKeysPerTile(spec);
}

/** Validates the EgoX inputs; returns the number of key-direction sets. */
function checkEgoBias(eb: EgoBiasInput, lq: number, lk: number): number {
  const { tokensPerFrame: tpf, gridWidth: gw, egoColStart: c0, lambda } = eb;
  if (!(Number.isInteger(tpf) && tpf >= 1 && Number.isInteger(gw) && gw >= 1 && tpf % gw === 0 && Number.isInteger(c0) && c0 >= 0)) {
    throw new AttentionInputError(`attention: ego grid tokensPerFrame ${tpf}, gridWidth ${gw}, egoColStart ${c0} is not a token grid (tokensPerFrame must be a multiple of gridWidth)`);
  }
  if (!(lambda >= -1)) throw new AttentionInputError(`attention: lambda ${lambda} < -1 makes log(lambda * c + 1) undefined; use lambda >= -1`);
  if (eb.qdir.dtype !== 'f32' || eb.qdir.numel !== lq * 3) {
    throw new AttentionInputError(`attention: qdir must be f32 [${lq}, 3] (got ${eb.qdir.dtype} with ${eb.qdir.numel} values)`);
  }
  const frames = Math.ceil(lq / tpf);
  if (eb.kdir.dtype !== 'f32' || eb.kdir.numel !== frames * lk * 3) {
    throw new AttentionInputError(`attention: kdir must be f32 [${frames}, ${lk}, 3] for ${lq} queries of ${tpf} per frame (got ${eb.kdir.dtype} with ${eb.kdir.numel} values)`);
  }
  return frames;
}
