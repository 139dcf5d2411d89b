// The Wan VAE's channel RMS norm on x [C, ...spatial] (C first, S = F*H*W positions):
//   y[c, s] = x[c, s] / max(||x[:, s]||_2, 1e-12) * sqrt(C) * gamma[c] (+ bias[c])
// (F.normalize over the channel dim), optionally followed by SiLU, which always comes next
// in the VAE's residual blocks and head. One thread per unit of V adjacent positions (loads
// along s are contiguous across threads); the sum over C stays in the thread, so there is no
// cross-thread reduction. A 16-bit output with odd S would need words that straddle two
// channels: then a stats kernel writes the per-position factor and an apply kernel writes
// whole words. S is a uniform (`channelRmsNormUniforms`): one pipeline per channel count
// serves every clip size; C stays a constant (the loops over it are the work).

import type { DType, FloatDType } from '../../runtime/dtype.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { WGSL_HALF_BITS } from '../shared/wgsl-half.ts';
import { WGSL_SILU, activationExpr } from '../elementwise/activation.ts';
import { asFloat, elementLoadFn, packPairExpr, unitBindingType, unitLoadFn, unitStoreFn, unitType, unitWidthFor, type UnitWidth } from './reduce.ts';

export interface ChannelRmsNormSpec {
  C: number;
  /** Positions per channel (numel / C). */
  S: number;
  dtype: DType;
  outDtype?: DType;
  gamma: DType;
  bias?: DType;
  silu?: boolean;
}

const WG = 64;
const EPS = '1e-12';

function checkSpec(spec: ChannelRmsNormSpec): { dtype: FloatDType; outDtype: FloatDType } {
  if (!Number.isInteger(spec.C) || spec.C <= 0 || !Number.isInteger(spec.S) || spec.S <= 0) throw new Error(`channel rms norm: bad shape C ${spec.C} S ${spec.S}`);
  return { dtype: asFloat(spec.dtype, 'channel rms norm'), outDtype: asFloat(spec.outDtype ?? spec.dtype, 'channel rms norm') };
}

function keyOf(spec: ChannelRmsNormSpec, dtype: string, outDtype: string): string {
  return `${dtype}->${outDtype}:C${spec.C}:g${spec.gamma}:b${spec.bias ?? '-'}${spec.silu ? ':silu' : ''}`;
}

const SIZE_UNIFORMS = [
  { name: 'S', type: 'u32' },
  { name: 'units', type: 'u32' },
] as const;

/**
 * Uniform values of all three programs for this spec: S, and `units`, the threads' work items
 * (S / V for the fused kernel, S for stats, output words for apply).
 */
export function channelRmsNormUniforms(spec: ChannelRmsNormSpec, program: 'fused' | 'stats' | 'apply'): Record<string, number> {
  if (program === 'fused') return { S: spec.S, units: spec.S / unitWidthFor(spec.S) };
  if (program === 'stats') return { S: spec.S, units: spec.S };
  const perThread = (spec.outDtype ?? spec.dtype) === 'f32' ? 1 : 2;
  return { S: spec.S, units: Math.ceil((spec.C * spec.S) / perThread) };
}

/** True when the one-dispatch kernel can store the output (whole words per thread). */
export function channelRmsNormFusable(spec: Pick<ChannelRmsNormSpec, 'S' | 'dtype' | 'outDtype'>): boolean {
  return (spec.outDtype ?? spec.dtype) === 'f32' || spec.S % 2 === 0;
}

function paramWgsl(spec: ChannelRmsNormSpec): string {
  return [elementLoadFn('ldgamma', 'gamma', asFloat(spec.gamma, 'gamma')), spec.bias ? elementLoadFn('ldbias', 'bias', asFloat(spec.bias, 'bias')) : ''].join('\n');
}

function paramBindings(spec: ChannelRmsNormSpec): { name: string; type: string; access: 'read' }[] {
  const b = [{ name: 'gamma', type: spec.gamma === 'f32' ? 'f32' : 'u32', access: 'read' as const }];
  if (spec.bias) b.push({ name: 'bias', type: spec.bias === 'f32' ? 'f32' : 'u32', access: 'read' });
  return b;
}

