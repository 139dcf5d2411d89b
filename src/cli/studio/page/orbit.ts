// The 3D view's camera: orbits a target point about the scene's up axis, starting from the exo
// camera's place, and is rendered by the same splatting kernels as the prior (an undistorted
// fisheye, z-buffer mode). Poses use ariaW2c, the convention the renderer turns upright.
import { ariaW2c } from '../../../recon/aria-pose.ts';
import { cameraCentre, projectFisheye, unprojectFisheyeView, type EgoCalibration } from '../../../recon/cameras.ts';
import { add, cross, dot, normalize, rejectFrom, scale, sub, type Vec3 } from '../../../recon/vec3.ts';

export const ORBIT_SIZE = 448;
/** About 120 degrees across: an equidistant fisheye with no distortion terms. */
export const ORBIT_CALIBRATION: EgoCalibration = { f: 210, cx: 223.5, cy: 223.5, k: [0, 0, 0, 0, 0, 0], p: [0, 0], s: [0, 0, 0, 0] };

export class Orbit {
  private yaw = 0;
  private pitch: number;
  private distance: number;
  private readonly e1: Vec3;
  private readonly e2: Vec3;

  constructor(
    private readonly target: Vec3,
    private readonly up: Vec3,
    start: Vec3,
  ) {
    const d = sub(start, target);
    this.distance = Math.hypot(...d);
    this.pitch = Math.asin(Math.max(-0.99, Math.min(0.99, dot(normalize(d), up))));
    this.e1 = normalize(rejectFrom(d, up));
    this.e2 = cross(up, this.e1);
  }

  rotate(dx: number, dy: number): void {
    this.yaw -= dx * 0.008;
    this.pitch = Math.max(-1.4, Math.min(1.4, this.pitch + dy * 0.008));
  }

  zoom(deltaY: number): void {
    this.distance = Math.max(0.2, Math.min(100, this.distance * Math.exp(deltaY * 0.001)));
  }

  /** World-to-camera of the orbit camera. */
  pose(): Float64Array {
    const horizontal = add(scale(this.e1, Math.cos(this.yaw)), scale(this.e2, Math.sin(this.yaw)));
    const dir = add(scale(horizontal, Math.cos(this.pitch)), scale(this.up, Math.sin(this.pitch)));
    const centre = add(this.target, scale(dir, this.distance));
    const forward = scale(dir, -1);
    return ariaW2c(centre, forward, normalize(cross(forward, this.up)));
  }
}

/** Canvas point of a world point in the orbit view, or null behind the camera. */
export function orbitPixel(w2c: ArrayLike<number>, p: Vec3): [number, number] | null {
  const px = projectFisheye(ORBIT_CALIBRATION, w2c, p[0], p[1], p[2], ORBIT_SIZE);
  return px.culled ? null : [px.col + 0.5, px.row + 0.5];
}

/** Apex and four far corners (at `depth` metres) of an ego camera's viewing frustum, in world space. */
export function frustum(calib: EgoCalibration, w2c: ArrayLike<number>, depth = 0.5, size = 448): { apex: Vec3; corners: Vec3[] } {
  const apex = Array.from(cameraCentre(w2c)) as Vec3;
  const lo = size * 0.2;
  const hi = size * 0.8;
  const corners = [[lo, lo], [lo, hi], [hi, hi], [hi, lo]].map(([row, col]) => {
    const v = unprojectFisheyeView(calib, row!, col!, size); // renderer view frame (y, -x, z) of the camera frame
    const cam: Vec3 = [-v[1]!, v[0]!, v[2]!];
    const world: Vec3 = [0, 1, 2].map((j) => w2c[j]! * cam[0] + w2c[4 + j]! * cam[1] + w2c[8 + j]! * cam[2]) as Vec3;
    return add(apex, scale(world, depth));
  });
  return { apex, corners };
}
