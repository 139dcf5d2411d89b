// Layout kernels: exact copies that move elements around. Every op is a "gather": each output
// element reads one input element at sum_i(o_i * stride_i) + offset of one source, where o is
// the output coordinate; concat picks the source by the coordinate along its axis. Permute,
// transpose, slice, concat, patchify and unpatchify are all built on that one kernel.
// Dims that are contiguous in the output and in every source are merged first, so e.g. the
// EgoX width concat [16,13,56,98] | [16,13,56,56] runs as a 2-D [11648, 154] gather.
// Works on raw bits: 32-bit dtypes (f32/i32/u32) one element per thread, 16-bit (f16/bf16) one
// packed output word (two elements) per thread, so no two threads write the same word.

import { isPacked16, type DType } from '../../runtime/dtype.ts';
import type { KernelProgram, UniformDecl } from '../../runtime/program.ts';
import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { shapeString, type Shape } from '../../runtime/tensor.ts';
import { bindingAlign, bindingLimit, elemBytes, rowsPerWindow, wholeBindingBytes, windowOf } from '../shared/binding-window.ts';

export interface GatherSource {
  /** Element stride in this source for each output dim (0 for a dim the source lacks). */
  strides: readonly number[];
  /** Element offset added to every index. */
  offset: number;
}

export interface GatherSpec {
  /** Name for keys and errors (permute, slice, concat, patchify, ...). */
  op: string;
  dtype: DType;
  outShape: readonly number[];
  sources: readonly GatherSource[];
  /**
   * Concat: the output dim along which the sources follow each other; source k covers
   * coordinates [starts[k], starts[k+1]) of it (its own coordinate is o - starts[k]).
   */
  split?: { axis: number; starts: readonly number[] };
  /**
   * A pass of a split over the binding limit (one source only): output elements
   * [e0, e0 + numel) of the whole gather, written at word offset oOff of the out window;
   * only elements whose source index falls in [sLo, sLo + sLen) are written (the source
   * window holds element sLo at sOff). Uniforms e0, oOff, sLo, sLen, sOff; `numel` is the
   * block's element count.
   */
  window?: { numel: number };
}

/** Merges dims i, i+1 that are contiguous in every source (never the split axis). */
function coalesce(spec: GatherSpec): GatherSpec {
  const shape = [...spec.outShape];
  const strides = spec.sources.map((s) => [...s.strides]);
  let axis = spec.split?.axis ?? -1;
  // Drop size-1 dims (their stride never matters), except the split axis.
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] === 1 && i !== axis && shape.length > 1) {
      shape.splice(i, 1);
      for (const s of strides) s.splice(i, 1);
      if (i < axis) axis--;
    }
  }
  for (let i = shape.length - 2; i >= 0; i--) {
    if (i === axis || i + 1 === axis) continue;
    if (strides.every((s) => s[i] === s[i + 1]! * shape[i + 1]!)) {
      shape[i] = shape[i]! * shape[i + 1]!;
      shape.splice(i + 1, 1);
      for (const s of strides) {
        s[i] = s[i + 1]!;
        s.splice(i + 1, 1);
      }
      if (i + 1 < axis) axis--;
    }
  }
  return {
    ...spec,
    outShape: shape,
    sources: spec.sources.map((s, k) => ({ strides: strides[k]!, offset: s.offset })),
    split: spec.split ? { axis, starts: spec.split.starts } : undefined,
  };
}

const WG = 256;

/** Collects a program's size uniforms: declared for the WGSL, valued for the launch. */
class SizeUniforms {
  readonly decls: UniformDecl[] = [];
  readonly values: Record<string, number> = {};
  /** Declares `name` = v and returns the WGSL expression reading it. */
  add(name: string, v: number): string {
    this.decls.push({ name, type: 'u32' });
    this.values[name] = v;
    return `params.${name}`;
  }
}

