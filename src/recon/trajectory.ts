/**
 * Ego head trajectories from a few clicks (issue 20): keyframes give the exo pixel of the
 * person's head and optionally the pixel they look at; this builds one native Aria pose per
 * frame (the convention of the shipped ego_extrinsics, see aria-pose.ts).
 *
 * - Head centre: the clicked pixel's visible surface (that frame's depth) moved `headRadius`
 *   further along the exo ray, since the exo camera sees the near side of the head.
 * - Gaze: towards the look-at pixel's surface point; keys without one follow the look-at keys;
 *   with no look-at pixel at all, the head's levelled direction of travel (keyGazes below).
 * - Camera centre: the Aria RGB camera sits on the glasses at the forehead, `eyeOffset` in front
 *   of the head centre along the gaze. The head centre, the camera and the look-at point are
 *   then on one line, so the gaze direction is exactly (look-at - head centre).
 * - Upright: the camera's right axis is perpendicular to the gaze and the scene's up (the
 *   ground-plane normal, ground-plane.ts), so it never rolls.
 * - Between keys: head centres and gaze directions follow a C1 cubic through the keys
 *   (keyframe-spline.ts; gaze vectors renormalised), constant before the first and after the
 *   last key.
 * Pure functions on arrays (no files), so the studio page runs the same code.
 */
import { ariaW2c, uprightRight } from './aria-pose.ts';
import { exoCentre, exoForward, liftExoPixel, beyondAlongRay, type ExoView } from './exo-view.ts';
import { KeyframeSpline } from './keyframe-spline.ts';
import { checkKeys, fmtKey, TrajectoryKeyError, type TrajectoryKey } from './trajectory-keys.ts';
export { TrajectoryKeyError, type TrajectoryKey } from './trajectory-keys.ts';
import { add, normalize, norm, rejectFrom, scale, sub, type Vec3 } from './vec3.ts';

export interface TrajectoryOptions {
  /** Visible head surface to head centre, metres (default 0.1). */
  headRadius?: number;
  /** Head centre to the Aria camera, along the gaze, metres (default: headRadius). */
  eyeOffset?: number;
  /** Below this levelled speed (metres per frame) travel gives no gaze (default 0.005). */
  minTravelPerFrame?: number;
}

export const DEFAULT_HEAD_RADIUS = 0.1;

export interface TrajectoryInput {
  view: ExoView;
  /** Poses to produce (49 for EgoX). */
  frames: number;
  /** Depth map of a key frame ([H*W] on the view's depth grid). */
  depth: (frame: number) => Float32Array;
  /** The scene's up direction (ground-plane normal). */
  up: Vec3;
}

/** look-at: its own pixel; nearest-look-at: the curve through the look-at keys; travel: its direction of travel; nearest-travel: a moving key's; exo-view: nothing moves. */
export type GazeSource = 'look-at' | 'nearest-look-at' | 'travel' | 'nearest-travel' | 'exo-view';

export interface Trajectory {
  /** Native Aria world-to-camera 3x4 per frame, row-major. */
  poses: Float64Array[];
  /** Camera centre, head centre and unit gaze per frame. */
  centres: Vec3[];
  heads: Vec3[];
  forwards: Vec3[];
  /** Where each key's gaze came from (in key order, sorted by frame). */
  keyGaze: GazeSource[];
}

function liftOrThrow(input: TrajectoryInput, k: TrajectoryKey, px: [number, number], what: string): Vec3 {
  const p = liftExoPixel(input.view, input.depth(k.frame), px[0], px[1]);
  if (!p) throw new TrajectoryKeyError(`key ${fmtKey(k)}: the ${what} pixel (${px.join(', ')}) has no valid depth in frame ${k.frame}; click a nearby pixel on a surface`);
  return p;
}

/** The levelled (horizontal) part of a direction; zero length when it is vertical. */
const levelled = (d: Vec3, up: Vec3): Vec3 => rejectFrom(d, up);

/**
 * Gaze keys. Look-at keys give the gaze and keys without one follow it (the curve through the
 * look-at keys), since once the user has said where the person looks that beats any guess:
 * people walk sideways and backwards while watching a ball. With no look-at at all, each key
 * looks along the head's levelled direction of travel, or, where the head barely moves, along
 * the nearest moving key's, or the exo camera's levelled view when nothing moves.
 */
