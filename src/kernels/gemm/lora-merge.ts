// Fuse-at-load LoRA: W[N, K] += s * B[N, r] A[r, K] on the GPU, in place. W may be f32 or
// packed f16/bf16; the sum is formed in f32 from the widened weight and rounded back to
// nearest even, exactly what PyTorch's `W.add_(s * B @ A)` on a bf16 tensor stores (up to the
// f32 summation order of the r products).
// Fast path (K % 4 == 0): a thread updates a 4 x 4 block (4 rows of W, 4 consecutive k), so
// every A quad it loads feeds 16 FMAs; 16-bit W is read and written as whole words.
// Generic path: one output word per thread.

import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import { Tensor, shapeString } from '../../runtime/tensor.ts';
import { WGSL_HALF_BITS } from '../shared/wgsl-half.ts';
import { loaderFns } from './common.ts';
import type { FloatDType } from '../../runtime/dtype.ts';

export interface LoraMergeSpec {
  N: number;
  K: number;
  r: number;
  wDtype: FloatDType;
  aDtype: FloatDType;
  bDtype: FloatDType;
}

const WG = 64;
const RB = 4; // rows of W per thread on the fast path

function narrow(dtype: 'f16' | 'bf16', v: string): string {
  return dtype === 'bf16' ? `egoxF32BitsToBf16(bitcast<u32>(${v}))` : `egoxF32BitsToF16(bitcast<u32>(${v}))`;
}

export function loraMergeProgram(s: LoraMergeSpec): KernelProgram {
  const { N, K, r, wDtype } = s;
  const fast = K % 4 === 0;
  const packed = wDtype !== 'f32';
  const fns = [loaderFns('A', s.aDtype, false), loaderFns('B', s.bDtype, false), packed ? WGSL_HALF_BITS : ''];
  let body: string;
  let threads: number;
  if (fast) {
    const quads = K / 4;
    const rowBlocks = Math.ceil(N / RB);
    threads = rowBlocks * quads;
    const L: string[] = [];
    L.push(`let q = i % ${quads}u;`, `let n0 = (i / ${quads}u) * ${RB}u;`, `let k = q * 4u;`);
    for (let j = 0; j < RB; j++) L.push(`let bn${j} = (params.row0 + min(n0 + ${j}u, ${N - 1}u)) * ${r}u;`, `var acc${j} = vec4<f32>(0.0);`);
    L.push(`for (var j = 0u; j < ${r}u; j++) {`);
    L.push(`  let av = vec4<f32>(ld_A1(j * ${K}u + k), ld_A1(j * ${K}u + k + 1u), ld_A1(j * ${K}u + k + 2u), ld_A1(j * ${K}u + k + 3u));`);
    for (let j = 0; j < RB; j++) L.push(`  acc${j} += ld_B1(bn${j} + j) * av;`);
    L.push('}');
    for (let j = 0; j < RB; j++) {
      const row = `(n0 + ${j}u) * ${K}u + k`;
      let upd: string;
      if (!packed) {
        upd = `let e = ${row}; W[e >> 2u] = W[e >> 2u] + params.scale * acc${j};`;
      } else {
        const d = wDtype as 'f16' | 'bf16';
        const wide = (w: string) => (d === 'bf16' ? `vec2<f32>(bitcast<f32>(${w} << 16u), bitcast<f32>(${w} & 0xffff0000u))` : `unpack2x16float(${w})`);
        upd = `let e = (${row}) >> 1u; let w0 = ${wide('W[e]')} + params.scale * acc${j}.xy; let w1 = ${wide('W[e + 1u]')} + params.scale * acc${j}.zw;
    W[e] = ${narrow(d, 'w0.x')} | (${narrow(d, 'w0.y')} << 16u); W[e + 1u] = ${narrow(d, 'w1.x')} | (${narrow(d, 'w1.y')} << 16u);`;
      }
      L.push(N % RB === 0 ? `{ ${upd} }` : `if (n0 + ${j}u < ${N}u) { ${upd} }`);
    }
    body = L.join('\n  ');
  } else {
    // One element (f32) or one packed word (two elements, possibly in two rows) per thread.
    const total = N * K;
    threads = packed ? Math.ceil(total / 2) : total;
    const dot = (e: string) => `dotRow(${e})`;
    fns.push(`fn dotRow(e: u32) -> f32 {
  let n = e / ${K}u; let k = e % ${K}u;
  var acc = 0.0;
  for (var j = 0u; j < ${r}u; j++) { acc += ld_B1((params.row0 + n) * ${r}u + j) * ld_A1(j * ${K}u + k); }
  return params.scale * acc;
}`);
    if (!packed) {
      body = `W[i] = W[i] + ${dot('i')};`;
    } else {
      const d = wDtype as 'f16' | 'bf16';
      const half = (hi: boolean) => (d === 'bf16' ? `bitcast<f32>(${hi ? 'w & 0xffff0000u' : 'w << 16u'})` : `unpack2x16float(w)[${hi ? 1 : 0}]`);
      body = `let w = W[i];
  let lo = ${narrow(d, `${half(false)} + ${dot('2u * i')}`)};
  var hi = w >> 16u;
  if (2u * i + 1u < ${total}u) { hi = ${narrow(d, `${half(true)} + ${dot('2u * i + 1u')}`)}; }
  W[i] = lo | (hi << 16u);`;
    }
  }
  const wType = packed ? 'u32' : fast ? 'vec4<f32>' : 'f32';
  return {
    name: 'lora-merge',
    key: `lora-merge:n${N}k${K}r${r}:${wDtype}.${s.aDtype}.${s.bDtype}:${fast ? 'q4' : 'e'}`,
    workgroupSize: [WG, 1, 1],
    bindings: [
      { name: 'A', type: s.aDtype === 'f32' ? 'f32' : 'u32', access: 'read' },
      { name: 'B', type: s.bDtype === 'f32' ? 'f32' : 'u32', access: 'read' },
      { name: 'W', type: wType, access: 'read_write' },
    ],
    uniforms: [{ name: 'scale', type: 'f32' }, { name: 'row0', type: 'u32' }],
    dispatch: Math.ceil(threads / WG),
    wgsl: `${fns.join('\n')}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  if (i >= ${threads}u) { return; }
  ${body}
}`,
  };
}

