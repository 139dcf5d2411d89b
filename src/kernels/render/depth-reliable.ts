// ViPE's reliable-depth rule (spec B.2, `reliable_depth_mask_range`): over the 5x5 window around
// a pixel (stride 1, padding 2), max and min ignore out-of-image samples (max-pooling pads with
// -inf), the mean divides the in-image sum by 25 (avg-pooling counts the zero padding), and the
// pixel is reliable iff (max - min) / (mean + 1e-6) < 0.1 and depth > 0.
// `reliableWgsl` emits the rule as a WGSL function over any f32 storage array, so the point-cloud
// kernels evaluate it inline; `reliableMaskProgram` writes it out as a mask (tests, previews).

import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { Tensor } from '../../runtime/tensor.ts';

export const RELIABLE_WINDOW = 5;
export const RELIABLE_RATIO = 0.1;
export const RELIABLE_EPS = 1e-6;

/**
 * WGSL `fn <name>(base: u32, row: i32, col: i32) -> bool` reading `<array>[base + row*W + col]`
 * of an H x W f32 map (the array must be declared f32).
 */
export function reliableWgsl(name: string, array: string, height: number, width: number): string {
  const half = (RELIABLE_WINDOW - 1) / 2;
  return `
fn ${name}(base: u32, row: i32, col: i32) -> bool {
  let d = ${array}[base + u32(row) * ${width}u + u32(col)];
  if (!(d > 0.0)) { return false; }
  var mx = d;
  var mn = d;
  var sum = 0.0;
  for (var dy = -${half}; dy <= ${half}; dy++) {
    let r = row + dy;
    if (r < 0 || r >= ${height}) { continue; }
    let rowBase = base + u32(r) * ${width}u;
    for (var dx = -${half}; dx <= ${half}; dx++) {
      let c = col + dx;
      if (c < 0 || c >= ${width}) { continue; }
      let v = ${array}[rowBase + u32(c)];
      mx = max(mx, v);
      mn = min(mn, v);
      sum += v;
    }
  }
  let mean = sum / ${RELIABLE_WINDOW * RELIABLE_WINDOW}.0;
  return (mx - mn) / (mean + ${RELIABLE_EPS}) < ${RELIABLE_RATIO};
}`;
}

export interface ReliableSpec {
  height: number;
  width: number;
  /** Maps stacked along the first axis. */
  frames: number;
}

/** mask[f, r, c] = 1 if depth[f, r, c] is reliable else 0 (u32). */
export function reliableMaskProgram(spec: ReliableSpec): KernelProgram {
  const { height: H, width: W, frames: F } = spec;
  const n = H * W * F;
  return {
    name: 'depth-reliable',
    key: `depth-reliable:${F}x${H}x${W}`,
    workgroupSize: [256, 1, 1],
    bindings: [
      { name: 'depth', type: 'f32', access: 'read' },
      { name: 'mask', type: 'u32', access: 'read_write' },
    ],
    dispatch: Math.ceil(n / 256),
    wgsl: `${reliableWgsl('reliableAt', 'depth', H, W)}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let i = wg * 256u + lid;
  if (i >= ${n}u) { return; }
  let f = i / ${H * W}u;
  let p = i % ${H * W}u;
  mask[i] = select(0u, 1u, reliableAt(f * ${H * W}u, i32(p / ${W}u), i32(p % ${W}u)));
}`,
  };
}

/** Reliable mask of stacked depth maps [F, H, W] f32 -> [F, H, W] u32 (0/1). */
export function reliableMask(dev: KernelContext, depth: Tensor, out?: Tensor): Tensor {
  if (depth.dtype !== 'f32' || depth.shape.length !== 3) throw new Error(`reliableMask: expected f32 [F, H, W], got ${depth.dtype} [${depth.shape.join(', ')}]`);
  const [F, H, W] = depth.shape as [number, number, number];
  const y = out ?? dev.empty([F, H, W], 'u32');
  dev.run(reliableMaskProgram({ frames: F, height: H, width: W }), [depth, y]);
  return y;
}
