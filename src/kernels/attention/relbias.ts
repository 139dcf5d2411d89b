// Attention with T5's relative position bias and a key-padding mask, for the umT5 encoder
// (and, with neither, plain attention for small head dims, e.g. CLIP on tiny test widths):
//   O[q, h] = softmax_k( scale * <Q[q,h], K[k,h]> + table[bucket(k - q), h] ) V[k, h],
// over the first `validKeys` keys only (the padded keys get exp(-inf) = 0 weight, which is
// what T5's additive float32-min mask gives). The bucket is computed in the kernel from the
// two positions, so no L x L bias buffer exists. T5 buckets a distance d >= maxExact by
// trunc(log(d / maxExact) / log(maxDistance / maxExact) * (half - maxExact)): that is a step
// function of an integer, so the host finds the distances where each step starts (float64)
// and the kernel counts how many it passes. No log on the GPU, so no rounding at the steps.
//
// One thread per query, a workgroup = 64 queries of one head; K and V tiles are staged in
// workgroup memory; online softmax in base 2 per tile. Storage f32 (the encoders' activations).

import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { InputError } from '../../runtime/errors.ts';

const LOG2E = 1.4426950408889634;
const WG = 64;

export interface RelBiasBuckets {
  /** relative_attention_num_buckets (both directions together; T5: 32). */
  numBuckets: number;
  /** relative_attention_max_distance (T5: 128). */
  maxDistance: number;
}

export interface AttentionRelBiasSpec {
  headDim: number;
  /** Bidirectional T5 bias from a [numBuckets, heads] f32 table. */
  bias?: RelBiasBuckets;
  /** Keys past the count in a one-element u32 buffer are ignored (padding). */
  keyMask: boolean;
}

/** Keys per workgroup-memory tile: K and V tiles within 16 KB. */
export function relBiasKeysPerTile(headDim: number): number {
  return Math.max(1, Math.min(32, Math.floor(16384 / (2 * 4 * headDim))));
}

/** T5 bucket of a relative position r = key - query, bidirectional, in float64 (host side). */
export function t5Bucket(r: number, b: RelBiasBuckets): number {
  const half = Math.floor(b.numBuckets / 2);
  const exact = Math.floor(half / 2);
  const base = r > 0 ? half : 0;
  const d = Math.abs(r);
  if (d < exact) return base + d;
  const far = exact + Math.trunc((Math.log(d / exact) / Math.log(b.maxDistance / exact)) * (half - exact));
  return base + Math.min(far, half - 1);
}

/** Distances at which the far buckets exact+1 .. half-1 begin (ascending). */
export function t5BucketSteps(b: RelBiasBuckets): number[] {
  const half = Math.floor(b.numBuckets / 2);
  const exact = Math.floor(half / 2);
  const steps: number[] = [];
  let prev = t5Bucket(-exact, b);
  // Past maxDistance the bucket is clamped at half - 1, so the scan can stop there.
  for (let d = exact + 1; d <= Math.max(b.maxDistance, exact + 1); d++) {
    const cur = t5Bucket(-d, b);
    for (let s = prev + 1; s <= cur; s++) steps.push(d); // a jump of two buckets adds two steps
    prev = cur;
  }
  return steps;
}

function checkSpec(spec: AttentionRelBiasSpec): void {
  const d = spec.headDim;
  if (!(Number.isInteger(d) && d % 4 === 0 && d >= 4 && d <= 512)) throw new Error(`attention-relbias: head dim ${d} must be a multiple of 4 in 4..512`);
  const b = spec.bias;
  if (b && !(Number.isInteger(b.numBuckets) && b.numBuckets >= 4 && b.numBuckets % 2 === 0 && Number.isInteger(b.maxDistance) && b.maxDistance > b.numBuckets / 4)) {
    throw new Error(`attention-relbias: ${b.numBuckets} buckets with max distance ${b.maxDistance} is not a T5 bucketing`);
  }
}

