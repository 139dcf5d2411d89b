// Row reductions over the last dim of a [rows, C] tensor (sum, mean, sum of squares, max),
// and the row machinery the norm and softmax families share: one workgroup per row, loads
// and stores in "units" of V = 4, 2 or 1 consecutive elements (vec4 / packed-pair loads are
// the cheap ones on lavapipe), exact two-pass statistics, and a reduction across the
// workgroup that is either subgroupAdd (one subgroup per row: CPU adapters) or workgroup
// memory with two barriers (GPUs).

import type { DType, FloatDType } from '../../runtime/dtype.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { f32BitsToHalfCodeExpr } from '../shared/wgsl-half.ts';

export function asFloat(dtype: DType, what: string): FloatDType {
  if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') throw new Error(`${what}: dtype ${dtype} not supported (f32, f16, bf16)`);
  return dtype;
}

// ---- units: V consecutive elements loaded / stored together --------------------------------

export type UnitWidth = 1 | 2 | 4;

/** WGSL f32 vector type holding one unit. */
export function unitType(V: UnitWidth): string {
  return V === 1 ? 'f32' : `vec${V}<f32>`;
}

/** WGSL element type of the storage array that holds `dtype` data read in units of V. */
export function unitBindingType(dtype: FloatDType, V: UnitWidth): string {
  if (dtype === 'f32') return unitType(V);
  return V === 4 ? 'vec2<u32>' : 'u32';
}

/** Widening of a 16-bit code (u32 holding 0..0xffff) to f32. */
function halfCodeToF32(dtype: 'f16' | 'bf16', code: string): string {
  return dtype === 'bf16' ? `bitcast<f32>((${code}) << 16u)` : `unpack2x16float(${code}).x`;
}

/** Widening of a packed pair to vec2<f32> (exact for both types). */
function pairToF32(dtype: 'f16' | 'bf16', word: string): string {
  return dtype === 'bf16' ? `vec2<f32>(bitcast<f32>((${word}) << 16u), bitcast<f32>((${word}) & 0xffff0000u))` : `unpack2x16float(${word})`;
}

/** Exact (nearest-even) packing of two f32 values into one 16-bit pair word. */
export function packPairExpr(dtype: 'f16' | 'bf16', lo: string, hi: string): string {
  return `(${f32BitsToHalfCodeExpr(dtype, `bitcast<u32>(${lo})`)} | (${f32BitsToHalfCodeExpr(dtype, `bitcast<u32>(${hi})`)} << 16u))`;
}

/** `fn NAME(i: u32) -> VT` reading unit i (+ `offset` units, a WGSL expression) of storage array `arr`. */
export function unitLoadFn(name: string, arr: string, dtype: FloatDType, V: UnitWidth, offset?: string): string {
  const vt = unitType(V);
  const head = `fn ${name}(unit: u32) -> ${vt} { let i = ${offset ? `unit + ${offset}` : 'unit'};`;
  if (dtype === 'f32') return `${head} return ${arr}[i]; }`;
  if (V === 4) return `${head} let w = ${arr}[i]; return vec4<f32>(${pairToF32(dtype, 'w.x')}, ${pairToF32(dtype, 'w.y')}); }`;
  if (V === 2) return `${head} return ${pairToF32(dtype, `${arr}[i]`)}; }`;
  return `${head} let w = ${arr}[i >> 1u]; return ${halfCodeToF32(dtype, 'select(w & 0xffffu, w >> 16u, (i & 1u) == 1u)')}; }`;
}

/** `fn NAME(i: u32, v: VT)` writing unit i (16-bit storage needs whole words: V >= 2). */
export function unitStoreFn(name: string, arr: string, dtype: FloatDType, V: UnitWidth): string {
  const vt = unitType(V);
  if (dtype === 'f32') return `fn ${name}(i: u32, v: ${vt}) { ${arr}[i] = v; }`;
  if (V === 4) return `fn ${name}(i: u32, v: vec4<f32>) { ${arr}[i] = vec2<u32>(${packPairExpr(dtype, 'v.x', 'v.y')}, ${packPairExpr(dtype, 'v.z', 'v.w')}); }`;
  if (V === 2) return `fn ${name}(i: u32, v: vec2<f32>) { ${arr}[i] = ${packPairExpr(dtype, 'v.x', 'v.y')}; }`;
  throw new Error(`unitStoreFn: a single 16-bit element cannot be stored alone (packed words)`);
}

/** `fn NAME(i: u32) -> f32` reading element i (+ uniform offset when `offset` names one). */
export function elementLoadFn(name: string, arr: string, dtype: FloatDType, offset?: string): string {
  const idx = offset ? `(i + ${offset})` : 'i';
  if (dtype === 'f32') return `fn ${name}(i: u32) -> f32 { return ${arr}[${idx}]; }`;
  return `fn ${name}(i: u32) -> f32 { let e = ${idx}; let w = ${arr}[e >> 1u]; return ${halfCodeToF32(dtype, 'select(w & 0xffffu, w >> 16u, (e & 1u) == 1u)')}; }`;
}

