// Elementwise kernels: fill, binary ops with an optional repeating second operand
// (b of length nb is read at i % nb: a bias over rows, a per-channel gate), and scaling.
// f32 runs one element per thread; f16/bf16 one packed pair per thread, computed in f32
// and rounded back to nearest even.

import type { DType } from '../runtime/dtype.ts';
import type { KernelProgram } from '../runtime/program.ts';
import { WGSL_HALF_BITS, f32BitsToHalfCodeExpr, halfCodeToF32BitsExpr } from './wgsl-half.ts';

const WG = 256;
type FloatDType = 'f32' | 'f16' | 'bf16';

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
function perElement(dtype: FloatDType, numel: number, compute: (e: string) => string): string {
  if (dtype === 'f32') return `out[i] = bitcast<u32>(${compute('i')});`;
  return `
    let lo = ${f32BitsToHalfCodeExpr(dtype, `bitcast<u32>(${compute('2u * i')})`)};
    var hi = 0u;
    if (2u * i + 1u < ${numel}u) { hi = ${f32BitsToHalfCodeExpr(dtype, `bitcast<u32>(${compute('2u * i + 1u')})`)}; }
    out[i] = lo | (hi << 16u);`;
}

function program(name: string, key: string, dtype: FloatDType, numel: number, inputs: string[], body: string, uniforms: KernelProgram['uniforms'] = []): KernelProgram {
  const n = threads(dtype, numel);
  return {
    name,
    key,
    workgroupSize: [WG, 1, 1],
    bindings: [...inputs.map((b) => ({ name: b, type: 'u32', access: 'read' as const })), { name: 'out', type: 'u32', access: 'read_write' }],
    uniforms,
    dispatch: Math.ceil(n / WG),
    wgsl: `${dtype === 'f32' ? '' : WGSL_HALF_BITS}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  if (i >= ${n}u) { return; }
  ${body}
}`,
  };
}

/** out = value (uniform `value`) for every element. */
export function fillProgram(spec: { dtype: DType; numel: number }): KernelProgram {
  const dtype = checkFloat(spec.dtype, 'fill');
  return program('fill', `fill:${dtype}:n${spec.numel}`, dtype, spec.numel, [], perElement(dtype, spec.numel, () => 'params.value'), [
    { name: 'value', type: 'f32' },
  ]);
}

export type BinaryOp = 'add' | 'sub' | 'mul';
const BINARY: Record<BinaryOp, string> = { add: '+', sub: '-', mul: '*' };

/** out[i] = a[i] OP b[i % bNumel]; bNumel must divide numel. */
export function binaryProgram(spec: { op: BinaryOp; dtype: DType; numel: number; bNumel?: number }): KernelProgram {
  const dtype = checkFloat(spec.dtype, spec.op);
  const nb = spec.bNumel ?? spec.numel;
  if (nb <= 0 || spec.numel % nb !== 0) throw new Error(`${spec.op}: b of ${nb} elements does not repeat evenly over ${spec.numel}`);
  const bIndex = (e: string) => (nb === spec.numel ? e : `((${e}) % ${nb}u)`);
  const body = perElement(dtype, spec.numel, (e) => `(${loadExpr(dtype, 'a', e)} ${BINARY[spec.op]} ${loadExpr(dtype, 'b', bIndex(e))})`);
  return program(spec.op, `${spec.op}:${dtype}:n${spec.numel}:b${nb}`, dtype, spec.numel, ['a', 'b'], body);
}

/** out[i] = a[i] * scale + bias (uniforms). */
export function scaleProgram(spec: { dtype: DType; numel: number }): KernelProgram {
  const dtype = checkFloat(spec.dtype, 'scale');
  const body = perElement(dtype, spec.numel, (e) => `(${loadExpr(dtype, 'a', e)} * params.scale + params.bias)`);
  return program('scale', `scale:${dtype}:n${spec.numel}`, dtype, spec.numel, ['a'], body, [
    { name: 'scale', type: 'f32' },
    { name: 'bias', type: 'f32' },
  ]);
}

// ---- launchers -------------------------------------------------------------------------

import type { EgoxDevice } from '../runtime/device.ts';
import type { Tensor } from '../runtime/tensor.ts';

export function fill(dev: EgoxDevice, t: Tensor, value: number): Tensor {
  dev.run(fillProgram({ dtype: t.dtype, numel: t.numel }), [t], { value });
  return t;
}

export function binary(dev: EgoxDevice, op: BinaryOp, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtypes differ (${a.dtype} vs ${b.dtype})`);
  const y = out ?? dev.empty(a.shape, a.dtype);
  dev.run(binaryProgram({ op, dtype: a.dtype, numel: a.numel, bNumel: b.numel }), [a, b, y]);
  return y;
}

export function scale(dev: EgoxDevice, a: Tensor, factor: number, bias = 0, out?: Tensor): Tensor {
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
    key: `copy-range:n${n}`,
    workgroupSize: [WG, 1, 1],
    bindings: [
      { name: 'src', type: 'u32', access: 'read' },
      { name: 'out', type: 'u32', access: 'read_write' },
    ],
    uniforms: [{ name: 'srcOffset', type: 'u32' }],
    dispatch: Math.ceil(n / WG),
    wgsl: `
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  if (i >= ${n}u) { return; }
  out[i] = src[params.srcOffset + i];
}`,
  };
}
