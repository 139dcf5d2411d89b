// Convolution launchers for the VAE: conv3d (Wan's CausalConv3d: causal front padding,
// optional cached frames), conv2d (per frame, asymmetric padding, stride) and 1x1 convs,
// all through one implicit-GEMM spec (conv-spec.ts) with four variants: lanes over output
// channels sharing the input by subgroup broadcast for CPU adapters (conv-chanlanes.ts),
// register tiles for CPU adapters without subgroups (conv-regtile.ts), workgroup-memory
// tiles for GPUs (conv-wgtile.ts) and subgroup matrices (tensor cores) for GPUs that offer
// them (conv-sgmatrix.ts, f16 operands). Activations are f32 [C, F, H, W]; weights f32, f16
// or bf16 (packed pairs, widened in the kernel) in PyTorch layout; accumulation in f32.

import type { KernelContext, KernelDeviceInfo } from '../../runtime/kernel-context.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { checkConvSpec, convUniforms, type ConvPadding, type ConvShapeSpec } from './common.ts';
import { DEFAULT_REGTILE, convRegTileProgram, type ConvRegTileParams } from './regtile.ts';
import { DEFAULT_WGTILE, convWgTileProgram, type ConvWgTileParams } from './wgtile.ts';
import { DEFAULT_CHANLANES, convChanLanesProgram, type ConvChanLanesParams } from './chanlanes.ts';
import { subgroupMatricesTrusted } from '../shared/subgroup-matrix.ts';
import { convSgmConfig, convSgmatrixProgram, convSgmatrixVariant, type ConvSgmatrixParams } from './sgmatrix.ts';
import type { FloatDType } from '../../runtime/dtype.ts';

export type { ConvPadding, ConvShapeSpec } from './common.ts';
export { convGeometry } from './common.ts';
export type ConvVariant = ConvRegTileParams | ConvChanLanesParams | ConvWgTileParams | ConvSgmatrixParams;
export type { ConvSgmatrixParams } from './sgmatrix.ts';
export { DEFAULT_REGTILE, DEFAULT_CHANLANES, DEFAULT_WGTILE };

export type ConvSpec = ConvShapeSpec & { variant: ConvVariant };

export function convProgram(spec: ConvSpec): KernelProgram {
  const v = spec.variant;
  if (v.kind === 'regtile') return convRegTileProgram(spec, v);
  if (v.kind === 'chanlanes') return convChanLanesProgram(spec, v);
  if (v.kind === 'sgmatrix') return convSgmatrixProgram(spec, v);
  return convWgTileProgram(spec, v);
}

/** What choosing a variant needs of a device (a kernel context, or a stand-in in tests). */
export type ConvDeviceInfo = KernelDeviceInfo;

/** CPU adapters (lavapipe, SwiftShader) run the register-tile variants; GPUs the workgroup tiles. */
export function isCpuAdapter(dev: ConvDeviceInfo): boolean {
  const a = dev.adapter;
  const text = `${a.vendor} ${a.architecture} ${a.device} ${a.description}`.toLowerCase();
  return a.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software|cpu/.test(text);
}

/** The fields that pick a conv variant (all optional: missing ones fall back to the rule). */
export type ConvChoiceSpec = Partial<Pick<ConvShapeSpec, 'cin' | 'cout' | 'kernel' | 'stride' | 'weight'>>;

/**
 * Tuning key of a conv: output channels, kernel, stride, weight dtype and Cin rounded up to a
 * power of two. Frames, rows and columns are uniforms of one generic pipeline, so they do not
 * split classes. Undefined when a field is missing (then only the rule applies).
 */
export function convShapeClass(spec: ConvChoiceSpec): string | undefined {
  const { cin, cout, kernel, stride, weight } = spec;
  if (cin === undefined || cout === undefined || !kernel || !stride || !weight) return undefined;
  const bucket = 2 ** Math.ceil(Math.log2(Math.max(cin, 4)));
  return `conv:co${cout}:k${kernel.join('x')}:s${stride.join('x')}:w${weight}:ci<=${bucket}`;
}

/** Tuned winners (src/kernels/tuning/conv-autotune.ts fills them) live in the device's choices. */
export function recordConvChoice(dev: Pick<KernelDeviceInfo, 'choices'>, shapeClass: string, v: ConvVariant): void {
  dev.choices.tunedTable<ConvVariant>('conv').set(shapeClass, v);
}

export function tunedConvTable(dev: Pick<KernelDeviceInfo, 'choices'>): ReadonlyMap<string, ConvVariant> {
  return dev.choices.tunedTable<ConvVariant>('conv');
}