/** WGSL building a unit of V params from element loader `fn` starting at element `i`. */
export function paramUnitExpr(fn: string, V: UnitWidth, i: string): string {
  if (V === 1) return `${fn}(${i})`;
  const parts = Array.from({ length: V }, (_, k) => `${fn}(${i} + ${k}u)`);
  return `vec${V}<f32>(${parts.join(', ')})`;
}

/** Horizontal sum / max of a unit value (`x` is any WGSL expression). */
export function hsumExpr(V: UnitWidth, x: string): string {
  if (V === 1) return `(${x})`;
  if (V === 2) return `dot(${x}, vec2<f32>(1.0))`;
  return `dot(${x}, vec4<f32>(1.0))`;
}

export function hmaxExpr(V: UnitWidth, x: string): string {
  if (V === 1) return `(${x})`;
  const fn = V === 2 ? 'egoxHmax2' : 'egoxHmax4';
  return `${fn}(${x})`;
}

/** Helper functions hmaxExpr refers to (paste once per shader). */
export const WGSL_HMAX = `
fn egoxHmax2(v: vec2<f32>) -> f32 { return max(v.x, v.y); }
fn egoxHmax4(v: vec4<f32>) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }`;

/** Widest unit that divides n. */
export function unitWidthFor(n: number): UnitWidth {
  return n % 4 === 0 ? 4 : n % 2 === 0 ? 2 : 1;
}

// ---- one workgroup per row ------------------------------------------------------------------

/**
 * How a row's partial results are combined: 'workgroup' = workgroup memory and barriers
 * (GPUs: up to 256 threads per row); 'subgroup' = the workgroup is exactly one subgroup
 * and subgroupAdd/subgroupMax combine it, with no barrier at all (CPU adapters such as
 * lavapipe, where a barrier turns the shader into coroutines that compile and run slowly).
 */
export type RowReduction = 'workgroup' | 'subgroup';

export interface RowVariant {
  reduction: RowReduction;
  /** Threads per row; for 'subgroup' it must not exceed the adapter's smallest subgroup. */
  workgroupSize?: number;
}

export interface RowPlan {
  C: number;
  V: UnitWidth;
  /** Units per row (C / V). */
  units: number;
  /** Threads per workgroup. */
  wg: number;
  vt: string;
  reduction: RowReduction;
}