/** WGSL lines defining o0..o{n-1}, the coordinates of output element `r` (last dim fastest). */
function coordLines(outShape: readonly number[], u: SizeUniforms): string[] {
  const coords: string[] = [];
  for (let i = outShape.length - 1; i >= 0; i--) {
    if (i === 0) coords.push(`  let o0 = r;`);
    else {
      const d = u.add(`d${i}`, outShape[i]!);
      coords.push(`  let o${i} = r % ${d}; r = r / ${d};`);
    }
  }
  return coords;
}

/** WGSL index of source k's element for the current coordinates (strides and offset as uniforms). */
function sourceIndexExpr(s: GatherSource, k: number, u: SizeUniforms, axisShift?: { axis: number; start: string }): string {
  const terms = s.strides.map((st, i) => {
    const o = axisShift && i === axisShift.axis ? `(o${i} - ${axisShift.start})` : `o${i}`;
    return `${o} * ${u.add(`s${k}_${i}`, st)}`;
  });
  return [...terms, u.add(`off${k}`, s.offset)].join(' + ');
}

/**
 * The gather kernel. Shapes, strides, offsets and concat starts are uniforms, so the pipeline
 * depends only on the rank after merging dims, the number of sources, the concat axis and the
 * element width: one compile serves every size (the VAE's q/k/v split and every latent size).
 */
export function gatherProgram(input: GatherSpec): KernelProgram {
  if (input.sources.length === 0) throw new Error(`${input.op}: no sources`);
  for (const s of input.sources) {
    if (s.strides.length !== input.outShape.length) throw new Error(`${input.op}: source has ${s.strides.length} strides for ${input.outShape.length} dims`);
  }
  const spec = coalesce(input);
  const half = isPacked16(spec.dtype);
  if (spec.window) return windowedGather(spec, half);
  const numel = spec.outShape.reduce((a, b) => a * b, 1);
  const u = new SizeUniforms();
  const coords = coordLines(spec.outShape, u);
  const load = (k: number, idx: string) => (half ? `((src${k}[(${idx}) >> 1u] >> (((${idx}) & 1u) * 16u)) & 0xffffu)` : `src${k}[${idx}]`);
  let body: string;
  if (spec.split) {
    const { axis, starts } = spec.split;
    const parts = spec.sources.map((s, k) => {
      const start = k === 0 ? '0u' : u.add(`start${k}`, starts[k]!);
      const stmt = `let i${k} = ${sourceIndexExpr(s, k, u, { axis, start })}; return ${load(k, `i${k}`)};`;
      if (k === spec.sources.length - 1) return `{ ${stmt} }`;
      return `if (o${axis} < params.start${k + 1}) { ${stmt} }`;
    });
    body = parts.join(' else ');
  } else {
    body = `let i0 = ${sourceIndexExpr(spec.sources[0]!, 0, u)}; return ${load(0, 'i0')};`;
  }
  const threads = half ? Math.ceil(numel / 2) : numel;
  const numelU = u.add('numel', numel);
  const threadsU = u.add('threads', threads);
  const store = half
    ? `var hi = 0u;
  if (2u * i + 1u < ${numelU}) { hi = element(2u * i + 1u); }
  out[i] = element(2u * i) | (hi << 16u);`
    : `out[i] = element(i);`;
  return {
    name: input.op,
    key: `gather:${half ? 'b16' : 'b32'}:r${spec.outShape.length}:n${spec.sources.length}${spec.split ? `:split${spec.split.axis}` : ''}`,
    workgroupSize: [WG, 1, 1],
    bindings: [
      ...spec.sources.map((_, k) => ({ name: `src${k}`, type: 'u32', access: 'read' as const })),
      { name: 'out', type: 'u32', access: 'read_write' as const },
    ],
    uniforms: u.decls,
    uniformValues: u.values,
    dispatch: Math.ceil(threads / WG),
    wgsl: `
fn element(e: u32) -> u32 {
  var r = e;
${coords.join('\n')}
  ${body}
}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  if (i >= ${threadsU}) { return; }
  ${store}
}`,
  };
}

