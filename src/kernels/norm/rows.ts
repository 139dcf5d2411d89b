// Row normalisation over the last dim of [rows, C]: LayerNorm (two-pass mean/variance) and
// RMSNorm (x * rsqrt(mean(x^2) + eps)), each with optional weight and bias, and optionally
// fused with the DiT's adaLN modulation y * (1 + scale[c]) + shift[c]. One workgroup per
// row (src/kernels/norm/reduce.ts); statistics in f32 whatever the storage.
//
// Storage: x f32/f16/bf16, output f32/f16/bf16, params (weight, bias, shift, scale) each
// f32/f16/bf16. A 16-bit output row with odd C does not start on a word boundary, so two
// rows would share a word: then a stats kernel writes (mean, rstd) per row and an apply
// kernel writes whole words (two dispatches instead of one).
// Rows over the storage binding limit run in blocks of rows bound as windows (fused path).

import type { DType, FloatDType } from '../../runtime/dtype.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { WGSL_HALF_BITS } from '../shared/wgsl-half.ts';
import { bindingAlign, bindingLimit, elemBytes, rowsPerWindow, wholeBindingBytes, windowOf } from '../shared/binding-window.ts';
import {
  asFloat,
  elementLoadFn,
  hsumExpr,
  lastDim,
  packPairExpr,
  paramUnitExpr,
  planRows,
  rowForEach,
  rowMainHead,
  rowPlanKey,
  rowStats2,
  rowEnables,
  rowReduceWgsl,
  rowVariantFor,
  type RowVariant,
  unitBindingType,
  unitLoadFn,
  unitStoreFn,
  unitWidthFor,
  type UnitWidth,
} from './reduce.ts';

export type RowNormKind = 'layer' | 'rms';

export interface RowNormSpec {
  kind: RowNormKind;
  rows: number;
  C: number;
  /** Storage of x. */
  dtype: DType;
  /** Storage of the output (default: dtype). */
  outDtype?: DType;
  /** Dtype of each optional parameter vector; absent = not applied. */
  weight?: DType;
  bias?: DType;
  /**
   * adaLN modulation: shift and scale vectors, read at uniform element offsets. `aligned`:
   * both offsets are multiples of the kernel's unit width (4 when C % 4 == 0, 2 when
   * C % 2 == 0), so they are read as whole units like the weight.
   */
  modulation?: { shift: DType; scale: DType; aligned?: boolean };
  /** Reduction variant (default: workgroup memory); launchers pick rowVariantFor(dev). */
  variant?: RowVariant;
  /**
   * x and out are windows of bigger tensors (a split over the binding limit): their first
   * row starts at unit offsets given by the uniforms xOff and outOff.
   */
  windowed?: boolean;
}

interface ParamBinding {
  name: string;
  fn: string;
  dtype: FloatDType;
  /** Uniform holding the element offset. */
  offset?: string;
}

function paramBindings(spec: Pick<RowNormSpec, 'weight' | 'bias' | 'modulation'>): ParamBinding[] {
  const out: ParamBinding[] = [];
  if (spec.weight) out.push({ name: 'w', fn: 'ldw', dtype: asFloat(spec.weight, 'norm weight') });
  if (spec.bias) out.push({ name: 'b', fn: 'ldb', dtype: asFloat(spec.bias, 'norm bias') });
  if (spec.modulation) {
    out.push({ name: 'shift', fn: 'ldshift', dtype: asFloat(spec.modulation.shift, 'norm shift'), offset: 'params.shiftOffset' });
    out.push({ name: 'scale', fn: 'ldscale', dtype: asFloat(spec.modulation.scale, 'norm scale'), offset: 'params.scaleOffset' });
  }
  return out;
}

function paramsKey(spec: Pick<RowNormSpec, 'weight' | 'bias' | 'modulation'>): string {
  const m = spec.modulation;
  return `w${spec.weight ?? '-'}:b${spec.bias ?? '-'}:m${m ? `${m.shift}/${m.scale}${m.aligned ? 'a' : ''}` : '-'}`;
}

/**
 * WGSL loader functions for the params: by units of V (`NAME(u)`, u = unit index in the row)
 * when `units`, else by elements (`NAME(c)`).
 */
function paramLoaders(params: ParamBinding[], V: UnitWidth, units: (q: ParamBinding) => boolean): string {
  return params
    .map((q) => (units(q) ? unitLoadFn(q.fn, q.name, q.dtype, V, q.offset && V > 1 ? `${q.offset} / ${V}u` : q.offset) : elementLoadFn(q.fn, q.name, q.dtype, q.offset)))
    .join('\n');
}

