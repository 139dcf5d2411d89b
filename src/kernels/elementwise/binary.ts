// Elementwise kernels: fill, binary ops with an optional repeating second operand
// (b of length nb is read at i % nb: a bias over rows, a per-channel gate), and scaling.
// f32 runs one element per thread; f16/bf16 one packed pair per thread, computed in f32
// and rounded back to nearest even. Element counts are uniforms (KernelProgram.uniformValues),
// so one pipeline per op and dtype serves every size.

import type { DType, FloatDType } from '../../runtime/dtype.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import { WGSL_HALF_BITS, f32BitsToHalfCodeExpr, halfCodeToF32BitsExpr } from '../shared/wgsl-half.ts';

const WG = 256;

function checkFloat(dtype: DType, family: string): FloatDType {
  if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') throw new Error(`${family}: dtype ${dtype} not supported`);
  return dtype;
}

function threads(dtype: FloatDType, numel: number): number {
  return dtype === 'f32' ? numel : Math.ceil(numel / 2);
}

/** WGSL reading element `idx` of a u32-backed array `arr` as f32. */
function loadExpr(dtype: FloatDType, arr: string, idx: string): string {
  if (dtype === 'f32') return `bitcast<f32>(${arr}[${idx}])`;
  return `bitcast<f32>(${halfCodeToF32BitsExpr(dtype, `select(${arr}[(${idx}) / 2u] & 0xffffu, ${arr}[(${idx}) / 2u] >> 16u, ((${idx}) & 1u) == 1u)`)})`;
}

/**
 * Builds a per-thread body: `compute(e)` is WGSL for the f32 result of element index `e`.
 * For packed types each thread handles elements 2i and 2i+1 and stores one word.
 */
function perElement(dtype: FloatDType, compute: (e: string) => string, outWord = 'i'): string {
  if (dtype === 'f32') return `out[${outWord}] = bitcast<u32>(${compute('i')});`;
  return `
    let lo = ${f32BitsToHalfCodeExpr(dtype, `bitcast<u32>(${compute('2u * i')})`)};
    var hi = 0u;
    if (2u * i + 1u < params.numel) { hi = ${f32BitsToHalfCodeExpr(dtype, `bitcast<u32>(${compute('2u * i + 1u')})`)}; }
    out[${outWord}] = lo | (hi << 16u);`;
}

function program(
  name: string,
  key: string,
  dtype: FloatDType,
  numel: number,
  inputs: string[],
  body: string,
  uniforms: KernelProgram['uniforms'] = [],
  values: Record<string, number> = {},
): KernelProgram {
  const n = threads(dtype, numel);
  return {
    name,
    key,
    workgroupSize: [WG, 1, 1],
    bindings: [...inputs.map((b) => ({ name: b, type: 'u32', access: 'read' as const })), { name: 'out', type: 'u32', access: 'read_write' }],
    uniforms: [...uniforms, { name: 'numel', type: 'u32' }, { name: 'threads', type: 'u32' }],
    uniformValues: { ...values, numel, threads: n },
    dispatch: Math.ceil(n / WG),
    wgsl: `${dtype === 'f32' ? '' : WGSL_HALF_BITS}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  if (i >= params.threads) { return; }
  ${body}
}`,
  };
}

/** out = value (uniform `value`) for every element. */
export function fillProgram(spec: { dtype: DType; numel: number }): KernelProgram {
  const dtype = checkFloat(spec.dtype, 'fill');
  return program('fill', `fill:${dtype}`, dtype, spec.numel, [], perElement(dtype, () => 'params.value'), [
    { name: 'value', type: 'f32' },
  ]);
}

export type BinaryOp = 'add' | 'sub' | 'mul';
const BINARY: Record<BinaryOp, string> = { add: '+', sub: '-', mul: '*' };

export interface BinarySpec {
  op: BinaryOp;
  dtype: DType;
  numel: number;
  bNumel?: number;
  /**
   * A block of a split over the binding limit: elements [e0, e0 + numel) of the whole op,
   * a and out (and b when it does not repeat) bound as windows. Uniforms: e0, aOff, bOff
   * (elements) and oOff (output words). `bRepeats`: b is the whole repeating operand of
   * bNumel elements, read at (e0 + e) % bNumel.
   */
  window?: { bRepeats: boolean };
}

/** out[i] = a[i] OP b[i % bNumel]; bNumel must divide numel (unless in a window). */
export function binaryProgram(spec: BinarySpec): KernelProgram {
  const dtype = checkFloat(spec.dtype, spec.op);
  const nb = spec.bNumel ?? spec.numel;
  const win = spec.window;
  if (!win && (nb <= 0 || spec.numel % nb !== 0)) throw new Error(`${spec.op}: b of ${nb} elements does not repeat evenly over ${spec.numel}`);
  const bSize: KernelProgram['uniforms'] = [{ name: 'bNumel', type: 'u32' }];
  if (!win) {
    const repeats = nb !== spec.numel;
    const bIndex = (e: string) => (repeats ? `((${e}) % params.bNumel)` : e);
    const body = perElement(dtype, (e) => `(${loadExpr(dtype, 'a', e)} ${BINARY[spec.op]} ${loadExpr(dtype, 'b', bIndex(e))})`);
    return program(spec.op, `${spec.op}:${dtype}${repeats ? ':brep' : ''}`, dtype, spec.numel, ['a', 'b'], body, bSize, { bNumel: nb });
  }
  const bIndex = (e: string) => (win.bRepeats ? `((params.e0 + ${e}) % params.bNumel)` : `(params.bOff + ${e})`);
  const body = perElement(dtype, (e) => `(${loadExpr(dtype, 'a', `params.aOff + ${e}`)} ${BINARY[spec.op]} ${loadExpr(dtype, 'b', bIndex(e))})`, 'params.oOff + i');
  const uniforms: KernelProgram['uniforms'] = [
    { name: 'e0', type: 'u32' },
    { name: 'aOff', type: 'u32' },
    { name: 'bOff', type: 'u32' },
    { name: 'oOff', type: 'u32' },
    ...bSize,
  ];
  return program(spec.op, `${spec.op}:${dtype}:win${win.bRepeats ? 'rep' : ''}`, dtype, spec.numel, ['a', 'b'], body, uniforms, { bNumel: nb });
}