function bucketWgsl(b: RelBiasBuckets): string {
  const half = Math.floor(b.numBuckets / 2);
  const exact = Math.floor(half / 2);
  const steps = t5BucketSteps(b).map((s) => `  n += select(0u, 1u, d >= ${s}u);`).join('\n');
  return `
fn bucketOf(r: i32) -> u32 {
  let base = select(0u, ${half}u, r > 0);
  let d = u32(abs(r));
  if (d < ${exact}u) { return base + d; }
  var n = ${exact}u;
${steps}
  return base + n;
}`;
}

export function attentionRelBiasProgram(spec: AttentionRelBiasSpec, lq: number, heads: number): KernelProgram {
  checkSpec(spec);
  const D4 = spec.headDim / 4;
  const BC = relBiasKeysPerTile(spec.headDim);
  const bindings: { name: string; type: string; access: 'read' | 'read_write' }[] = [
    { name: 'Q', type: 'vec4<f32>', access: 'read' },
    { name: 'K', type: 'vec4<f32>', access: 'read' },
    { name: 'V', type: 'vec4<f32>', access: 'read' },
  ];
  if (spec.bias) bindings.push({ name: 'table', type: 'f32', access: 'read' });
  if (spec.keyMask) bindings.push({ name: 'validKeys', type: 'u32', access: 'read' });
  bindings.push({ name: 'O', type: 'vec4<f32>', access: 'read_write' });
  const key = `attention-relbias:d${spec.headDim}:${spec.bias ? `t5-${spec.bias.numBuckets}-${spec.bias.maxDistance}` : 'nobias'}:${spec.keyMask ? 'mask' : 'nomask'}`;
  // The loops over D4 are compile-time and unroll, so q and acc stay in registers (4x faster on
  // lavapipe than uniform bounds, which leave them in stack arrays); the key loops keep the
  // uniform bound bc so they stay loops.
  const wgsl = `${spec.bias ? bucketWgsl(spec.bias) : ''}
const D4: u32 = ${D4}u;
const BC: u32 = ${BC}u;
var<workgroup> ks: array<vec4<f32>, ${BC * D4}>;
var<workgroup> vs: array<vec4<f32>, ${BC * D4}>;
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let h = wg % params.heads;
  let qi = (wg / params.heads) * ${WG}u + lid;
  let ok = qi < params.lq;
  let qrow = min(qi, params.lq - 1u);
  let stride4 = params.heads * D4;
  var q: array<vec4<f32>, ${D4}>;
  var acc: array<vec4<f32>, ${D4}>;
  var s: array<f32, ${BC}>;
  for (var c = 0u; c < D4; c++) {
    q[c] = Q[qrow * stride4 + h * D4 + c] * params.qscale;
    acc[c] = vec4<f32>(0.0);
  }
  ${spec.keyMask ? 'let nk = max(1u, min(params.lk, validKeys[0]));' : 'let nk = params.lk;'}
  var m = -3.0e38;
  var l = 0.0;
  for (var k0 = 0u; k0 < nk; k0 += params.bc) {
    let nt = min(params.bc, nk - k0);
    workgroupBarrier();
    for (var e = lid; e < nt * D4; e += ${WG}u) {
      let j = e / D4;
      let c = e % D4;
      let src = (k0 + j) * stride4 + h * D4 + c;
      ks[e] = K[src];
      vs[e] = V[src];
    }
    workgroupBarrier();
    var tmax = -3.0e38;
    for (var j = 0u; j < nt; j++) {
      var sc = 0.0;
      for (var c = 0u; c < D4; c++) { sc += dot(q[c], ks[j * D4 + c]); }
      ${spec.bias ? 'sc += table[bucketOf(i32(k0 + j) - i32(qrow)) * params.heads + h] * params.biasScale;' : ''}
      s[j] = sc;
      tmax = max(tmax, sc);
    }
    let mNew = max(m, tmax);
    let corr = exp2(m - mNew);
    l *= corr;
    for (var c = 0u; c < D4; c++) { acc[c] *= corr; }
    for (var j = 0u; j < nt; j++) {
      let p = exp2(s[j] - mNew);
      l += p;
      for (var c = 0u; c < D4; c++) { acc[c] += p * vs[j * D4 + c]; }
    }
    m = mNew;
  }
  if (!ok) { return; }
  let inv = 1.0 / l;
  for (var c = 0u; c < D4; c++) { O[qi * stride4 + h * D4 + c] = acc[c] * inv; }
}`;
  return {
    name: 'attention-relbias',
    key,
    wgsl,
    workgroupSize: [WG, 1, 1],
    bindings,
    uniforms: [
      { name: 'qscale', type: 'f32' },
      { name: 'biasScale', type: 'f32' },
      { name: 'lq', type: 'u32' },
      { name: 'lk', type: 'u32' },
      { name: 'heads', type: 'u32' },
      { name: 'bc', type: 'u32' },
    ],
    dispatch: Math.ceil(lq / WG) * heads,
  };
}

