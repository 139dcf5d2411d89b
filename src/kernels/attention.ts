// Attention family entry point: O = softmax(Q K^T * scale (+ EgoX bias)) V on token-major
// tensors, Q [Lq, H*D] (or [Lq, H, D]), K and V [Lk, H*D], O [Lq, H*D] — what the linear
// projections produce, so no transposes. Flash style: online softmax, never an Lq x Lk
// buffer (the launcher allocates only O). Storage f32, f16 or bf16; accumulation in f32.
//
// Variants (attention-common.ts has the shared pieces):
// - 'subgroup' (attention-subgroup.ts): lavapipe and other CPU adapters with a small fixed
//   subgroup size; keys shared across lanes with subgroupBroadcast, queries in registers.
// - 'flash' (attention-flash.ts): workgroup-memory tiles, for GPUs.
// Sizes are uniforms, so one pipeline per (head dim, dtypes, bias mode) serves every length.

import type { EgoxDevice } from '../runtime/device.ts';
import type { KernelProgram } from '../runtime/program.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { attentionUniformValues, type AttentionDType, type AttentionShape, type AttentionSpec, type AttentionVariant, type EgoGrid } from './attention-common.ts';
import { attentionFlashProgram, flashTileQueries } from './attention-flash.ts';
import { attentionSubgroupProgram, subgroupTileQueries } from './attention-subgroup.ts';

export type { AttentionDType, AttentionShape, AttentionSpec, AttentionVariant, EgoGrid } from './attention-common.ts';

export function attentionProgram(spec: AttentionSpec, shape: AttentionShape): KernelProgram {
  checkSpec(spec);
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
  return { program: attentionProgram(spec, shape), uniforms: attentionUniformValues(spec, shape, attentionTileQueries(spec), scale, lambda) };
}

/** Queries per workgroup tile of a spec (the uniforms need it). */
export function attentionTileQueries(spec: AttentionSpec): number {
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

/** The parts of an EgoxDevice the variant choice reads. */
export interface AttentionDeviceInfo {
  adapter: EgoxDevice['adapter'];
  has: EgoxDevice['has'];
}

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
 * The default variant for a head dim: 'subgroup' on CPU adapters whose subgroup size is fixed
 * and small (lavapipe: 8, or 16 with LP_NATIVE_VECTOR_WIDTH=512) for D <= 128, else 'flash'
 * (GPUs, and head dims whose registers would not fit, e.g. the VAE's 384-channel attention).
 */
export function chooseAttentionVariant(dev: AttentionDeviceInfo, headDim: number): { variant: AttentionVariant; subgroupSize?: number } {
  const sg = fixedSmallSubgroup(dev);
  if (sg && isCpuAdapter(dev) && headDim <= SUBGROUP_MAX_HEAD_DIM) return { variant: 'subgroup', subgroupSize: sg };
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
  outDtype?: AttentionDType;
  /** Output tensor to write (or add to, with accumulate). */
  out?: Tensor;
  /** out += attention (Wan I2V cross-attention sums a text and an image attention). */
  accumulate?: boolean;
  egoBias?: EgoBiasInput;
  /** Force a variant (tests, benchmarks); default from chooseAttentionVariant. */
  variant?: AttentionVariant;
  /** subgroup variant: queries per lane (default 256 / D). */
  queriesPerLane?: number;
}

/** Tensors that do not fit together (bad user input: exit code 2). */
export class AttentionInputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'AttentionInputError';
  }
}

function dims(t: Tensor, name: string, heads: number | undefined): [number, number, number] {
  if (t.shape.length === 3) return [t.shape[0]!, t.shape[1]!, t.shape[2]!];
  if (t.shape.length === 2 && heads && t.shape[1]! % heads === 0) return [t.shape[0]!, heads, t.shape[1]! / heads];
  throw new AttentionInputError(`attention: ${name} has shape [${t.shape.join(', ')}]; pass [L, H, D], or [L, H*D] with opts.heads`);
}

function isFloat(d: string): d is AttentionDType {
  return d === 'f32' || d === 'f16' || d === 'bf16';
}

/**
 * softmax(q k^T * scale (+ EgoX bias)) v per head. q [Lq, H*D], k and v [Lk, H*D] (or 3-D
 * [L, H, D]); returns O [Lq, H*D] in q's layout (opts.out if given).
 */
export function attention(dev: EgoxDevice, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
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

  const chosen = opts.variant ? { variant: opts.variant, subgroupSize: fixedSmallSubgroup(dev) ?? 8 } : chooseAttentionVariant(dev, D);
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
  };
  let shape: AttentionShape = { lq, lk, heads: H };
  const tensors = [q, k, v];
  if (eb) {
    const frames = checkEgoBias(eb, lq, lk);
    shape = { ...shape, ego: { tokensPerFrame: eb.tokensPerFrame, gridWidth: eb.gridWidth, egoColStart: eb.egoColStart, frames } };
    tensors.push(eb.qdir, eb.kdir);
  }
  const out = opts.out ?? dev.empty(q.shape, outDtype, 'attention-out');
  tensors.push(out);
  const { program, uniforms } = attentionLaunch(spec, shape, opts.scale ?? 1 / Math.sqrt(D), eb?.lambda ?? 1);
  dev.run(program, tensors, uniforms);
  return out;
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
