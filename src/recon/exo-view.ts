/**
 * The exo camera as the trajectory tools see it: pixels of the exo video frame (what a user
 * clicks), their place on the depth grid, rays into the world and points lifted with a depth map.
 * The depth grid's pinhole is infer.py's rescale of camera_intrinsics (A.4), as for the prior.
 */
import { invert4x4, rescaleExoIntrinsics, to4x4, unprojectPinhole, type Pinhole } from './cameras.ts';
import { exoPlacement } from './pointcloud.ts';
import { normalize, sub, type Vec3 } from './vec3.ts';

export interface ExoView {
  /** [H, W] of the depth maps. */
  depthShape: [number, number];
  /** [height, width] of the exo video frame. */
  exoSize: [number, number];
  cam: Pinhole;
  /** Camera-to-world 4x4, row-major. */
  c2w: Float64Array;
  /** Depth-grid pixel = exo pixel * scale + offset (a centre crop, or the frame scaled to the grid). */
  colScale: number;
  rowScale: number;
  colOffset: number;
  rowOffset: number;
}

export function exoView(exoIntrinsics: ArrayLike<number>, exoExtrinsics: ArrayLike<number>, depthShape: [number, number], exoSize: [number, number]): ExoView {
  const [H, W] = depthShape;
  const [EH, EW] = exoSize;
  const place = exoPlacement(H, W, EH, EW);
  return {
    depthShape,
    exoSize,
    cam: rescaleExoIntrinsics(exoIntrinsics, W, H),
    c2w: invert4x4(to4x4(exoExtrinsics)),
    colScale: place ? 1 : W / EW,
    rowScale: place ? 1 : H / EH,
    colOffset: place ? place.colOffset : 0,
    rowOffset: place ? place.rowOffset : 0,
  };
}

/** Depth-grid coordinates of exo pixel (u = column, v = row). */
export function toDepthGrid(view: ExoView, u: number, v: number): { col: number; row: number } {
  return { col: u * view.colScale + view.colOffset, row: v * view.rowScale + view.rowOffset };
}

/** Exo pixel of depth-grid coordinates (the inverse of toDepthGrid). */
export function fromDepthGrid(view: ExoView, col: number, row: number): { u: number; v: number } {
  return { u: (col - view.colOffset) / view.colScale, v: (row - view.rowOffset) / view.rowScale };
}

function toWorld(view: ExoView, p: ArrayLike<number>): Vec3 {
  const m = view.c2w;
  return [0, 1, 2].map((r) => m[4 * r]! * p[0]! + m[4 * r + 1]! * p[1]! + m[4 * r + 2]! * p[2]! + m[4 * r + 3]!) as Vec3;
}

export function exoCentre(view: ExoView): Vec3 {
  return [view.c2w[3]!, view.c2w[7]!, view.c2w[11]!];
}

/** The exo camera's up (its -y axis) in world coordinates: the fallback for the scene's up. */
export function exoUp(view: ExoView): Vec3 {
  // Columns of c2w's rotation are the camera axes in world; row r of the w2c is column r of c2w.
  return [-view.c2w[1]!, -view.c2w[5]!, -view.c2w[9]!];
}

/** The exo camera's horizontal-ish viewing direction (its z axis) in world coordinates. */
export function exoForward(view: ExoView): Vec3 {
  return [view.c2w[2]!, view.c2w[6]!, view.c2w[10]!];
}

/** Unit world direction of the exo ray through exo pixel (u, v). */
export function exoRayDirection(view: ExoView, u: number, v: number): Vec3 {
  const { col, row } = toDepthGrid(view, u, v);
  return normalize(sub(toWorld(view, unprojectPinhole(view.cam, col, row, 1)), exoCentre(view)));
}

/**
 * World point of the visible surface at exo pixel (u, v): the depth of the nearest depth-grid
 * pixel on the exact ray. null when that pixel is outside the grid or its depth is not a
 * positive finite number.
 */
export function liftExoPixel(view: ExoView, depth: Float32Array, u: number, v: number): Vec3 | null {
  const [H, W] = view.depthShape;
  const { col, row } = toDepthGrid(view, u, v);
  const c = Math.round(col);
  const r = Math.round(row);
  if (c < 0 || r < 0 || c >= W || r >= H) return null;
  const z = depth[r * W + c]!;
  if (!(Number.isFinite(z) && z > 0)) return null;
  return toWorld(view, unprojectPinhole(view.cam, col, row, z));
}

/** World points of every `step`-th depth pixel with a valid depth, packed xyz. */
export function depthToWorldPoints(view: ExoView, depth: Float32Array, step = 4): Float64Array {
  const [H, W] = view.depthShape;
  const out: number[] = [];
  const p = new Float64Array(3);
  for (let r = 0; r < H; r += step) {
    for (let c = 0; c < W; c += step) {
      const z = depth[r * W + c]!;
      if (!(Number.isFinite(z) && z > 0)) continue;
      out.push(...toWorld(view, unprojectPinhole(view.cam, c, r, z, p)));
    }
  }
  return Float64Array.from(out);
}

/** `p` moved `distance` further along the exo ray through it (away from the exo camera). */
export function beyondAlongRay(view: ExoView, p: Vec3, distance: number): Vec3 {
  const d = normalize(sub(p, exoCentre(view)));
  return [p[0] + d[0] * distance, p[1] + d[1] * distance, p[2] + d[2] * distance];
}