function pow2ceil(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Threads per row for 'workgroup': about 4 units per thread, 32..256 threads. More threads
 * than units would idle; fewer would serialise long rows (C = 5120 f32 -> 256 x 5 vec4).
 */
export function planRows(C: number, variant: RowVariant = { reduction: 'workgroup' }): RowPlan {
  if (!Number.isInteger(C) || C <= 0) throw new Error(`row kernels: bad row length ${C}`);
  const V = unitWidthFor(C);
  const units = C / V;
  const auto = variant.reduction === 'subgroup' ? 8 : Math.min(256, Math.max(32, pow2ceil(Math.ceil(units / 4))));
  const wg = variant.workgroupSize ?? auto;
  if (wg & (wg - 1) || wg < 1 || wg > 256) throw new Error(`row kernels: workgroup size ${wg} must be a power of two <= 256`);
  return { C, V, units, wg, vt: unitType(V), reduction: variant.reduction };
}

/** Key fragment naming a row plan. */
export function rowPlanKey(p: RowPlan): string {
  return `C${p.C}:v${p.V}:${p.reduction === 'subgroup' ? 'sg' : 'wg'}${p.wg}`;
}

/** Whether an adapter runs compute shaders on the CPU (lavapipe/llvmpipe, SwiftShader). */
export function isCpuAdapter(dev: KernelContext): boolean {
  const a = dev.adapter;
  return a.isFallbackAdapter || a.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(`${a.description} ${a.device}`);
}

/** The row-kernel variant for this device: subgroup reductions on CPU adapters that have them. */
export function rowVariantFor(dev: KernelContext): RowVariant {
  const sg = dev.adapter.subgroupMinSize;
  if (dev.has('subgroups') && sg && sg >= 4 && isCpuAdapter(dev)) return { reduction: 'subgroup', workgroupSize: pow2floor(sg) };
  return { reduction: 'workgroup' };
}

function pow2floor(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

/**
 * Workgroup reductions `egoxWgSum(v, lid)` and `egoxWgMax(v, lid)` for `wg` threads:
 * partials go to workgroup memory, G threads each fold a group of S (G * S = wg), then
 * every thread folds the G group results. Two barriers; safe to call repeatedly (the next
 * call's first barrier orders its writes after this call's reads). Call in uniform control flow.
 */
export function wgReduceWgsl(wg: number): string {
  const S = wg <= 16 ? wg : wg <= 64 ? 8 : 16;
  const G = wg / S;
  const fn = (name: string, op: (a: string, b: string) => string) => `
fn ${name}(v: f32, lid: u32) -> f32 {
  egoxRed[lid] = v;
  workgroupBarrier();
  if (lid < ${G}u) {
    var s = egoxRed[lid * ${S}u];
    for (var j = 1u; j < ${S}u; j++) { s = ${op('s', `egoxRed[lid * ${S}u + j]`)}; }
    egoxRedGroups[lid] = s;
  }
  workgroupBarrier();
  var t = egoxRedGroups[0];
  for (var j = 1u; j < ${G}u; j++) { t = ${op('t', 'egoxRedGroups[j]')}; }
  return t;
}`;
  return `${WGSL_HMAX}
var<workgroup> egoxRed: array<f32, ${wg}>;
var<workgroup> egoxRedGroups: array<f32, ${G}>;
${fn('egoxWgSum', (a, b) => `${a} + ${b}`)}
${fn('egoxWgMax', (a, b) => `max(${a}, ${b})`)}`;
}

/** WGSL `egoxWgSum(v, lid)` / `egoxWgMax(v, lid)` for the plan's reduction. */
export function rowReduceWgsl(p: RowPlan): string {
  if (p.reduction === 'subgroup') {
    return `${WGSL_HMAX}
fn egoxWgSum(v: f32, lid: u32) -> f32 { return subgroupAdd(v); }
fn egoxWgMax(v: f32, lid: u32) -> f32 { return subgroupMax(v); }`;
  }
  return wgReduceWgsl(p.wg);
}

/** The `enables` a row kernel of this plan needs. */
export function rowEnables(p: RowPlan): ('subgroups')[] {
  return p.reduction === 'subgroup' ? ['subgroups'] : [];
}

/**
 * WGSL loop over this thread's units of the row: `body` sees u (unit index in the row) and
 * x (its value). Every pass reads the row from storage again: holding it in a private array
 * made lavapipe's shader compile take seconds (up to 13 s) and ran slower there; on GPUs a
 * row of at most 20 KB is still in cache for the second and third pass.
 */
export function rowForEach(p: RowPlan, body: string): string {
  return `
  for (var u = lid; u < ${p.units}u; u += ${p.wg}u) {
    let x = ldx(row * ${p.units}u + u);
    ${body}
  }`;
}

/** The `main` head of a row kernel: `row` from the (folded) workgroup index, `lid`. */
/**
 * `main` of a one-workgroup-per-row kernel. Launched with `dispatch: rows`, so the runtime's
 * workgroup count is the row count and no pipeline depends on it.
 */
export function rowMainHead(): string {
  return `
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = egoxWorkgroupIndex(wid, nwg);
  if (row >= params.egoxWorkgroups) { return; }`;
}

// ---- row statistics -----------------------------------------------------------------------

/**
 * What a row kernel computes from a row x[0..C):
 * - sum, mean, sumsq, max: one f32 per row.
 * - layer: (mean, 1/sqrt(var + eps)) per row (two-pass variance); rms: (0, 1/sqrt(mean(x^2) + eps));
 *   softmax: (max(s x), 1/sum(exp(s x - max))) with s = uniform `scale`. These two-value
 *   statistics feed the separate "apply" kernels that norm.ts and softmax.ts use when a row
 *   of 16-bit output does not start on a word boundary (odd C).
 */
export type RowStat = 'sum' | 'mean' | 'sumsq' | 'max' | 'layer' | 'rms' | 'softmax';

export interface RowStatsSpec {
  stat: RowStat;
  rows: number;
  C: number;
  dtype: DType;
  /** Reduction variant (default: workgroup memory); launchers pick rowVariantFor(dev). */
  variant?: RowVariant;
}

export function rowStatsProgram(spec: RowStatsSpec): KernelProgram {
  const dtype = asFloat(spec.dtype, 'reduce');
  const p = planRows(spec.C, spec.variant);
  const invC = `${1 / spec.C}`;
  const sumOf = (expr: string) => `
  var acc = 0.0;${rowForEach(p, `acc += ${hsumExpr(p.V, expr)};`)}`;
  let body: string;
  const uniforms: { name: string; type: 'f32' }[] = [];
  switch (spec.stat) {
    case 'sum':
    case 'mean':
    case 'sumsq': {
      const sq = spec.stat === 'sumsq';
      body = `${sumOf(sq ? '(x * x)' : 'x')}
  let total = egoxWgSum(acc, lid);
  if (lid == 0u) { out[row] = total${spec.stat === 'mean' ? ` * ${invC}` : ''}; }`;
      break;
    }
    case 'max':
      body = `
  var m = -3.4028234663852886e38;${rowForEach(p, `m = max(m, ${hmaxExpr(p.V, 'x')});`)}
  let total = egoxWgMax(m, lid);
  if (lid == 0u) { out[row] = total; }`;
      break;
    case 'layer':
    case 'rms':
      uniforms.push({ name: 'eps', type: 'f32' });
      body =
        spec.stat === 'layer'
          ? `${sumOf('x')}
  let mean = egoxWgSum(acc, lid) * ${invC};
  var acc2 = 0.0;${rowForEach(p, `let d = x - ${p.vt}(mean); acc2 += ${hsumExpr(p.V, '(d * d)')};`)}
  let rstd = 1.0 / sqrt(egoxWgSum(acc2, lid) * ${invC} + params.eps);
  if (lid == 0u) { out[2u * row] = mean; out[2u * row + 1u] = rstd; }`
          : `${sumOf('(x * x)')}
  let rstd = 1.0 / sqrt(egoxWgSum(acc, lid) * ${invC} + params.eps);
  if (lid == 0u) { out[2u * row] = 0.0; out[2u * row + 1u] = rstd; }`;
      break;
    case 'softmax':
      uniforms.push({ name: 'scale', type: 'f32' });
      body = `
  var m = -3.4028234663852886e38;${rowForEach(p, `m = max(m, ${hmaxExpr(p.V, 'x * params.scale')});`)}
  let mx = egoxWgMax(m, lid);
  var acc = 0.0;${rowForEach(p, `acc += ${hsumExpr(p.V, `exp(x * params.scale - ${p.vt}(mx))`)};`)}
  let total = egoxWgSum(acc, lid);
  if (lid == 0u) { out[2u * row] = mx; out[2u * row + 1u] = 1.0 / total; }`;
      break;
  }
  return {
    name: 'reduce',
    key: `reduce:${spec.stat}:${dtype}:${rowPlanKey(p)}`,
    workgroupSize: [p.wg, 1, 1],
    bindings: [
      { name: 'xs', type: unitBindingType(dtype, p.V), access: 'read' },
      { name: 'out', type: 'f32', access: 'read_write' },
    ],
    uniforms,
    dispatch: spec.rows,
    enables: rowEnables(p),
    wgsl: `${unitLoadFn('ldx', 'xs', dtype, p.V)}
${rowReduceWgsl(p)}
${rowMainHead()}
${body}
}`,
  };
}

/**
 * Two-value statistics per row (layer, rms, softmax) as f32 [rows, 2], into `scratch` when
 * given (graph lowering passes every tensor; any f32 tensor of >= 2*rows elements).
 */
export function rowStats2(
  dev: KernelContext,
  x: Tensor,
  stat: 'layer' | 'rms' | 'softmax',
  uniforms: Record<string, number>,
  variant: RowVariant = rowVariantFor(dev),
  scratch?: Tensor,
): Tensor {
  const C = lastDim(x, stat);
  const rows = x.numel / C;
  if (scratch && (scratch.dtype !== 'f32' || scratch.numel < 2 * rows)) {
    throw new Error(`${stat}: scratch must be f32 with >= ${2 * rows} elements, got ${scratch.dtype} [${scratch.shape.join(', ')}]`);
  }
  const out = scratch ?? dev.empty([rows, 2], 'f32');
  dev.run(rowStatsProgram({ stat, rows, C, dtype: x.dtype, variant }), [x, out], uniforms);
  return out;
}

// ---- launcher ---------------------------------------------------------------------------

export type ReduceOp = 'sum' | 'mean' | 'sumsq' | 'max';

export function lastDim(x: Tensor, what: string): number {
  const C = x.shape[x.shape.length - 1];
  if (C === undefined || C <= 0) throw new Error(`${what}: tensor of shape [${x.shape.join(', ')}] has no last dim to reduce over`);
  return C;
}

/**
 * Reduces the last dim: x [..., C] -> f32 [...] (the leading dims; [1] for a 1-D input).
 * Results are f32 whatever the input storage: they are few and feed further f32 math.
 */
export function reduceRows(dev: KernelContext, x: Tensor, op: ReduceOp, opts: { out?: Tensor; variant?: RowVariant } = {}): Tensor {
  const C = lastDim(x, op);
  const rows = x.numel / C;
  const shape = x.shape.length > 1 ? x.shape.slice(0, -1) : [1];
  const y = opts.out ?? dev.empty(shape, 'f32');
  if (y.dtype !== 'f32' || y.numel !== rows) throw new Error(`${op}: output must be f32 with ${rows} elements, got ${y.dtype} [${y.shape.join(', ')}]`);
  dev.run(rowStatsProgram({ stat: op, rows, C, dtype: x.dtype, variant: opts.variant ?? rowVariantFor(dev) }), [x, y]);
  return y;
}