/** out[i] = a[i] * scale + bias (uniforms). */
export function scaleProgram(spec: { dtype: DType; numel: number }): KernelProgram {
  const dtype = checkFloat(spec.dtype, 'scale');
  const body = perElement(dtype, (e) => `(${loadExpr(dtype, 'a', e)} * params.scale + params.bias)`);
  return program('scale', `scale:${dtype}`, dtype, spec.numel, ['a'], body, [
    { name: 'scale', type: 'f32' },
    { name: 'bias', type: 'f32' },
  ]);
}

// ---- launchers -------------------------------------------------------------------------

import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { bindingAlign, bindingLimit, elemBytes, rowsPerWindow, wholeBindingBytes, windowOf } from '../shared/binding-window.ts';

export function fill(dev: KernelContext, t: Tensor, value: number): Tensor {
  dev.run(fillProgram({ dtype: t.dtype, numel: t.numel }), [t], { value });
  return t;
}

/**
 * out = a OP b, b of a's size or repeating over it. Operands larger than the binding limit
 * (`maxBindingBytes`, default the device's) are processed in blocks of elements bound as
 * windows; each element is computed as unsplit.
 */
export function binary(dev: KernelContext, op: BinaryOp, a: Tensor, b: Tensor, out?: Tensor, maxBindingBytes?: number): Tensor {
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtypes differ (${a.dtype} vs ${b.dtype})`);
  const y = out ?? dev.empty(a.shape, a.dtype);
  if (y.numel !== a.numel || y.dtype !== a.dtype) throw new Error(`${op}: output ${y.dtype} [${y.shape.join(', ')}] must match a ${a.dtype} [${a.shape.join(', ')}]`);
  const spec: BinarySpec = { op, dtype: a.dtype, numel: a.numel, bNumel: b.numel };
  const limit = bindingLimit(dev, maxBindingBytes);
  if (Math.max(wholeBindingBytes(a), wholeBindingBytes(b), wholeBindingBytes(y)) <= limit) {
    dev.run(binaryProgram(spec), [a, b, y]);
    return y;
  }
  if (b.numel <= 0 || a.numel % b.numel !== 0) throw new Error(`${op}: b of ${b.numel} elements does not repeat evenly over ${a.numel}`);
  const bRepeats = b.numel !== a.numel;
  if (bRepeats && wholeBindingBytes(b) > limit) throw new Error(`${op}: the repeating operand b (${b.byteLength} bytes) exceeds the binding limit ${limit}`);
  const align = bindingAlign(dev);
  // Blocks of whole words for 16-bit storage (a thread writes one packed pair).
  const block = rowsPerWindow(limit, elemBytes(a), align, 64, op);
  for (let e0 = 0; e0 < a.numel; e0 += block) {
    const e1 = Math.min(a.numel, e0 + block);
    const aw = windowOf(a, e0, e1, align);
    const yw = windowOf(y, e0, e1, align, y.dtype === 'f32' ? 1 : 2);
    const bw = bRepeats ? { view: b, off: 0 } : windowOf(b, e0, e1, align);
    dev.run(binaryProgram({ ...spec, numel: e1 - e0, window: { bRepeats } }), [aw.view, bw.view, yw.view], { e0, aOff: aw.off, bOff: bw.off, oOff: yw.off });
  }
  return y;
}

export function scale(dev: KernelContext, a: Tensor, factor: number, bias = 0, out?: Tensor): Tensor {
  const y = out ?? dev.empty(a.shape, a.dtype);
  dev.run(scaleProgram({ dtype: a.dtype, numel: a.numel }), [a, y], { scale: factor, bias });
  return y;
}

/**
 * out[i] = src[srcOffset + i] for i < count (f32 or 32-bit data): cuts a piece out of a tensor
 * at an element offset that need not be binding-aligned (e.g. one row of the DiT's [6, dim]
 * modulation).
 */
export function copyRangeProgram(spec: { count: number }): KernelProgram {
  const n = spec.count;
  return {
    name: 'copy',
    key: 'copy-range',
    workgroupSize: [WG, 1, 1],
    bindings: [
      { name: 'src', type: 'u32', access: 'read' },
      { name: 'out', type: 'u32', access: 'read_write' },
    ],
    uniforms: [{ name: 'srcOffset', type: 'u32' }, { name: 'count', type: 'u32' }],
    uniformValues: { count: n },
    dispatch: Math.ceil(n / WG),
    wgsl: `
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  if (i >= params.count) { return; }
  out[i] = src[params.srcOffset + i];
}`,
  };
}