/**
 * W += scale * B A, in place on the GPU. W [N, K], A [r, K], B [N, r]. Returns W. A weight
 * larger than the binding limit is updated in blocks of rows, each bound as its own view.
 */
export function loraMerge(dev: KernelContext, w: Tensor, a: Tensor, b: Tensor, scale: number, opts: { maxBindingBytes?: number } = {}): Tensor {
  const [N, K] = w.shape as [number, number];
  const r = a.shape[0]!;
  if (w.shape.length !== 2 || a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== K || b.shape[0] !== N || b.shape[1] !== r) {
    throw new Error(`loraMerge: W ${shapeString(w.shape)}, A ${shapeString(a.shape)}, B ${shapeString(b.shape)}: need W [N, K], A [r, K], B [N, r]`);
  }
  for (const [t, what] of [[w, 'W'], [a, 'A'], [b, 'B']] as const) {
    if (t.dtype !== 'f32' && t.dtype !== 'f16' && t.dtype !== 'bf16') throw new Error(`loraMerge: ${what} has dtype ${t.dtype}`);
  }
  const limit = opts.maxBindingBytes ?? dev.limits.maxStorageBufferBindingSize;
  const align = dev.limits.minStorageBufferOffsetAlignment;
  const eb = w.dtype === 'f32' ? 4 : 2;
  // Blocks start at aligned byte offsets: a multiple of `unit` rows, and of RB for the fast path.
  const unit = lcm(align / gcd(K * eb, align), RB);
  let block = N;
  if (w.byteLength > limit) {
    block = Math.floor(limit / (K * eb) / unit) * unit;
    if (block < 1) throw new Error(`loraMerge: ${unit} rows of W (K=${K}) exceed the binding limit of ${limit} bytes`);
    if (w.byteOffset % align !== 0) throw new Error('loraMerge: a split weight must start at an aligned offset');
  }
  const spec = { K, r, wDtype: w.dtype as FloatDType, aDtype: a.dtype as FloatDType, bDtype: b.dtype as FloatDType };
  for (let n0 = 0; n0 < N; n0 += block) {
    const rows = Math.min(block, N - n0);
    const view = rows === N ? w : new Tensor(w.buffer, [rows, K], w.dtype, w.byteOffset + n0 * K * eb);
    dev.run(loraMergeProgram({ ...spec, N: rows }), [a, b, view], { scale, row0: n0 });
  }
  return w;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}