/** WGSL statements turning normalised `y` into the final value; `at(fn)` reads a param for this unit. */
function epilogue(spec: Pick<RowNormSpec, 'weight' | 'bias' | 'modulation'>, at: (fn: string) => string): string {
  const lines: string[] = [];
  if (spec.weight) lines.push(`y = y * ${at('ldw')};`);
  if (spec.bias) lines.push(`y = y + ${at('ldb')};`);
  if (spec.modulation) lines.push(`y = y * (1.0 + ${at('ldscale')}) + ${at('ldshift')};`);
  return lines.join('\n      ');
}

function uniformsOf(spec: Pick<RowNormSpec, 'modulation' | 'windowed'>): { name: string; type: 'f32' | 'u32' }[] {
  const u: { name: string; type: 'f32' | 'u32' }[] = [{ name: 'eps', type: 'f32' }];
  if (spec.modulation) u.push({ name: 'shiftOffset', type: 'u32' }, { name: 'scaleOffset', type: 'u32' });
  if (spec.windowed) u.push({ name: 'xOff', type: 'u32' }, { name: 'outOff', type: 'u32' });
  return u;
}

/** True when the fused one-dispatch kernel can store the output (whole words per row). */
export function rowNormFusable(spec: Pick<RowNormSpec, 'C' | 'dtype' | 'outDtype'>): boolean {
  const out = spec.outDtype ?? spec.dtype;
  return out === 'f32' || spec.C % 2 === 0;
}

/** The fused kernel: statistics and output in one dispatch, one workgroup per row. */
export function rowNormProgram(spec: RowNormSpec): KernelProgram {
  const dtype = asFloat(spec.dtype, spec.kind);
  const outDtype = asFloat(spec.outDtype ?? spec.dtype, spec.kind);
  if (!rowNormFusable(spec)) throw new Error(`${spec.kind}norm: ${outDtype} output rows of odd length ${spec.C} need rowNormApplyProgram`);
  const p = planRows(spec.C, spec.variant);
  const params = paramBindings(spec);
  const invC = `${1 / spec.C}`;
  const stats =
    spec.kind === 'layer'
      ? `
  var acc = 0.0;${rowForEach(p, `acc += ${hsumExpr(p.V, 'x')};`)}
  let mean = egoxWgSum(acc, lid) * ${invC};
  var acc2 = 0.0;${rowForEach(p, `let d = x - ${p.vt}(mean); acc2 += ${hsumExpr(p.V, '(d * d)')};`)}
  let rstd = 1.0 / sqrt(egoxWgSum(acc2, lid) * ${invC} + params.eps);`
      : `
  var acc = 0.0;${rowForEach(p, `acc += ${hsumExpr(p.V, '(x * x)')};`)}
  let rstd = 1.0 / sqrt(egoxWgSum(acc, lid) * ${invC} + params.eps);`;
  // Weight and bias are always read as units; shift/scale when their offsets allow it.
  const asUnits = (q: ParamBinding) => !q.offset || Boolean(spec.modulation?.aligned);
  const at = (fn: string) => (asUnits(params.find((q) => q.fn === fn)!) ? `${fn}(u)` : paramUnitExpr(fn, p.V, `u * ${p.V}u`));
  const write = rowForEach(
    p,
    `var y = ${spec.kind === 'layer' ? `(x - ${p.vt}(mean))` : 'x'} * rstd;
      ${epilogue(spec, at)}
      stout(row * ${p.units}u + u, y);`,
  );
  // A windowed store goes through the plain one at outOff (16-bit units are whole words).
  const store = spec.windowed
    ? `${unitStoreFn('stoutAt', 'out', outDtype, p.V)}
fn stout(i: u32, v: ${p.vt}) { stoutAt(i + params.outOff, v); }`
    : unitStoreFn('stout', 'out', outDtype, p.V);
  return {
    name: `${spec.kind}norm`,
    key: `${spec.kind}norm:${dtype}->${outDtype}:${rowPlanKey(p)}:${paramsKey(spec)}${spec.windowed ? ':win' : ''}`,
    workgroupSize: [p.wg, 1, 1],
    bindings: [
      { name: 'xs', type: unitBindingType(dtype, p.V), access: 'read' },
      ...params.map((q) => ({ name: q.name, type: asUnits(q) ? unitBindingType(q.dtype, p.V) : q.dtype === 'f32' ? 'f32' : 'u32', access: 'read' as const })),
      { name: 'out', type: unitBindingType(outDtype, p.V), access: 'read_write' },
    ],
    uniforms: uniformsOf(spec),
    dispatch: spec.rows,
    enables: rowEnables(p),
    wgsl: `${outDtype === 'f32' ? '' : WGSL_HALF_BITS}
${unitLoadFn('ldx', 'xs', dtype, p.V, spec.windowed ? 'params.xOff' : undefined)}
${store}
${paramLoaders(params, p.V, asUnits)}
${rowReduceWgsl(p)}
${rowMainHead()}
${stats}
${write}
}`,
  };
}