/**
 * Whether a variant computes in a 16-bit precision class (f16 operands: X is rounded to f16),
 * not the f32 class of the others: the autotuner compares such outputs more loosely.
 */
export function convVariantIs16Bit(v: ConvVariant): boolean {
  return v.kind === 'sgmatrix' && v.cfg.component === 'f16';
}

/**
 * Subgroup matrices for this conv on this device, if the rule may use them: a GPU with the
 * feature, a config with f32 accumulation, and 16-bit weights for f16-component configs (the
 * conv of f16/bf16 weights is a 16-bit problem already; an f32 one keeps f32 operands, so only
 * an f32-component config may serve it).
 */
export function sgmatrixConvRule(dev: ConvDeviceInfo, spec: ConvChoiceSpec): ConvSgmatrixParams | undefined {
  if (isCpuAdapter(dev)) return undefined;
  const cfg = convSgmConfig(dev, spec.weight);
  return cfg && convSgmatrixVariant(cfg, dev.adapter.subgroupMaxSize!, spec.cout);
}

/**
 * The variant for this adapter and conv: a winner tuned on this device for the conv's shape
 * class when there is one (src/kernels/tuning/conv-autotune.ts), else on CPU adapters with subgroups, lanes over output
 * channels sharing the input by broadcast (2-4x the register tiles on lavapipe, measured
 * with bench/conv.bench.ts --tune); without subgroups, register tiles; on GPUs with subgroup
 * matrices and a config that fits the weights (see sgmatrixConvRule; once checkSubgroupMatrices passed on the adapter), subgroup matrices; on other
 * GPUs, workgroup-memory tiles. Tile shapes measured on lavapipe: 8x8 voxels for 3x3 kernels,
 * 4x8 when strided (the input window grows 4x), 4 channels x 2x8 voxels for 1x1 spatial
 * kernels (no window reuse, so more channels per loaded value).
 */
export function defaultConvVariant(dev: ConvDeviceInfo, spec: ConvChoiceSpec = {}): ConvVariant {
  const cls = convShapeClass(spec);
  const tuned = cls !== undefined ? tunedConvTable(dev).get(cls) : undefined;
  if (tuned) return tuned;
  if (!isCpuAdapter(dev)) return (subgroupMatricesTrusted(dev) ? sgmatrixConvRule(dev, spec) : undefined) ?? DEFAULT_WGTILE;
  const sgMin = dev.adapter.subgroupMinSize ?? 0;
  if (!dev.has('subgroups') || sgMin < 4) return DEFAULT_REGTILE;
  const sg = Math.min(sgMin, 16);
  const pointwise = spec.kernel !== undefined && spec.kernel[1] === 1 && spec.kernel[2] === 1;
  const strided = spec.stride !== undefined && (spec.stride[1] > 1 || spec.stride[2] > 1);
  const [tm, th, tw] = pointwise ? [4, 2, 8] : strided ? [1, 4, 8] : [1, 8, 8];
  // Fewer threads for few output channels: idle lanes would still load and multiply.
  const threads = Math.max(sg, Math.min(32, Math.ceil((spec.cout ?? 32) / (tm * sg)) * sg));
  return { kind: 'chanlanes', tm, th, tw, threads, sg };
}

