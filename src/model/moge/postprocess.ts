// MoGe's infer after the network (unknown field of view, force_projection, apply_mask): the
// focal and z shift that make the affine point map a pinhole projection, fitted as the
// official code does (a 64x64 nearest downsample of the points inside the mask, min over the
// shift of |f(shift) * xy / (z + shift) - uv| with f solved in closed form, MINPACK lmdif from
// shift 0 with ftol 1e-3 as scipy drives it), then depth = (z + shift) * metric scale, +inf
// outside the mask (and where the shifted depth is not positive), and the intrinsics
// normalised to the image (principal point at the centre).

import { viewPlaneUv } from './graph.ts';
import { lmdif } from './lmdif.ts';

export interface MogeGeometry {
  /** [H, W] metric z-depth, +Infinity where masked out. */
  depth: Float32Array;
  /** Row-major 3x3, normalised (fx, fy in image widths / heights; cx = cy = 0.5). */
  intrinsics: Float64Array;
  /** Focal relative to half the image diagonal, and the z shift (before the metric scale). */
  focal: number;
  shift: number;
  /** [H, W] 1 where the depth is valid. */
  valid: Uint8Array;
}

/** PyTorch's 'nearest' source index (float32 scale in/out, floor, clamped). */
function nearestIndex(dst: number, nIn: number, nOut: number): number {
  if (nIn === nOut) return dst;
  if (nOut === 2 * nIn) return dst >> 1;
  const scale = Math.fround(nIn / nOut);
  return Math.min(Math.floor(Math.fround(dst * scale)), nIn - 1);
}

/**
 * The official focal/shift fit on a points map [H, W, 3] and a boolean mask [H, W]; with a
 * known focal (relative to half the diagonal) only the shift is fitted.
 */
export function recoverFocalShift(points: Float32Array, mask: Uint8Array | undefined, height: number, width: number, knownFocal?: number, size = 64): { focal: number; shift: number } {
  const plane = viewPlaneUv(width, height, width / height);
  const uv: number[] = [];
  const xy: number[] = [];
  const z: number[] = [];
  for (let oy = 0; oy < size; oy++) {
    const y = nearestIndex(oy, height, size);
    for (let ox = 0; ox < size; ox++) {
      const x = nearestIndex(ox, width, size);
      const p = y * width + x;
      if (mask && !mask[p]) continue;
      uv.push(plane[p]!, plane[height * width + p]!);
      xy.push(points[3 * p]!, points[3 * p + 1]!);
      z.push(points[3 * p + 2]!);
    }
  }
  const n = z.length;
  if (n < 2) return { focal: knownFocal ?? 1, shift: 0 };
  const focalFor = (shift: number, proj: Float64Array) => {
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i++) {
      proj[2 * i] = xy[2 * i]! / (z[i]! + shift);
      proj[2 * i + 1] = xy[2 * i + 1]! / (z[i]! + shift);
      num += proj[2 * i]! * uv[2 * i]! + proj[2 * i + 1]! * uv[2 * i + 1]!;
      den += proj[2 * i]! ** 2 + proj[2 * i + 1]! ** 2;
    }
    return num / den;
  };
  const residuals = (s: Float64Array) => {
    const proj = new Float64Array(2 * n);
    const solved = focalFor(s[0]!, proj);
    const f = knownFocal ?? solved;
    for (let i = 0; i < 2 * n; i++) proj[i] = f * proj[i]! - uv[i]!;
    return proj;
  };
  // scipy: least_squares(fn, x0=0, ftol=1e-3, method='lm') -> xtol = gtol = 1e-8, max_nfev = 100 n (n + 1).
  const sol = lmdif(residuals, [0], { ftol: 1e-3, xtol: 1e-8, gtol: 1e-8, maxfev: 200 });
  const shift = Math.fround(sol.x[0]!);
  return { focal: knownFocal ?? focalFor(shift, new Float64Array(2 * n)), shift };
}

/**
 * depth and intrinsics as the official infer returns them (mask applied); fovX (degrees, the
 * horizontal field of view) fixes the focal as infer(fov_x=...) does.
 */
export function mogeGeometry(points: Float32Array, mask: Float32Array | undefined, metricScale: number | undefined, height: number, width: number, fovX?: number): MogeGeometry {
  const hw = height * width;
  const binary = mask ? Uint8Array.from(mask, (m) => (m > 0.5 ? 1 : 0)) : undefined;
  const aspect = width / height;
  const known = fovX === undefined ? undefined : aspect / Math.sqrt(1 + aspect * aspect) / Math.tan((fovX * Math.PI) / 180 / 2);
  const { focal, shift } = recoverFocalShift(points, binary, height, width, known);
  const diag = Math.sqrt(1 + aspect * aspect);
  const fx = (focal / 2) * (diag / aspect);
  const fy = (focal / 2) * diag;
  const depth = new Float32Array(hw);
  const valid = new Uint8Array(hw);
  const scale = metricScale ?? 1;
  for (let p = 0; p < hw; p++) {
    const d = Math.fround(points[3 * p + 2]! + shift);
    const ok = (!binary || binary[p] === 1) && d > 0;
    valid[p] = ok ? 1 : 0;
    depth[p] = !binary || ok ? d * scale : Infinity;
  }
  return { depth, intrinsics: Float64Array.from([fx, 0, 0.5, 0, fy, 0.5, 0, 0, 1]), focal, shift, valid };
}