/** The masked one-source pass of a split gather (see GatherSpec.window). */
function windowedGather(spec: GatherSpec, half: boolean): KernelProgram {
  if (spec.sources.length !== 1 || spec.split) throw new Error(`${spec.op}: only one-source gathers split over the binding limit`);
  const numel = spec.window!.numel;
  const u = new SizeUniforms();
  const coords = coordLines(spec.outShape, u);
  const index = sourceIndexExpr(spec.sources[0]!, 0, u);
  const threads = half ? Math.ceil(numel / 2) : numel;
  const numelU = u.add('numel', numel);
  const threadsU = u.add('threads', threads);
  // sLen is at least 1; `idx - sLo < sLen` also rejects idx < sLo (the u32 difference wraps).
  const body = half
    ? `var w = out[params.oOff + i];
  for (var h = 0u; h < 2u; h++) {
    let e = 2u * i + h;
    if (e >= ${numelU}) { break; }
    let idx = sourceIndex(params.e0 + e);
    if (idx - params.sLo < params.sLen) {
      let at = idx - params.sLo + params.sOff;
      let code = (src0[at >> 1u] >> ((at & 1u) * 16u)) & 0xffffu;
      w = (w & ~(0xffffu << (h * 16u))) | (code << (h * 16u));
    }
  }
  out[params.oOff + i] = w;`
    : `let idx = sourceIndex(params.e0 + i);
  if (idx - params.sLo < params.sLen) { out[params.oOff + i] = src0[idx - params.sLo + params.sOff]; }`;
  return {
    name: spec.op,
    key: `gather:${half ? 'b16' : 'b32'}:r${spec.outShape.length}:win`,
    workgroupSize: [WG, 1, 1],
    bindings: [
      { name: 'src0', type: 'u32', access: 'read' },
      { name: 'out', type: 'u32', access: 'read_write' },
    ],
    uniforms: [...['e0', 'oOff', 'sLo', 'sLen', 'sOff'].map((name) => ({ name, type: 'u32' as const })), ...u.decls],
    uniformValues: u.values,
    dispatch: Math.ceil(threads / WG),
    wgsl: `
fn sourceIndex(e: u32) -> u32 {
  var r = e;
${coords.join('\n')}
  return ${index};
}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  if (i >= ${threadsU}) { return; }
  ${body}
}`,
  };
}

// ---- launchers ------------------------------------------------------------------------------

/** Row-major element strides of a shape. */
export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

function outputFor(dev: KernelContext, shape: number[], dtype: DType, out: Tensor | undefined, op: string): Tensor {
  if (!out) return dev.empty(shape, dtype);
  const n = shape.reduce((a, b) => a * b, 1);
  if (out.numel !== n || out.dtype !== dtype) throw new Error(`${op}: output ${out.dtype} ${shapeString(out.shape)} must be ${dtype} with ${n} elements ${shapeString(shape)}`);
  return out;
}

function checkAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

function run(dev: KernelContext, spec: GatherSpec, inputs: Tensor[], y: Tensor, maxBindingBytes?: number): Tensor {
  const limit = dev.limits.maxStorageBuffersPerShaderStage;
  if (inputs.length + 1 > limit) throw new Error(`${spec.op}: ${inputs.length} inputs exceed this adapter's ${limit - 1}-input limit; concat in steps`);
  if (y.numel === 0) return y;
  const bindLimit = bindingLimit(dev, maxBindingBytes);
  if (Math.max(...[...inputs, y].map(wholeBindingBytes)) <= bindLimit) {
    dev.run(gatherProgram(spec), [...inputs, y]);
    return y;
  }
  if (inputs.length !== 1 || spec.split) throw new Error(`${spec.op}: ${inputs.length} sources larger than the binding limit ${bindLimit}; split the concat`);
  splitGather(dev, spec, inputs[0]!, y, bindLimit);
  return y;
}

/**
 * A one-source gather over the binding limit: output blocks x source windows, each pass
 * writing the block's elements whose source lies in the window (a gather's source range per
 * output block can span the whole source: patchify reads every channel plane). Exact copies,
 * so the result is bitwise the unsplit one. Passes grow as (out / limit) x (source / limit):
 * fine for latents, which are far below the limit at real sizes (the 14B EgoX latent is 16 MB).
 */
