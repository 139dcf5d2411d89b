// Softmax over the last dim of [rows, C]: y = exp(s x - max) / sum(exp(s x - max)), with an
// optional scale s (uniform). One workgroup per row (src/kernels/norm/reduce.ts), three passes over
// the row (max, sum, write), f32 math whatever the storage. A 16-bit output row of odd length
// takes the stats + whole-word apply path, as in norm.ts.

import type { DType } from '../../runtime/dtype.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { WGSL_HALF_BITS } from '../shared/wgsl-half.ts';
import {
  asFloat,
  elementLoadFn,
  hmaxExpr,
  hsumExpr,
  lastDim,
  packPairExpr,
  planRows,
  rowEnables,
  rowForEach,
  rowMainHead,
  rowPlanKey,
  rowReduceWgsl,
  rowStats2,
  rowVariantFor,
  unitBindingType,
  unitLoadFn,
  unitStoreFn,
  type RowVariant,
} from './reduce.ts';

export interface SoftmaxSpec {
  rows: number;
  C: number;
  dtype: DType;
  outDtype?: DType;
  variant?: RowVariant;
}

export function softmaxFusable(spec: Pick<SoftmaxSpec, 'C' | 'dtype' | 'outDtype'>): boolean {
  return (spec.outDtype ?? spec.dtype) === 'f32' || spec.C % 2 === 0;
}

export function softmaxProgram(spec: SoftmaxSpec): KernelProgram {
  const dtype = asFloat(spec.dtype, 'softmax');
  const outDtype = asFloat(spec.outDtype ?? spec.dtype, 'softmax');
  if (!softmaxFusable(spec)) throw new Error(`softmax: ${outDtype} output rows of odd length ${spec.C} need softmaxApplyProgram`);
  const p = planRows(spec.C, spec.variant);
  const vt = p.vt;
  return {
    name: 'softmax',
    key: `softmax:${dtype}->${outDtype}:${rowPlanKey(p)}`,
    workgroupSize: [p.wg, 1, 1],
    bindings: [
      { name: 'xs', type: unitBindingType(dtype, p.V), access: 'read' },
      { name: 'out', type: unitBindingType(outDtype, p.V), access: 'read_write' },
    ],
    uniforms: [{ name: 'scale', type: 'f32' }],
    dispatch: spec.rows,
    enables: rowEnables(p),
    wgsl: `${outDtype === 'f32' ? '' : WGSL_HALF_BITS}
${unitLoadFn('ldx', 'xs', dtype, p.V)}
${unitStoreFn('stout', 'out', outDtype, p.V)}
${rowReduceWgsl(p)}
${rowMainHead()}
  var m = -3.4028234663852886e38;${rowForEach(p, `m = max(m, ${hmaxExpr(p.V, 'x * params.scale')});`)}
  let mx = egoxWgMax(m, lid);
  var acc = 0.0;${rowForEach(p, `acc += ${hsumExpr(p.V, `exp(x * params.scale - ${vt}(mx))`)};`)}
  let inv = 1.0 / egoxWgSum(acc, lid);${rowForEach(p, `stout(row * ${p.units}u + u, exp(x * params.scale - ${vt}(mx)) * inv);`)}
}`,
  };
}

/** Two-dispatch path, second kernel: y = exp(s x - stats.0) * stats.1, one thread per output word. */
export function softmaxApplyProgram(spec: Omit<SoftmaxSpec, 'variant'>): KernelProgram {
  const dtype = asFloat(spec.dtype, 'softmax');
  const outDtype = asFloat(spec.outDtype ?? spec.dtype, 'softmax');
  const numel = spec.rows * spec.C;
  const perThread = outDtype === 'f32' ? 1 : 2;
  const threads = Math.ceil(numel / perThread);
  const store =
    outDtype === 'f32'
      ? 'out[i] = value(i);'
      : `let lo = value(2u * i);
  var hi = 0.0;
  if (2u * i + 1u < params.numel) { hi = value(2u * i + 1u); }
  out[i] = ${packPairExpr(outDtype, 'lo', 'hi')};`;
  return {
    name: 'softmax-apply',
    key: `softmax-apply:${dtype}->${outDtype}:C${spec.C}`,
    workgroupSize: [256, 1, 1],
    bindings: [
      { name: 'xs', type: dtype === 'f32' ? 'f32' : 'u32', access: 'read' },
      { name: 'stats', type: 'f32', access: 'read' },
      { name: 'out', type: outDtype === 'f32' ? 'f32' : 'u32', access: 'read_write' },
    ],
    uniforms: [{ name: 'scale', type: 'f32' }, { name: 'numel', type: 'u32' }, { name: 'threads', type: 'u32' }],
    uniformValues: { numel, threads },
    dispatch: Math.ceil(threads / 256),
    wgsl: `${outDtype === 'f32' ? '' : WGSL_HALF_BITS}
${elementLoadFn('ldx', 'xs', dtype)}
fn value(e: u32) -> f32 {
  let row = e / ${spec.C}u;
  return exp(ldx(e) * params.scale - stats[2u * row]) * stats[2u * row + 1u];
}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * 256u + lid;
  if (i >= params.threads) { return; }
  ${store}
}`,
  };
}

export interface SoftmaxOptions {
  /** Multiplies x before the softmax (e.g. 1/sqrt(d)); default 1. */
  scale?: number;
  out?: Tensor;
  outDtype?: DType;
  variant?: RowVariant;
  /** f32 scratch of >= 2 * rows elements for the two-dispatch path (see softmaxFusable). */
  scratch?: Tensor;
}

/** Softmax over the last dim of x. */
export function softmax(dev: KernelContext, x: Tensor, opts: SoftmaxOptions = {}): Tensor {
  const C = lastDim(x, 'softmax');
  const rows = x.numel / C;
  const y = opts.out ?? dev.empty(x.shape, opts.outDtype ?? x.dtype);
  if (y.numel !== x.numel) throw new Error(`softmax: output has ${y.numel} elements, input ${x.numel}`);
  const scale = opts.scale ?? 1;
  const spec: SoftmaxSpec = { rows, C, dtype: x.dtype, outDtype: y.dtype, variant: opts.variant ?? rowVariantFor(dev) };
  if (softmaxFusable(spec)) {
    dev.run(softmaxProgram(spec), [x, y], { scale });
  } else {
    const stats = rowStats2(dev, x, 'softmax', { scale }, spec.variant, opts.scratch);
    dev.run(softmaxApplyProgram(spec), [x, stats, y], { scale });
    if (!opts.scratch) stats.release();
  }
  return y;
}