function keyGazes(
  input: TrajectoryInput,
  keys: TrajectoryKey[],
  heads: Vec3[],
  headSpline: KeyframeSpline,
  up: Vec3,
  eye: number,
  radius: number,
  minTravel: number,
): { gazeTimes: number[]; gaze: Vec3[]; keyGaze: GazeSource[] } {
  const withLookAt = keys.map((k, i) => ({ k, i })).filter(({ k }) => k.lookAt !== undefined);
  if (withLookAt.length > 0) {
    const gaze = withLookAt.map(({ k, i }) => {
      const d = sub(liftOrThrow(input, k, k.lookAt!, 'look-at'), heads[i]!);
      if (norm(d) <= eye + radius) throw new TrajectoryKeyError(`key ${fmtKey(k)}: the look-at pixel lies on the head itself; click what the person looks at`);
      return normalize(d);
    });
    return { gazeTimes: withLookAt.map(({ k }) => k.frame), gaze, keyGaze: keys.map((k) => (k.lookAt ? 'look-at' : 'nearest-look-at')) };
  }
  const travel = keys.map((k) => levelled(headSpline.velocity(k.frame) as Vec3, up));
  const moving = keys.map((_, i) => i).filter((i) => norm(travel[i]!) >= minTravel);
  const view = levelled(exoForward(input.view), up);
  const still = normalize(norm(view) > 1e-6 ? view : sub(heads[0]!, exoCentre(input.view)));
  const gaze = keys.map((k, i) => {
    if (moving.length === 0) return still;
    const j = moving.reduce((a, b) => (Math.abs(keys[b]!.frame - k.frame) < Math.abs(keys[a]!.frame - k.frame) ? b : a));
    return normalize(travel[j]!);
  });
  const keyGaze = keys.map((_, i): GazeSource => (moving.includes(i) ? 'travel' : moving.length > 0 ? 'nearest-travel' : 'exo-view'));
  return { gazeTimes: keys.map((k) => k.frame), gaze, keyGaze };
}

export function buildTrajectory(input: TrajectoryInput, keysIn: readonly TrajectoryKey[], options: TrajectoryOptions = {}): Trajectory {
  const { view, frames } = input;
  const up = normalize(input.up);
  if (norm(up) === 0) throw new Error('buildTrajectory: up direction is zero');
  const keys = checkKeys(keysIn, frames, view.exoSize);
  const radius = options.headRadius ?? DEFAULT_HEAD_RADIUS;
  const eye = options.eyeOffset ?? radius;
  const minTravel = options.minTravelPerFrame ?? 0.005;
  const times = keys.map((k) => k.frame);

  const heads = keys.map((k) => beyondAlongRay(view, liftOrThrow(input, k, k.head, 'head'), radius));
  const headSpline = new KeyframeSpline(times, heads);

  const { gazeTimes, gaze, keyGaze } = keyGazes(input, keys, heads, headSpline, up, eye, radius, minTravel);
  const gazeSpline = new KeyframeSpline(gazeTimes, gaze);

  const poses: Float64Array[] = [];
  const centres: Vec3[] = [];
  const headsOut: Vec3[] = [];
  const forwards: Vec3[] = [];
  let prevForward = gaze[0]!;
  // Right axis for a gaze straight up or down: the exo camera's horizontal right.
  let prevRight = normalize(rejectFrom([view.c2w[0]!, view.c2w[4]!, view.c2w[8]!], up));
  for (let f = 0; f < frames; f++) {
    const head = headSpline.at(f) as Vec3;
    const g = gazeSpline.at(f) as Vec3;
    // Two opposite gazes in a row can cancel mid-way: keep the last good direction there.
    const forward = norm(g) > 1e-6 ? normalize(g) : prevForward;
    const right = uprightRight(forward, up, prevRight);
    const centre = add(head, scale(forward, eye));
    poses.push(ariaW2c(centre, forward, right));
    centres.push(centre);
    headsOut.push(head);
    forwards.push(forward);
    prevForward = forward;
    prevRight = right;
  }
  return { poses, centres, heads: headsOut, forwards, keyGaze };
}
