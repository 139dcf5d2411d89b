// Planar [C, N] -> channels-last [N, C] with a per-pixel map across the channels: how dense
// prediction heads (MoGe's points, normal, mask, scale) turn conv outputs into the [H, W, C]
// tensors their callers read. One thread per pixel; N is a uniform.
//   identity        copy
//   exp / sigmoid   per channel
//   sinh            per channel
//   xy_times_exp_z  C = 3: (x e^z, y e^z, e^z)   (MoGe remap 'exp')
//   sinh_xy_exp_z   C = 3: (sinh x, sinh y, e^z)  (MoGe remap 'sinh_exp')
//   normalize       v / max(|v|, 1e-12)           (F.normalize over the channels)

import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { Tensor } from '../../runtime/tensor.ts';

export type ChannelMap = 'identity' | 'exp' | 'sigmoid' | 'sinh' | 'xy_times_exp_z' | 'sinh_xy_exp_z' | 'normalize';

const WG = 256;

function body(map: ChannelMap, C: number): string {
  const load = (c: number) => `src[${c}u * params.n + p]`;
  const store = (c: number, v: string) => `dst[p * ${C}u + ${c}u] = ${v};`;
  const each = (f: (v: string) => string) => Array.from({ length: C }, (_, c) => store(c, f(load(c)))).join('\n  ');
  switch (map) {
    case 'identity':
      return each((v) => v);
    case 'exp':
      return each((v) => `exp(${v})`);
    case 'sigmoid':
      return each((v) => `1.0 / (1.0 + exp(-${v}))`);
    case 'sinh':
      return each((v) => `sinh(${v})`);
    case 'xy_times_exp_z':
      return `let z = exp(${load(2)});\n  ${store(0, `${load(0)} * z`)}\n  ${store(1, `${load(1)} * z`)}\n  ${store(2, 'z')}`;
    case 'sinh_xy_exp_z':
      return `${store(0, `sinh(${load(0)})`)}\n  ${store(1, `sinh(${load(1)})`)}\n  ${store(2, `exp(${load(2)})`)}`;
    case 'normalize': {
      const sq = Array.from({ length: C }, (_, c) => `${load(c)} * ${load(c)}`).join(' + ');
      return `let inv = 1.0 / max(sqrt(${sq}), 1e-12);\n  ${each((v) => `${v} * inv`)}`;
    }
  }
}

export function channelsLastProgram(spec: { map: ChannelMap; channels: number; pixels: number }): KernelProgram {
  const { map, channels: C } = spec;
  if ((map === 'xy_times_exp_z' || map === 'sinh_xy_exp_z') && C !== 3) throw new Error(`channels-last: ${map} needs 3 channels, got ${C}`);
  if (!(Number.isInteger(C) && C >= 1 && C <= 16)) throw new Error(`channels-last: ${C} channels (1..16 supported)`);
  return {
    name: 'channels-last',
    key: `channels-last:${map}:c${C}`,
    workgroupSize: [WG, 1, 1],
    uniforms: [{ name: 'n', type: 'u32' }],
    uniformValues: { n: spec.pixels },
    bindings: [
      { name: 'src', type: 'f32', access: 'read' },
      { name: 'dst', type: 'f32', access: 'read_write' },
    ],
    dispatch: Math.ceil(spec.pixels / WG),
    wgsl: `@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let p = wg * ${WG}u + lid;
  if (p >= params.n) { return; }
  ${body(map, C)}
}`,
  };
}

/** x [C, ...pixels] f32 -> [...pixels, C] with `map` applied across each pixel's channels. */
export function channelsLast(dev: KernelContext, x: Tensor, map: ChannelMap, out?: Tensor): Tensor {
  if (x.dtype !== 'f32' || x.shape.length < 1) throw new Error(`channels-last: input must be f32 [C, ...], got ${x.dtype} [${x.shape.join(', ')}]`);
  const C = x.shape[0]!;
  const pixels = x.numel / C;
  const y = out ?? dev.empty([...x.shape.slice(1), C], 'f32', 'channels-last');
  if (y.numel !== x.numel || y.dtype !== 'f32') throw new Error(`channels-last: output [${y.shape.join(', ')}] does not match [${x.shape.join(', ')}]`);
  dev.run(channelsLastProgram({ map, channels: C, pixels }), [x, y]);
  return y;
}
