/**
 * Cameras of the demo scene: the fixed exo camera (a pinhole high in a corner looking into the
 * room) and the walking ego head (a straight walk with a small head bob, glancing left and right
 * and swaying a little). Clip time s runs from 0 (first frame) to 1 (last frame), so the frame
 * count only changes the sampling.
 *
 * Conventions (spec A.2, A.4, B.4): extrinsics are world-to-camera 3x4 row-major with OpenCV
 * axes (x right, y down, z forward); the ego extrinsics are those of the sideways-mounted Aria
 * sensor, whose x axis points down and y axis left in an upright head, which the ego-prior
 * renderer's 90-degree roll turns back upright.
 */
import { ariaW2c } from '../../recon/aria-pose.ts';
import { rescaleExoIntrinsics, type Pinhole } from '../../recon/cameras.ts';
import { cross, dot, normalize, sub, type Vec3 } from '../../recon/vec3.ts';

const WORLD_UP: Vec3 = [0, 0, 1];

/** World-to-camera 3x4 whose camera axes x, y, z are the given world directions, centred at eye. */
export function w2cFromAxes(x: Vec3, y: Vec3, z: Vec3, eye: Vec3): Float64Array {
  return Float64Array.of(x[0], x[1], x[2], -dot(x, eye), y[0], y[1], y[2], -dot(y, eye), z[0], z[1], z[2], -dot(z, eye));
}

/** Upright OpenCV camera basis looking along `forward`, rolled by `roll` radians about it. */
export function uprightBasis(forward: Vec3, roll = 0): { right: Vec3; down: Vec3; forward: Vec3; up: Vec3 } {
  const f = normalize(forward);
  const r0 = normalize(cross(f, WORLD_UP));
  const u0 = cross(r0, f);
  const c = Math.cos(roll);
  const s = Math.sin(roll);
  const right: Vec3 = [c * r0[0] + s * u0[0], c * r0[1] + s * u0[1], c * r0[2] + s * u0[2]];
  const up: Vec3 = cross(right, f);
  return { right, down: [-up[0], -up[1], -up[2]], forward: f, up };
}

/** Upright OpenCV world-to-camera (x right, y down, z forward) at eye looking at target. */
export function lookAtOpenCv(eye: Vec3, target: Vec3): Float64Array {
  const b = uprightBasis(sub(target, eye));
  return w2cFromAxes(b.right, b.down, b.forward, eye);
}

// ------------------------------------------------------------------ exo

export const EXO_EYE: Vec3 = [-2.7, -2.7, 2.2];
export const EXO_TARGET: Vec3 = [0.8, 0.8, 0.4];

export interface ExoCameraOptions {
  depthWidth: number;
  depthHeight: number;
  /** The camera's native grid, for which camera_intrinsics is stated (principal point at its centre). */
  nativeWidth: number;
  nativeHeight: number;
  /** Horizontal field of view of the depth grid, degrees. */
  fovDeg: number;
}

export interface ExoCamera {
  /** camera_intrinsics: 3x3 row-major on the native grid, fx = fy. */
  K: Float64Array;
  /** camera_extrinsics: world-to-camera 3x4 row-major. */
  w2c: Float64Array;
  /** The pinhole on the depth grid that infer.py's rescale (A.4) makes of K: what is rendered. */
  pinhole: Pinhole;
}

/**
 * The exo camera. K is stated for the native grid with fx = fy (like the Ego-Exo4D metas); the
 * image is rendered with exactly the depth-grid pinhole that A.4 derives from K (fx' and fy'
 * differ by the grids' aspect mismatch, principal point = grid centre with no 0.5 offset), so
 * egox's unprojection of the depth maps is exact.
 */
export function exoCamera(o: ExoCameraOptions): ExoCamera {
  const cx = o.nativeWidth / 2;
  const cy = o.nativeHeight / 2;
  // fx' = fx * (Wd/2) / cx must give the requested field of view: tan(fov/2) = (Wd/2) / fx'.
  const f = cx / Math.tan(((o.fovDeg / 2) * Math.PI) / 180);
  const K = Float64Array.of(f, 0, cx, 0, f, cy, 0, 0, 1);
  return { K, w2c: lookAtOpenCv(EXO_EYE, EXO_TARGET), pinhole: rescaleExoIntrinsics(K, o.depthWidth, o.depthHeight) };
}

// ------------------------------------------------------------------ ego

/** The ego_intrinsics of every EgoX example (A.2): used as-is on the 448x448 prior. */
export const EGO_INTRINSICS: readonly number[] = Object.freeze([150, 0, 255.5, 0, 150, 255.5, 0, 0, 1]);

const WALK_START: Vec3 = [-2.0, -1.5, 1.6];
const WALK_HEADING = (40 * Math.PI) / 180;
const WALK_LENGTH = 1.8;

export interface EgoPose {
  /** Native (sideways Aria) world-to-camera 3x4, as ego_extrinsics stores it. */
  w2c: Float64Array;
  centre: Vec3;
  /** Upright head basis (world directions). */
  forward: Vec3;
  up: Vec3;
  right: Vec3;
}

/** The head at clip time s in [0, 1]. */
export function egoPoseAt(s: number): EgoPose {
  const dist = WALK_LENGTH * s;
  const bob = 0.015 * Math.sin(2 * Math.PI * 3 * s);
  const centre: Vec3 = [WALK_START[0] + dist * Math.cos(WALK_HEADING), WALK_START[1] + dist * Math.sin(WALK_HEADING), WALK_START[2] + bob];
  const yaw = WALK_HEADING + ((14 * Math.PI) / 180) * Math.sin(2 * Math.PI * 0.9 * s);
  const pitch = ((-25 + 5 * Math.sin(2 * Math.PI * 1.4 * s + 0.5)) * Math.PI) / 180;
  const roll = ((2 * Math.PI) / 180) * Math.sin(2 * Math.PI * 1.5 * s);
  const fwd: Vec3 = [Math.cos(pitch) * Math.cos(yaw), Math.cos(pitch) * Math.sin(yaw), Math.sin(pitch)];
  const b = uprightBasis(fwd, roll);
  // The sideways Aria sensor of the shipped extrinsics (recon/aria-pose.ts).
  return { w2c: ariaW2c(centre, b.forward, b.right), centre, forward: b.forward, up: b.up, right: b.right };
}

/** Clip time of frame i of n (first = 0, last = 1). */
export function clipTime(i: number, n: number): number {
  return n > 1 ? i / (n - 1) : 0;
}

export function egoTrajectory(frames: number): EgoPose[] {
  return Array.from({ length: frames }, (_, i) => egoPoseAt(clipTime(i, frames)));
}