/** Uniform values of one launch (scores and bias pre-multiplied by log2 e: the kernel uses exp2). */
export function attentionRelBiasUniforms(spec: AttentionRelBiasSpec, lq: number, lk: number, heads: number, scale: number): Record<string, number> {
  return { qscale: scale * LOG2E, biasScale: LOG2E, lq, lk, heads, bc: relBiasKeysPerTile(spec.headDim) };
}

/** Tensors that do not fit together (bad input: exit code 2). */
export class AttentionRelBiasInputError extends InputError {}

export interface AttentionRelBiasOptions {
  heads: number;
  /** Score scale; default 1 (T5 does not scale). */
  scale?: number;
  /** T5 relative position bias: table [numBuckets, heads] f32. */
  bias?: RelBiasBuckets & { table: Tensor };
  /** One-element u32 tensor: the number of real (unpadded) keys. */
  validKeys?: Tensor;
  out?: Tensor;
}

/** q [Lq, H*D], k and v [Lk, H*D], all f32; returns O [Lq, H*D]. Positions are row indices. */
export function attentionRelBias(dev: KernelContext, q: Tensor, k: Tensor, v: Tensor, opts: AttentionRelBiasOptions): Tensor {
  const H = opts.heads;
  const fail = (m: string): never => {
    throw new AttentionRelBiasInputError(`attention-relbias: ${m}`);
  };
  if (q.shape.length !== 2 || q.shape[1]! % H !== 0) fail(`q has shape [${q.shape}]; expected [L, ${H} x D]`);
  const lq = q.shape[0]!;
  const hd = q.shape[1]!;
  for (const [n, t] of [['k', k], ['v', v]] as const) if (t.shape.length !== 2 || t.shape[1] !== hd) fail(`${n} has shape [${t.shape}]; expected [L, ${hd}]`);
  if (k.shape[0] !== v.shape[0]) fail(`k has ${k.shape[0]} rows, v ${v.shape[0]}`);
  for (const [n, t] of [['q', q], ['k', k], ['v', v]] as const) if (t.dtype !== 'f32') fail(`${n} is ${t.dtype}; this kernel takes f32`);
  const lk = k.shape[0]!;
  if (lk === 0 || lq === 0) fail('empty sequence');
  const b = opts.bias;
  if (b && (b.table.dtype !== 'f32' || b.table.numel !== b.numBuckets * H)) fail(`bias table must be f32 [${b.numBuckets}, ${H}] (got ${b.table.dtype} with ${b.table.numel} values)`);
  if (opts.validKeys && (opts.validKeys.dtype !== 'u32' && opts.validKeys.dtype !== 'i32')) fail('validKeys must be a u32 tensor');
  const spec: AttentionRelBiasSpec = { headDim: hd / H, bias: b ? { numBuckets: b.numBuckets, maxDistance: b.maxDistance } : undefined, keyMask: Boolean(opts.validKeys) };
  const out = opts.out ?? dev.empty([lq, hd], 'f32', 'attention-relbias-out');
  if (out.numel !== lq * hd || out.dtype !== 'f32') fail(`out must be f32 [${lq}, ${hd}]`);
  const tensors = [q, k, v, ...(b ? [b.table] : []), ...(opts.validKeys ? [opts.validKeys] : []), out];
  dev.run(attentionRelBiasProgram(spec, lq, H), tensors, attentionRelBiasUniforms(spec, lq, lk, H, opts.scale ?? 1));
  return out;
}