const APPLY_WG = 256;

/**
 * The two-dispatch path's second kernel: y = (x - stats[row].0) * stats[row].1, then the same
 * epilogue, one thread per output word (so 16-bit words that straddle rows are written whole).
 */
export function rowNormApplyProgram(spec: Omit<RowNormSpec, 'kind' | 'variant'>): KernelProgram {
  const dtype = asFloat(spec.dtype, 'norm apply');
  const outDtype = asFloat(spec.outDtype ?? spec.dtype, 'norm apply');
  const numel = spec.rows * spec.C;
  const params = paramBindings(spec);
  const perWord = outDtype === 'f32' ? 1 : 2;
  const threads = Math.ceil(numel / perWord);
  const value = `
fn normValue(e: u32) -> f32 {
  let row = e / ${spec.C}u;
  let c0 = e % ${spec.C}u;
  var y = (ldx(e) - stats[2u * row]) * stats[2u * row + 1u];
  ${epilogue(spec, (fn) => `${fn}(c0)`)}
  return y;
}`;
  const store =
    outDtype === 'f32'
      ? `out[i] = normValue(i);`
      : `let e = 2u * i;
  let lo = normValue(e);
  var hi = 0.0;
  if (e + 1u < params.numel) { hi = normValue(e + 1u); }
  out[i] = ${packPairExpr(outDtype, 'lo', 'hi')};`;
  return {
    name: 'norm-apply',
    key: `norm-apply:${dtype}->${outDtype}:C${spec.C}:${paramsKey(spec)}`,
    workgroupSize: [APPLY_WG, 1, 1],
    bindings: [
      { name: 'xs', type: dtype === 'f32' ? 'f32' : 'u32', access: 'read' },
      { name: 'stats', type: 'f32', access: 'read' },
      ...params.map((q) => ({ name: q.name, type: q.dtype === 'f32' ? 'f32' : 'u32', access: 'read' as const })),
      { name: 'out', type: outDtype === 'f32' ? 'f32' : 'u32', access: 'read_write' },
    ],
    uniforms: [...uniformsOf(spec), { name: 'numel', type: 'u32' }, { name: 'threads', type: 'u32' }],
    uniformValues: { numel, threads },
    dispatch: Math.ceil(threads / APPLY_WG),
    wgsl: `${outDtype === 'f32' ? '' : WGSL_HALF_BITS}
${elementLoadFn('ldx', 'xs', dtype)}
${paramLoaders(params, 1, () => false)}
${value}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * ${APPLY_WG}u + lid;
  if (i >= params.threads) { return; }
  ${store}
}`,
  };
}

// ---- launchers ----------------------------------------------------------------------------

export interface Modulation {
  /** Holds shift[c] at element shiftOffset + c (e.g. a row of the DiT's [6, dim] modulation). */
  shift: Tensor;
  scale: Tensor;
  shiftOffset?: number;
  scaleOffset?: number;
}

export interface RowNormOptions {
  /** Added to the variance (LayerNorm) or mean square (RMSNorm): 1e-6 in the DiT, 1e-5 in the image embedder. */
  eps: number;
  weight?: Tensor;
  bias?: Tensor;
  /** adaLN: y * (1 + scale) + shift after the norm (and after weight/bias when given). */
  modulation?: Modulation;
  out?: Tensor;
  /** Output storage when `out` is not given (default: x's dtype). */
  outDtype?: DType;
  /** Reduction variant (default: rowVariantFor(dev)); tests force each one. */
  variant?: RowVariant;
  /**
   * f32 scratch of >= 2 * rows elements for the two-dispatch path (16-bit output, odd C; see
   * rowNormFusable). Allocated and released here when not given.
   */
  scratch?: Tensor;
  /** Binding size limit to split against (tests); default dev.limits.maxStorageBufferBindingSize. */
  maxBindingBytes?: number;
}

