// GPU parts of the ego-prior point cloud (spec B.2, B.3):
//   meanBackground: per depth pixel, the mean over frames of depth and RGB where the pixel is
//                   static (dynamic mask 0) and its depth reliable; 0 where no frame qualifies
//                   (NaN-mean then NaN -> 0);
//   backgroundPoints: every `step`-th row and column of the mean depth, kept where the mean depth
//                   is itself reliable and the pixel has a colour, unprojected (pinhole, no pixel
//                   centre offset) and moved to the world by a camera-to-world 3x4;
//   dynamicPoints:  the same unprojection of one frame's depth where its dynamic mask is set and
//                   its depth reliable, with that frame's colours.
// Colours come from exo frames that may be narrower/shorter than the depth grid: depth pixel
// (row, col) reads exo pixel (row - rowOffset, col - colOffset) (Ego-Exo4D: the 784-wide exo video is
// the centre crop of the 796-wide depth grid, offset 6); pixels with no exo colour make no point.
// Points are written as [N, 4] u32: x, y, z float bits + (r | g<<8 | b<<16 | 1<<24); empty slots are 0.

import type { KernelProgram } from '../../runtime/program.ts';
import { reliableWgsl } from './depth-reliable.ts';

export interface PointCloudSpec {
  frames: number;
  /** Depth grid. */
  height: number;
  width: number;
  /** Exo RGB frames (RGB24, packed into u32 words). */
  exoHeight: number;
  exoWidth: number;
  rowOffset: number;
  colOffset: number;
  /** Subsampling step of rows and columns (ViPE spatial_subsample = 2). */
  step: number;
  /** Whether a dynamic-mask buffer (one byte per depth pixel, packed 4 per u32) is bound. */
  masks: boolean;
}

export function subsampledGrid(spec: Pick<PointCloudSpec, 'height' | 'width' | 'step'>): { rows: number; cols: number; count: number } {
  const rows = Math.ceil(spec.height / spec.step);
  const cols = Math.ceil(spec.width / spec.step);
  return { rows, cols, count: rows * cols };
}

function keyOf(s: PointCloudSpec): string {
  return `f${s.frames}:${s.height}x${s.width}:exo${s.exoHeight}x${s.exoWidth}@${s.rowOffset},${s.colOffset}:s${s.step}:${s.masks ? 'm' : 'nm'}`;
}

/** Helpers shared by the three kernels. */
function commonWgsl(s: PointCloudSpec): string {
  return `
const H: u32 = ${s.height}u;
const W: u32 = ${s.width}u;
const HW: u32 = ${s.height * s.width}u;
const EH: i32 = ${s.exoHeight};
const EW: i32 = ${s.exoWidth};
const ROW_OFF: i32 = ${s.rowOffset};
const COL_OFF: i32 = ${s.colOffset};

// Exo pixel index of depth pixel (row, col) in frame f, or -1 when it has no colour.
fn exoPixel(f: u32, row: u32, col: u32) -> i32 {
  let er = i32(row) - ROW_OFF;
  let ec = i32(col) - COL_OFF;
  if (er < 0 || er >= EH || ec < 0 || ec >= EW) { return -1; }
  return (i32(f) * EH + er) * EW + ec;
}
fn rgbByte(b: u32) -> u32 { return (rgb[b >> 2u] >> ((b & 3u) * 8u)) & 255u; }
fn exoRgb(px: u32) -> vec3<u32> { return vec3<u32>(rgbByte(3u * px), rgbByte(3u * px + 1u), rgbByte(3u * px + 2u)); }
${s.masks ? `fn dynamicAt(i: u32) -> bool { return ((dyn[i >> 2u] >> ((i & 3u) * 8u)) & 255u) != 0u; }` : 'fn dynamicAt(i: u32) -> bool { return false; }'}
`;
}

/** geo = [camera-to-world 3x4 row-major (12), fx, fy, cx, cy] of the depth grid. */
const UNPROJECT_WGSL = `
fn unproject(row: u32, col: u32, d: f32) -> vec3<f32> {
  let x = (f32(col) - geo[14]) / geo[12] * d;
  let y = (f32(row) - geo[15]) / geo[13] * d;
  return vec3<f32>(
    geo[0] * x + geo[1] * y + geo[2] * d + geo[3],
    geo[4] * x + geo[5] * y + geo[6] * d + geo[7],
    geo[8] * x + geo[9] * y + geo[10] * d + geo[11]);
}
fn pointWord(p: vec3<f32>, c: vec3<u32>) -> vec4<u32> {
  return vec4<u32>(bitcast<u32>(p.x), bitcast<u32>(p.y), bitcast<u32>(p.z), c.x | (c.y << 8u) | (c.z << 16u) | (1u << 24u));
}`;

const HEAD = (wg: number, n: string) => `
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let i = wg * ${wg}u + lid;
  if (i >= ${n}) { return; }`;

const maskBinding = (s: PointCloudSpec) => (s.masks ? [{ name: 'dyn', type: 'u32', access: 'read' as const }] : []);