/** WGSL: y (f32 or vecV) = x * inv * gamma(c) [+ bias(c)] [silu]. */
function valueExpr(spec: ChannelRmsNormSpec, V: UnitWidth, x: string, inv: string): string {
  const vt = unitType(V);
  let y = `${x} * ${inv} * ${vt}(ldgamma(c))`;
  if (spec.bias) y = `(${y} + ${vt}(ldbias(c)))`;
  return spec.silu ? activationExpr('silu', y, V) : y;
}

/** The fused kernel: norm and output in one dispatch. */
export function channelRmsNormProgram(spec: ChannelRmsNormSpec): KernelProgram {
  const { dtype, outDtype } = checkSpec(spec);
  if (!channelRmsNormFusable(spec)) throw new Error(`channel rms norm: ${outDtype} output with odd S ${spec.S} needs the two-dispatch path`);
  const V = unitWidthFor(spec.S);
  const SU = spec.S / V;
  const vt = unitType(V);
  return {
    name: 'channel-rms-norm',
    key: `channel-rms-norm:${keyOf(spec, dtype, outDtype)}:v${V}`,
    workgroupSize: [WG, 1, 1],
    uniforms: SIZE_UNIFORMS,
    bindings: [
      { name: 'xs', type: unitBindingType(dtype, V), access: 'read' },
      ...paramBindings(spec),
      { name: 'out', type: unitBindingType(outDtype, V), access: 'read_write' },
    ],
    dispatch: Math.ceil(SU / WG),
    wgsl: `${outDtype === 'f32' ? '' : WGSL_HALF_BITS}
${spec.silu ? WGSL_SILU : ''}
${unitLoadFn('ldx', 'xs', dtype, V)}
${unitStoreFn('stout', 'out', outDtype, V)}
${paramWgsl(spec)}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  let SU = params.units;
  if (i >= SU) { return; }
  var acc = ${vt}(0.0);
  for (var c = 0u; c < ${spec.C}u; c++) { let x = ldx(c * SU + i); acc += x * x; }
  let inv = ${vt}(f32(${Math.sqrt(spec.C)})) / max(sqrt(acc), ${vt}(${EPS}));
  for (var c = 0u; c < ${spec.C}u; c++) {
    let x = ldx(c * SU + i);
    stout(c * SU + i, ${valueExpr(spec, V, 'x', 'inv')});
  }
}`,
  };
}

/** Two-dispatch path, first kernel: inv[s] = sqrt(C) / max(||x[:, s]||, 1e-12) as f32 [S]. */
export function channelRmsStatsProgram(spec: Pick<ChannelRmsNormSpec, 'C' | 'S' | 'dtype'>): KernelProgram {
  const dtype = asFloat(spec.dtype, 'channel rms norm');
  return {
    name: 'channel-rms-stats',
    key: `channel-rms-stats:${dtype}:C${spec.C}`,
    workgroupSize: [WG, 1, 1],
    uniforms: SIZE_UNIFORMS,
    bindings: [
      { name: 'xs', type: dtype === 'f32' ? 'f32' : 'u32', access: 'read' },
      { name: 'inv', type: 'f32', access: 'read_write' },
    ],
    dispatch: Math.ceil(spec.S / WG),
    wgsl: `${elementLoadFn('ldx', 'xs', dtype)}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  if (s >= params.S) { return; }
  var acc = 0.0;
  for (var c = 0u; c < ${spec.C}u; c++) { let x = ldx(c * params.S + s); acc += x * x; }
  inv[s] = f32(${Math.sqrt(spec.C)}) / max(sqrt(acc), ${EPS});
}`,
  };
}

