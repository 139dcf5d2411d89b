// Group norm on f32 x [C, S] (S = positions per channel): channels split into G groups of C/G
// channels, each group (a contiguous run of C/G * S values) normalised by its own mean and
// biased variance, then y = xhat * weight[c] + bias[c]. GroupNorm(1, C) is MoGe's "layer_norm"
// of a conv feature map. One workgroup per group: a sweep for the mean, one for the squared
// deviations (no E[x^2] - mean^2 cancellation), one to write; the sums are tree-reduced in
// workgroup memory. S is a uniform: one pipeline per (C, G) serves every image size.

import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { Tensor } from '../../runtime/tensor.ts';

const WG = 256;

export interface GroupNormSpec {
  C: number;
  groups: number;
  eps: number;
}

export function groupNormProgram(s: GroupNormSpec): KernelProgram {
  if (!(Number.isInteger(s.groups) && s.groups >= 1 && s.C % s.groups === 0)) throw new Error(`group-norm: ${s.C} channels do not split into ${s.groups} groups`);
  const cpg = s.C / s.groups;
  return {
    name: 'group-norm',
    key: `group-norm:c${s.C}:g${s.groups}:eps${s.eps}`,
    workgroupSize: [WG, 1, 1],
    uniforms: [{ name: 'S', type: 'u32' }],
    bindings: [
      { name: 'x', type: 'f32', access: 'read' },
      { name: 'weight', type: 'f32', access: 'read' },
      { name: 'bias', type: 'f32', access: 'read' },
      { name: 'y', type: 'f32', access: 'read_write' },
    ],
    dispatch: s.groups,
    wgsl: `var<workgroup> part: array<f32, ${WG}>;

fn reduce(lid: u32, v: f32) -> f32 {
  part[lid] = v;
  workgroupBarrier();
  for (var half = ${WG / 2}u; half > 0u; half = half / 2u) {
    if (lid < half) { part[lid] = part[lid] + part[lid + half]; }
    workgroupBarrier();
  }
  let total = part[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let grp = egoxWorkgroupIndex(wid, nwg);
  if (grp >= params.egoxWorkgroups) { return; }
  let n = ${cpg}u * params.S;
  let base = grp * n;
  var acc = 0.0;
  for (var i = lid; i < n; i += ${WG}u) { acc += x[base + i]; }
  let mean = reduce(lid, acc) / f32(n);
  acc = 0.0;
  for (var i = lid; i < n; i += ${WG}u) { let d = x[base + i] - mean; acc += d * d; }
  let rstd = inverseSqrt(reduce(lid, acc) / f32(n) + ${s.eps});
  for (var i = lid; i < n; i += ${WG}u) {
    let c = grp * ${cpg}u + i / params.S;
    y[base + i] = (x[base + i] - mean) * rstd * weight[c] + bias[c];
  }
}`,
  };
}

/** y = GroupNorm(groups, C)(x) for x [C, ...] f32 with f32 weight and bias [C]. */
export function groupNorm(dev: KernelContext, x: Tensor, weight: Tensor, bias: Tensor, o: { groups: number; eps: number; out?: Tensor }): Tensor {
  if (x.dtype !== 'f32' || x.shape.length < 1) throw new Error(`group-norm: input must be f32 [C, ...], got ${x.dtype} [${x.shape.join(', ')}]`);
  const C = x.shape[0]!;
  if (weight.numel !== C || bias.numel !== C || weight.dtype !== 'f32' || bias.dtype !== 'f32') throw new Error(`group-norm: weight and bias must be f32 [${C}]`);
  const y = o.out ?? dev.empty(x.shape, 'f32', 'group-norm');
  if (y.numel !== x.numel || y.dtype !== 'f32') throw new Error(`group-norm: output [${y.shape.join(', ')}] does not match [${x.shape.join(', ')}]`);
  dev.run(groupNormProgram({ C, groups: o.groups, eps: o.eps }), [x, weight, bias, y], { S: x.numel / C });
  return y;
}