/** meanDepth[p] (f32) and meanRgb[p] (r | g<<8 | b<<16, truncated mean) over static, reliable frames. */
export function meanBackgroundProgram(s: PointCloudSpec): KernelProgram {
  const WG = 64;
  return {
    name: 'pc-mean-background',
    key: `pc-mean-background:${keyOf(s)}`,
    workgroupSize: [WG, 1, 1],
    bindings: [
      { name: 'depth', type: 'f32', access: 'read' },
      { name: 'rgb', type: 'u32', access: 'read' },
      ...maskBinding(s),
      { name: 'meanDepth', type: 'f32', access: 'read_write' },
      { name: 'meanRgb', type: 'u32', access: 'read_write' },
    ],
    dispatch: Math.ceil((s.height * s.width) / WG),
    wgsl: `${commonWgsl(s)}
${reliableWgsl('reliableAt', 'depth', s.height, s.width)}
${HEAD(WG, 'HW')}
  let row = i / W;
  let col = i % W;
  var sumD = 0.0;
  var sumC = vec3<u32>(0u);
  var n = 0u;
  var nc = 0u;
  for (var f = 0u; f < ${s.frames}u; f++) {
    if (dynamicAt(f * HW + i)) { continue; }
    if (!reliableAt(f * HW, i32(row), i32(col))) { continue; }
    sumD += depth[f * HW + i];
    n++;
    let px = exoPixel(f, row, col);
    if (px >= 0) { sumC += exoRgb(u32(px)); nc++; }
  }
  var md = 0.0;
  var mc = 0u;
  if (n > 0u) { md = sumD / f32(n); }
  if (nc > 0u) {
    // Integer sums are exact; floor of the mean = the renderer's uint8 truncation.
    let c = vec3<u32>(floor(vec3<f32>(sumC) / f32(nc)));
    mc = c.x | (c.y << 8u) | (c.z << 16u) | (1u << 24u);
  }
  meanDepth[i] = md;
  meanRgb[i] = mc;
}`,
  };
}

/** points[cell] for every subsampled cell of the mean depth (reliable, coloured) else 0; counter[0] += kept. */
export function backgroundPointsProgram(s: PointCloudSpec): KernelProgram {
  const WG = 128;
  const g = subsampledGrid(s);
  return {
    name: 'pc-background-points',
    key: `pc-background-points:${keyOf(s)}`,
    workgroupSize: [WG, 1, 1],
    bindings: [
      { name: 'meanDepth', type: 'f32', access: 'read' },
      { name: 'meanRgb', type: 'u32', access: 'read' },
      { name: 'geo', type: 'f32', access: 'read' },
      { name: 'points', type: 'vec4<u32>', access: 'read_write' },
      { name: 'counter', type: 'atomic<u32>', access: 'read_write' },
    ],
    dispatch: Math.ceil(g.count / WG),
    wgsl: `
const H: u32 = ${s.height}u;
const W: u32 = ${s.width}u;
${reliableWgsl('reliableAt', 'meanDepth', s.height, s.width)}
${UNPROJECT_WGSL}
${HEAD(WG, `${g.count}u`)}
  let row = (i / ${g.cols}u) * ${s.step}u;
  let col = (i % ${g.cols}u) * ${s.step}u;
  let c = meanRgb[row * W + col];
  var out = vec4<u32>(0u);
  if ((c >> 24u) != 0u && reliableAt(0u, i32(row), i32(col))) {
    let p = unproject(row, col, meanDepth[row * W + col]);
    out = pointWord(p, vec3<u32>(c & 255u, (c >> 8u) & 255u, (c >> 16u) & 255u));
    atomicAdd(&counter[0], 1u);
  }
  points[i] = out;
}`,
  };
}

/**
 * points[params.outOffset + cell] for frame params.frame: dynamic-mask pixels with reliable depth
 * and a colour, else 0; counter[1] += kept.
 */
export function dynamicPointsProgram(s: PointCloudSpec): KernelProgram {
  if (!s.masks) throw new Error('dynamicPointsProgram: needs masks');
  const WG = 128;
  const g = subsampledGrid(s);
  return {
    name: 'pc-dynamic-points',
    key: `pc-dynamic-points:${keyOf(s)}`,
    workgroupSize: [WG, 1, 1],
    bindings: [
      { name: 'depth', type: 'f32', access: 'read' },
      { name: 'rgb', type: 'u32', access: 'read' },
      ...maskBinding(s),
      { name: 'geo', type: 'f32', access: 'read' },
      { name: 'points', type: 'vec4<u32>', access: 'read_write' },
      { name: 'counter', type: 'atomic<u32>', access: 'read_write' },
    ],
    uniforms: [
      { name: 'frame', type: 'u32' },
      { name: 'outOffset', type: 'u32' },
    ],
    dispatch: Math.ceil(g.count / WG),
    wgsl: `${commonWgsl(s)}
${reliableWgsl('reliableAt', 'depth', s.height, s.width)}
${UNPROJECT_WGSL}
${HEAD(WG, `${g.count}u`)}
  let f = params.frame;
  let row = (i / ${g.cols}u) * ${s.step}u;
  let col = (i % ${g.cols}u) * ${s.step}u;
  let p = row * W + col;
  var out = vec4<u32>(0u);
  let px = exoPixel(f, row, col);
  if (px >= 0 && dynamicAt(f * HW + p) && reliableAt(f * HW, i32(row), i32(col))) {
    out = pointWord(unproject(row, col, depth[f * HW + p]), exoRgb(u32(px)));
    atomicAdd(&counter[1], 1u);
  }
  points[params.outOffset + i] = out;
}`,
  };
}