/** Variants worth timing on this adapter (for benchmarks and tuning), the default first. */
export function convCandidates(dev: ConvDeviceInfo, spec: ConvChoiceSpec = {}): ConvVariant[] {
  // The rule's choice first (the reference the tuner checks the others against), not a tuned one.
  const out: ConvVariant[] = [defaultConvVariant(dev, { cout: spec.cout, kernel: spec.kernel, stride: spec.stride, weight: spec.weight })];
  const sgMin = dev.adapter.subgroupMinSize ?? 0;
  if (dev.has('subgroups') && sgMin >= 4) {
    const sg = Math.min(sgMin, 16);
    for (const [tm, th, tw] of [[1, 8, 8], [1, 4, 8], [2, 4, 8], [4, 2, 8]] as const) {
      out.push({ kind: 'chanlanes', tm, th, tw, threads: Math.max(32, sg), sg });
    }
  }
  for (const [tm, tw] of [[8, 8], [4, 16], [8, 4]] as const) out.push({ kind: 'regtile', tm, tw, threads: 64, vec4: true });
  out.push(DEFAULT_WGTILE, { kind: 'wgtile', bm: 32, bn: 128, bk: 16 });
  // Subgroup matrices only where the rule could pick them (same precision condition).
  const cfg = isCpuAdapter(dev) ? undefined : convSgmConfig(dev, spec.weight);
  if (cfg) {
    for (const [mScale, nScale] of [[1, 1], [2, 1], [1, 2], [0.5, 2]] as const) {
      const v = convSgmatrixVariant(cfg, dev.adapter.subgroupMaxSize!, spec.cout, mScale, nScale);
      if (v) out.push(v);
    }
  }
  const seen = new Set<string>();
  return out.filter((v) => {
    const k = JSON.stringify(v);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export interface ConvRunOptions {
  /** Residual added after the bias (shaped like the output). */
  residual?: Tensor;
  /** Output tensor to write (shaped [Cout, F', H', W']); allocated when absent. */
  out?: Tensor;
  /** Kernel variant; by default chosen from the adapter. */
  variant?: ConvVariant;
  /**
   * x holds the weight's input channels [offset, offset + Cin) (default 0, and then the
   * weight must have exactly Cin input channels): for convs split over input channels.
   */
  weightCinOffset?: number;
}

export interface Conv3dOptions extends ConvRunOptions {
  /** (st, sh, sw); a number sets all three. Default 1. */
  stride?: number | readonly [number, number, number];
  /**
   * Wan CausalConv3d padding (pt, ph, pw): 2*pt zero frames in FRONT only, ph rows top and
   * bottom, pw columns left and right. A number sets all three. Default 0.
   */
  padding?: number | readonly [number, number, number];
  /**
   * Frames of the previous chunk [Cin, Fc, H, W]; the last `cacheFrames` (default Fc) go in
   * front of x and replace that many front zero frames (more than 2*pt lengthen the input,
   * as the downsample time conv does with its cached frame).
   */
  cache?: Tensor;
  cacheFrames?: number;
}

function triple(v: number | readonly [number, number, number] | undefined, dflt: number): [number, number, number] {
  if (v === undefined) return [dflt, dflt, dflt];
  return typeof v === 'number' ? [v, v, v] : [v[0], v[1], v[2]];
}

function weightDType(w: Tensor): FloatDType {
  if (w.dtype !== 'f32' && w.dtype !== 'f16' && w.dtype !== 'bf16') throw new Error(`conv: weight dtype ${w.dtype} is not a float type`);
  return w.dtype;
}

function weightChannels(cin: number, wcin: number, offset: number | undefined): Pick<ConvShapeSpec, 'weightCin' | 'weightCinOffset'> {
  if (offset === undefined && wcin !== cin) {
    throw new Error(`conv: the weight has ${wcin} input channels but the input has ${cin}; pass weightCinOffset to use a slice`);
  }
  return { weightCin: wcin, weightCinOffset: offset ?? 0 };
}

function expectF32(t: Tensor, what: string): void {
  if (t.dtype !== 'f32') throw new Error(`conv: ${what} must be f32, got ${t.dtype}`);
}

function sameShape(t: Tensor, shape: readonly number[], what: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`conv: ${what} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
}

/** Runs a conv described by `shape` (without variant) on [Cin, F, H, W] x. */
export function convRun(
  dev: KernelContext,
  shape: ConvShapeSpec,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  cache: Tensor | null,
  opts: ConvRunOptions = {},
): Tensor {
  const g = checkConvSpec(shape);
  expectF32(x, 'input');
  sameShape(x, [shape.cin, shape.inF, shape.inH, shape.inW], 'input');
  sameShape(weight, [shape.cout, shape.weightCin ?? shape.cin, ...shape.kernel], 'weight');
  if (bias) {
    expectF32(bias, 'bias');
    if (bias.numel !== shape.cout) throw new Error(`conv: bias has ${bias.numel} values for ${shape.cout} output channels`);
  }
  if (cache && shape.cacheFrames > 0) {
    expectF32(cache, 'cache');
    sameShape(cache, [shape.cin, shape.cacheTotalFrames, shape.inH, shape.inW], 'cache');
  }
  const outShape = [shape.cout, g.outF, g.outH, g.outW];
  if (opts.residual) {
    expectF32(opts.residual, 'residual');
    sameShape(opts.residual, outShape, 'residual');
  }
  const out = opts.out ?? dev.empty(outShape, 'f32', 'conv-out');
  expectF32(out, 'output');
  sameShape(out, outShape, 'output');
  const program = convProgram({ ...shape, variant: opts.variant ?? defaultConvVariant(dev, shape) });
  const tensors: Tensor[] = [x];
  if (shape.cacheFrames > 0) tensors.push(cache!);
  tensors.push(weight);
  if (bias) tensors.push(bias);
  if (opts.residual) tensors.push(opts.residual);
  tensors.push(out);
  dev.run(program, tensors, convUniforms(shape));
  return out;
}

/**
 * Wan CausalConv3d on x [Cin, F, H, W] with weight [Cout, Cin, kt, kh, kw] (+ bias [Cout])
 * -> [Cout, F', H', W'].
 */
export function conv3d(dev: KernelContext, x: Tensor, weight: Tensor, bias: Tensor | null, opts: Conv3dOptions = {}): Tensor {
  if (x.shape.length !== 4) throw new Error(`conv3d: input must be [C, F, H, W], got [${x.shape.join(', ')}]`);
  if (weight.shape.length !== 5) throw new Error(`conv3d: weight must be [Cout, Cin, kt, kh, kw], got [${weight.shape.join(', ')}]`);
  const [cin, f, h, w] = x.shape as [number, number, number, number];
  const [cout, wcin, kt, kh, kw] = weight.shape as [number, number, number, number, number];
  const [pt, ph, pw] = triple(opts.padding, 0);
  const cache = opts.cache ?? null;
  if (cache && cache.shape.length !== 4) throw new Error(`conv3d: cache must be [C, Fc, H, W], got [${cache.shape.join(', ')}]`);
  const cacheTotal = cache ? cache.shape[1]! : 0;
  const spec: ConvShapeSpec = {
    cin,
    cout,
    inF: f,
    inH: h,
    inW: w,
    kernel: [kt, kh, kw],
    stride: triple(opts.stride, 1),
    pad: { front: 2 * pt, top: ph, bottom: ph, left: pw, right: pw },
    cacheFrames: cache ? (opts.cacheFrames ?? cacheTotal) : 0,
    cacheTotalFrames: cacheTotal,
    weight: weightDType(weight),
    ...weightChannels(cin, wcin, opts.weightCinOffset),
    bias: bias !== null,
    residual: opts.residual !== undefined,
  };
  return convRun(dev, spec, x, weight, bias, cache, opts);
}

export interface Conv2dOptions extends ConvRunOptions {
  /** (sh, sw); a number sets both. Default 1. */
  stride?: number | readonly [number, number];
  /** A number pads all four sides; otherwise { top, bottom, left, right }. Default 0. */
  padding?: number | Omit<ConvPadding, 'front'>;
}

/**
 * Conv2d applied to every frame: x [Cin, F, H, W] or [Cin, H, W], weight [Cout, Cin, kh, kw]
 * -> [Cout, F, H', W'] (or [Cout, H', W']).
 */
export function conv2d(dev: KernelContext, x: Tensor, weight: Tensor, bias: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  if (x.shape.length !== 3 && x.shape.length !== 4) throw new Error(`conv2d: input must be [C, F, H, W] or [C, H, W], got [${x.shape.join(', ')}]`);
  if (weight.shape.length !== 4) throw new Error(`conv2d: weight must be [Cout, Cin, kh, kw], got [${weight.shape.join(', ')}]`);
  const x4 = x.shape.length === 3 ? x.reshape([x.shape[0]!, 1, x.shape[1]!, x.shape[2]!]) : x;
  const [cin, f, h, w] = x4.shape as [number, number, number, number];
  const [cout, wcin, kh, kw] = weight.shape as [number, number, number, number];
  const p = opts.padding ?? 0;
  const pad = typeof p === 'number' ? { front: 0, top: p, bottom: p, left: p, right: p } : { front: 0, ...p };
  const stride = opts.stride === undefined ? [1, 1] : typeof opts.stride === 'number' ? [opts.stride, opts.stride] : opts.stride;
  const spec: ConvShapeSpec = {
    cin,
    cout,
    inF: f,
    inH: h,
    inW: w,
    kernel: [1, kh, kw],
    stride: [1, stride[0]!, stride[1]!],
    pad,
    cacheFrames: 0,
    cacheTotalFrames: 0,
    weight: weightDType(weight),
    ...weightChannels(cin, wcin, opts.weightCinOffset),
    bias: bias !== null,
    residual: opts.residual !== undefined,
  };
  const w5 = weight.reshape([cout, wcin, 1, kh, kw]);
  const g = checkConvSpec(spec);
  const flat = x.shape.length === 3;
  if (!flat) return convRun(dev, spec, x4, w5, bias, null, opts);
  // [C, H, W] in and out: run on 4-D views, return the (owning) 3-D output tensor.
  const out = opts.out ?? dev.empty([cout, g.outH, g.outW], 'f32', 'conv-out');
  sameShape(out, [cout, g.outH, g.outW], 'output');
  const res = opts.residual?.reshape([cout, 1, g.outH, g.outW]);
  convRun(dev, spec, x4, w5, bias, null, { ...opts, residual: res, out: out.reshape([cout, 1, g.outH, g.outW]) });
  return out;
}