/** Two-dispatch path, second kernel: one thread per output word. */
export function channelRmsApplyProgram(spec: ChannelRmsNormSpec): KernelProgram {
  const { dtype, outDtype } = checkSpec(spec);
  const numel = spec.C * spec.S;
  const perThread = outDtype === 'f32' ? 1 : 2;
  const threads = Math.ceil(numel / perThread);
  const store =
    outDtype === 'f32'
      ? 'out[i] = value(i);'
      : `let lo = value(2u * i);
  var hi = 0.0;
  if (2u * i + 1u < ${spec.C}u * params.S) { hi = value(2u * i + 1u); }
  out[i] = ${packPairExpr(outDtype, 'lo', 'hi')};`;
  return {
    name: 'channel-rms-apply',
    key: `channel-rms-apply:${keyOf(spec, dtype, outDtype)}`,
    workgroupSize: [256, 1, 1],
    uniforms: SIZE_UNIFORMS,
    bindings: [
      { name: 'xs', type: dtype === 'f32' ? 'f32' : 'u32', access: 'read' },
      { name: 'inv', type: 'f32', access: 'read' },
      ...paramBindings(spec),
      { name: 'out', type: outDtype === 'f32' ? 'f32' : 'u32', access: 'read_write' },
    ],
    dispatch: Math.ceil(threads / 256),
    wgsl: `${outDtype === 'f32' ? '' : WGSL_HALF_BITS}
${spec.silu ? WGSL_SILU : ''}
${elementLoadFn('ldx', 'xs', dtype)}
${paramWgsl(spec)}
fn value(e: u32) -> f32 {
  let c = e / params.S;
  return ${valueExpr(spec, 1, 'ldx(e)', 'inv[e % params.S]')};
}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * 256u + lid;
  if (i >= params.units) { return; }
  ${store}
}`,
  };
}

export interface ChannelRmsNormOptions {
  /** [C] (PyTorch stores it as [C, 1, 1, 1] or [C, 1, 1]: any shape with C elements). */
  gamma: Tensor;
  bias?: Tensor;
  /** Apply SiLU to the result (the VAE's RMS -> SiLU pairs). */
  silu?: boolean;
  out?: Tensor;
  outDtype?: DType;
  /** f32 scratch of >= S elements for the two-dispatch path (see channelRmsNormFusable). */
  scratch?: Tensor;
}

/** Channel RMS norm over axis 0 of x [C, ...] (batch 1: x is [C, F, H, W] or [C, H, W]). */
export function channelRmsNorm(dev: KernelContext, x: Tensor, opts: ChannelRmsNormOptions): Tensor {
  const C = x.shape[0];
  if (C === undefined || C <= 0) throw new Error(`channel rms norm: tensor of shape [${x.shape.join(', ')}] has no channel axis`);
  const S = x.numel / C;
  if (opts.gamma.numel !== C) throw new Error(`channel rms norm: gamma has ${opts.gamma.numel} elements, x has ${C} channels`);
  if (opts.bias && opts.bias.numel !== C) throw new Error(`channel rms norm: bias has ${opts.bias.numel} elements, x has ${C} channels`);
  const y = opts.out ?? dev.empty(x.shape, opts.outDtype ?? x.dtype);
  if (y.numel !== x.numel) throw new Error(`channel rms norm: output has ${y.numel} elements, input ${x.numel}`);
  const spec: ChannelRmsNormSpec = { C, S, dtype: x.dtype, outDtype: y.dtype, gamma: opts.gamma.dtype, bias: opts.bias?.dtype, silu: opts.silu };
  const params = opts.bias ? [opts.gamma, opts.bias] : [opts.gamma];
  if (channelRmsNormFusable(spec)) {
    dev.run(channelRmsNormProgram(spec), [x, ...params, y], channelRmsNormUniforms(spec, 'fused'));
  } else {
    const sc = opts.scratch;
    if (sc && (sc.dtype !== 'f32' || sc.numel < S)) throw new Error(`channel rms norm: scratch must be f32 with >= ${S} elements, got ${sc.dtype} [${sc.shape.join(', ')}]`);
    const inv = sc ?? dev.empty([S], 'f32');
    dev.run(channelRmsStatsProgram(spec), [x, inv], channelRmsNormUniforms(spec, 'stats'));
    dev.run(channelRmsApplyProgram(spec), [x, inv, ...params, y], channelRmsNormUniforms(spec, 'apply'));
    if (!sc) inv.release();
  }
  return y;
}
