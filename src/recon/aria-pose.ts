/**
 * The ego pose convention of the shipped extrinsics (spec B.4): world-to-camera [R|t] of the Aria
 * RGB sensor, which is mounted sideways: in an upright head its x axis points down, its y axis
 * left and its z axis forward. The renderer's view (y, -x, z) = (left, up, forward) turns it
 * back upright.
 */
import { cameraCentre } from './cameras.ts';
import { cross, dot, normalize, norm, rejectFrom, rotationRow, scale, type Vec3 } from './vec3.ts';

/** Native Aria world-to-camera 3x4 (row-major) of a head at `centre` looking along unit `forward` with unit `right`. */
export function ariaW2c(centre: Vec3, forward: Vec3, right: Vec3): Float64Array {
  const down = cross(forward, right);
  const left = scale(right, -1);
  const rows = [down, left, forward];
  const out = new Float64Array(12);
  rows.forEach((r, i) => {
    out.set(r, 4 * i);
    out[4 * i + 3] = -dot(r, centre);
  });
  return out;
}

/**
 * The upright head's right axis for a gaze `forward` and the scene's `up`: perpendicular to both,
 * so the camera never rolls. Looking straight up or down leaves it undefined: `fallbackRight` (a
 * previous frame's) is used, made perpendicular to forward.
 */
export function uprightRight(forward: Vec3, up: Vec3, fallbackRight: Vec3): Vec3 {
  const r = cross(forward, up);
  if (norm(r) > 1e-6) return normalize(r);
  return normalize(rejectFrom(fallbackRight, forward));
}

/** Camera centre, optical axis (forward) and head-up axis of a native Aria world-to-camera 3x4. */
export function ariaAxes(w2c: ArrayLike<number>): { centre: Vec3; forward: Vec3; up: Vec3 } {
  const c = cameraCentre(w2c);
  return { centre: [c[0]!, c[1]!, c[2]!], forward: rotationRow(w2c, 2), up: scale(rotationRow(w2c, 0), -1) };
}