function splitGather(dev: KernelContext, spec: GatherSpec, x: Tensor, y: Tensor, limit: number): void {
  const align = bindingAlign(dev);
  const half = isPacked16(y.dtype);
  const oBlock = rowsPerWindow(limit, elemBytes(y), align, 64, spec.op);
  const sBlock = rowsPerWindow(limit, elemBytes(x), align, 64, spec.op);
  for (let e0 = 0; e0 < y.numel; e0 += oBlock) {
    const e1 = Math.min(y.numel, e0 + oBlock);
    const ow = windowOf(y, e0, e1, align, half ? 2 : 1);
    for (let s0 = 0; s0 < x.numel; s0 += sBlock) {
      const s1 = Math.min(x.numel, s0 + sBlock);
      const sw = windowOf(x, s0, s1, align);
      const program = gatherProgram({ ...spec, window: { numel: e1 - e0 } });
      dev.run(program, [sw.view, ow.view], { e0, oOff: ow.off, sLo: s0, sLen: s1 - s0, sOff: sw.off });
    }
  }
}

/** out[o] = x[o permuted]: out.shape[i] = x.shape[perm[i]]. */
export function permute(dev: KernelContext, x: Tensor, perm: readonly number[], out?: Tensor): Tensor {
  const r = x.shape.length;
  if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new Error(`permute: [${perm.join(', ')}] is not a permutation of ${r} dims`);
  }
  const inStrides = contiguousStrides(x.shape);
  const outShape = perm.map((p) => x.shape[p]!);
  const y = outputFor(dev, outShape, x.dtype, out, 'permute');
  return run(dev, { op: 'permute', dtype: x.dtype, outShape, sources: [{ strides: perm.map((p) => inStrides[p]!), offset: 0 }] }, [x], y);
}

/** Swaps two dims (a copy). */
export function transpose(dev: KernelContext, x: Tensor, a: number, b: number, out?: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  const ia = checkAxis(a, perm.length, 'transpose');
  const ib = checkAxis(b, perm.length, 'transpose');
  [perm[ia], perm[ib]] = [perm[ib]!, perm[ia]!];
  return permute(dev, x, perm, out);
}

/** Copies x[..., start:end, ...] along `axis`. */
export function sliceAxis(dev: KernelContext, x: Tensor, axis: number, start: number, end: number, out?: Tensor): Tensor {
  const a = checkAxis(axis, x.shape.length, 'slice');
  const n = x.shape[a]!;
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= n)) {
    throw new Error(`slice: [${start}, ${end}) out of range for axis ${a} of ${shapeString(x.shape)}`);
  }
  const strides = contiguousStrides(x.shape);
  const outShape = x.shape.map((d, i) => (i === a ? end - start : d));
  const y = outputFor(dev, outShape, x.dtype, out, 'slice');
  return run(dev, { op: 'slice', dtype: x.dtype, outShape, sources: [{ strides, offset: start * strides[a]! }] }, [x], y);
}

/** Concatenates along `axis`; all other dims and the dtype must agree. */
export function concat(dev: KernelContext, xs: readonly Tensor[], axis: number, out?: Tensor): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  const first = xs[0]!;
  const a = checkAxis(axis, first.shape.length, 'concat');
  const starts: number[] = [];
  let total = 0;
  for (const t of xs) {
    const same = t.shape.length === first.shape.length && t.shape.every((d, i) => i === a || d === first.shape[i]);
    if (!same || t.dtype !== first.dtype) {
      throw new Error(`concat: ${t.dtype} ${shapeString(t.shape)} does not match ${first.dtype} ${shapeString(first.shape)} outside axis ${a}`);
    }
    starts.push(total);
    total += t.shape[a]!;
  }
  const outShape = first.shape.map((d, i) => (i === a ? total : d));
  const y = outputFor(dev, outShape, first.dtype, out, 'concat');
  // Empty pieces take no part (a source must cover a non-empty range).
  const parts = xs.map((t, k) => ({ t, start: starts[k]! })).filter((p) => p.t.shape[a]! > 0);
  if (parts.length === 0) return y;
  const spec: GatherSpec = {
    op: 'concat',
    dtype: first.dtype,
    outShape,
    sources: parts.map((p) => ({ strides: contiguousStrides(p.t.shape), offset: 0 })),
    split: { axis: a, starts: parts.map((p) => p.start) },
  };
  return run(dev, spec, parts.map((p) => p.t), y);
}