function rowNorm(dev: KernelContext, kind: RowNormKind, x: Tensor, opts: RowNormOptions): Tensor {
  const what = `${kind}norm`;
  const C = lastDim(x, what);
  const rows = x.numel / C;
  const checkVec = (t: Tensor | undefined, name: string, offset = 0) => {
    if (t && t.numel < offset + C) throw new Error(`${what}: ${name} has ${t.numel} elements, needs ${offset + C} (offset ${offset} + C ${C})`);
  };
  checkVec(opts.weight, 'weight');
  checkVec(opts.bias, 'bias');
  const m = opts.modulation;
  checkVec(m?.shift, 'shift', m?.shiftOffset ?? 0);
  checkVec(m?.scale, 'scale', m?.scaleOffset ?? 0);
  const y = opts.out ?? dev.empty(x.shape, opts.outDtype ?? x.dtype);
  if (y.numel !== x.numel) throw new Error(`${what}: output has ${y.numel} elements, input ${x.numel}`);
  const spec: RowNormSpec = {
    kind,
    rows,
    C,
    dtype: x.dtype,
    outDtype: y.dtype,
    weight: opts.weight?.dtype,
    bias: opts.bias?.dtype,
    modulation: m
      ? { shift: m.shift.dtype, scale: m.scale.dtype, aligned: (m.shiftOffset ?? 0) % unitWidthFor(C) === 0 && (m.scaleOffset ?? 0) % unitWidthFor(C) === 0 }
      : undefined,
    variant: opts.variant ?? rowVariantFor(dev),
  };
  const params = [opts.weight, opts.bias, m?.shift, m?.scale].filter((t): t is Tensor => t !== undefined);
  const uniforms: Record<string, number> = { eps: opts.eps };
  if (m) Object.assign(uniforms, { shiftOffset: m.shiftOffset ?? 0, scaleOffset: m.scaleOffset ?? 0 });
  const limit = bindingLimit(dev, opts.maxBindingBytes);
  const fits = Math.max(wholeBindingBytes(x), wholeBindingBytes(y)) <= limit;
  if (!fits) {
    if (!rowNormFusable(spec)) throw new Error(`${what}: a ${y.dtype} output of odd rows (C ${C}) larger than the binding limit ${limit} is not supported; use an f32 output`);
    splitRows(dev, spec, x, params, y, uniforms, limit);
  } else if (rowNormFusable(spec)) {
    dev.run(rowNormProgram(spec), [x, ...params, y], uniforms);
  } else {
    const stats = rowStats2(dev, x, kind, { eps: opts.eps }, spec.variant, opts.scratch);
    dev.run(rowNormApplyProgram(spec), [x, stats, ...params, y], uniforms);
    if (!opts.scratch) stats.release();
  }
  return y;
}

/**
 * The fused kernel over blocks of rows whose x and out windows fit the binding limit. Each
 * row is computed exactly as unsplit (one workgroup per row, same reduction), so the result
 * is bitwise the same.
 */
function splitRows(dev: KernelContext, spec: RowNormSpec, x: Tensor, params: Tensor[], y: Tensor, uniforms: Record<string, number>, limit: number): void {
  const align = bindingAlign(dev);
  const V = planRows(spec.C, spec.variant).V;
  const rowBytes = spec.C * Math.max(elemBytes(x), elemBytes(y));
  const block = rowsPerWindow(limit, rowBytes, align, 1, `${spec.kind}norm`);
  for (let r0 = 0; r0 < spec.rows; r0 += block) {
    const r1 = Math.min(spec.rows, r0 + block);
    const xw = windowOf(x, r0 * spec.C, r1 * spec.C, align, V);
    const yw = windowOf(y, r0 * spec.C, r1 * spec.C, align, V);
    dev.run(rowNormProgram({ ...spec, rows: r1 - r0, windowed: true }), [xw.view, ...params, yw.view], { ...uniforms, xOff: xw.off, outOff: yw.off });
  }
}

/** LayerNorm over the last dim: (x - mean) / sqrt(var + eps) [* weight] [+ bias] [adaLN]. */
export function layerNorm(dev: KernelContext, x: Tensor, opts: RowNormOptions): Tensor {
  return rowNorm(dev, 'layer', x, opts);
}

/** RMSNorm over the last dim (no mean subtraction): x * rsqrt(mean(x^2) + eps) [* weight] [+ bias] [adaLN]. */
export function rmsNorm(dev: KernelContext, x: Tensor, opts: RowNormOptions): Tensor {
  return rowNorm(dev, 'rms', x, opts);
}