export type Patch = readonly [number, number, number];

/**
 * Latent [C, F, H, W] -> tokens [F/pt * H/ph * W/pw, C*pt*ph*pw]: tokens in (frame, row, col)
 * order, col fastest; a token's features in the order of a Conv3d weight [out, C, pt, ph, pw]
 * flattened (c * pt*ph*pw + kt*ph*pw + kh*pw + kw), so the patch embedding is a GEMM.
 */
export function patchify(dev: KernelContext, x: Tensor, patch: Patch = [1, 2, 2], out?: Tensor, maxBindingBytes?: number): Tensor {
  const [C, F, H, W] = x.shape;
  const [pt, ph, pw] = patch;
  if (x.shape.length !== 4 || F! % pt || H! % ph || W! % pw) {
    throw new Error(`patchify: latent ${shapeString(x.shape)} must be [C, F, H, W] with F, H, W divisible by the patch [${patch.join(', ')}]`);
  }
  const [Fp, Hp, Wp] = [F! / pt, H! / ph, W! / pw];
  // View x as [C, Fp, pt, Hp, ph, Wp, pw]; output dims (Fp, Hp, Wp, C, pt, ph, pw).
  const s = contiguousStrides([C!, Fp, pt, Hp, ph, Wp, pw]);
  const outShape = [Fp, Hp, Wp, C!, pt, ph, pw];
  const strides = [s[1]!, s[3]!, s[5]!, s[0]!, s[2]!, s[4]!, s[6]!];
  const y = outputFor(dev, [Fp * Hp * Wp, C! * pt * ph * pw], x.dtype, out, 'patchify');
  run(dev, { op: 'patchify', dtype: x.dtype, outShape, sources: [{ strides, offset: 0 }] }, [x], y, maxBindingBytes);
  return y;
}

/**
 * Tokens [Fp*Hp*Wp, pt*ph*pw*C] -> [C, Fp*pt, Hp*ph, Wp*pw] (the DiT head's output): a token's
 * feature index is (kt*ph*pw + kh*pw + kw) * C + c, c fastest.
 */
export function unpatchify(dev: KernelContext, tokens: Tensor, grid: readonly [number, number, number], patch: Patch = [1, 2, 2], out?: Tensor, maxBindingBytes?: number): Tensor {
  const [Fp, Hp, Wp] = grid;
  const [pt, ph, pw] = patch;
  const L = tokens.shape[0];
  const D = tokens.shape[1];
  const P = pt * ph * pw;
  if (tokens.shape.length !== 2 || L !== Fp * Hp * Wp || D! % P) {
    throw new Error(`unpatchify: tokens ${shapeString(tokens.shape)} must be [${Fp * Hp * Wp}, k*${P}] for grid [${grid.join(', ')}] and patch [${patch.join(', ')}]`);
  }
  const C = D! / P;
  // View tokens as [Fp, Hp, Wp, pt, ph, pw, C]; output dims (C, Fp, pt, Hp, ph, Wp, pw).
  const s = contiguousStrides([Fp, Hp, Wp, pt, ph, pw, C]);
  const outShape = [C, Fp, pt, Hp, ph, Wp, pw];
  const strides = [s[6]!, s[0]!, s[3]!, s[1]!, s[4]!, s[2]!, s[5]!];
  const y = outputFor(dev, [C, Fp * pt, Hp * ph, Wp * pw], tokens.dtype, out, 'unpatchify');
  run(dev, { op: 'unpatchify', dtype: tokens.dtype, outShape, sources: [{ strides, offset: 0 }] }, [tokens], y, maxBindingBytes);
  return y;
}
