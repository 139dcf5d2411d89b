/**
 * Known answers for the trajectory tests, built from a real take: its exo camera, its real ego
 * poses and its depth maps, made consistent with each other first.
 *
 * Why the depth needs two changes (measured on the shared takes): the shipped depth maps are ViPE
 * estimates whose scale is not the meta world's (soccer: the player's body lies at 0.62-0.66 of
 * the real head's distance from the exo camera), and the exo lens is not the pinhole the meta's K
 * describes, so the real head projects 20-40 px beside the visible head, onto the background.
 * A click-based tool cannot be checked against the real poses on those maps as they are, so:
 * 1. each take's depth maps are scaled by one factor `depthScale` (median over frames of the
 *    nearest surface within 40 px of the projected head, over the head's real distance);
 * 2. the head is painted into every depth map as a sphere of radius HEAD_RADIUS around the real
 *    head centre, which sits EYE_OFFSET behind the real camera along the real optical axis (the
 *    Aria RGB camera is on the glasses at the forehead, not at the head's centre).
 * The true head pixel is then the projection of that head centre (what a user clicks: the middle
 * of the visible head), and the true gaze pixel is where the real optical axis meets the depth
 * surface, marched from the camera (none when the axis leaves the view, passes behind a nearer
 * surface, or meets it on a depth edge where the pixel's depth is another surface's: hidden from
 * the exo camera, or not a point one could click).
 */
import { loadEgoxTake, readDepthFrame, type EgoxTakeWithDepth } from '../../src/io/meta.ts';
import { probeVideo } from '../../src/io/video.ts';
import { projectPinhole, transformPoint } from '../../src/recon/cameras.ts';
import { ariaAxes } from '../../src/recon/aria-pose.ts';
import { exoView, fromDepthGrid, liftExoPixel, type ExoView } from '../../src/recon/exo-view.ts';
import type { TrajectoryKey } from '../../src/recon/trajectory.ts';
import { add, norm, scale, sub, type Vec3 } from '../../src/recon/vec3.ts';

export const META = '../shared/data/egoexo4d/meta.json';
export const TAKES = ['cmu_soccer06_6_877_925', 'iiith_cooking_57_2_2451_2499'] as const;
export const HEAD_RADIUS = 0.1;
export const EYE_OFFSET = 0.1;
/** A gaze pixel counts when its lifted point is this close to where the axis meets the surface. */
const GAZE_HIT_TOLERANCE = 0.05;

export interface TruthTake {
  take: EgoxTakeWithDepth;
  view: ExoView;
  depthScale: number;
  /** Scaled depth with the painted head, per frame. */
  depth: Float32Array[];
  /** Real camera centre and optical axis per frame. */
  centres: Vec3[];
  axes: Vec3[];
}

function toCam(take: EgoxTakeWithDepth, p: Vec3): Vec3 {
  return Array.from(transformPoint(take.exoExtrinsics, p[0], p[1], p[2])) as Vec3;
}

export function paintSphere(view: ExoView, depth: Float32Array, centreCam: Vec3, radius: number): void {
  const [H, W] = view.depthShape;
  const { fx, fy, cx, cy } = view.cam;
  const [X, Y, Z] = centreCam;
  const c0 = projectPinhole(view.cam, X, Y, Z);
  const span = Math.ceil((radius / (Z - radius)) * Math.max(fx, fy)) + 2;
  for (let r = Math.max(0, Math.floor(c0.v - span)); r <= Math.min(H - 1, Math.ceil(c0.v + span)); r++) {
    for (let c = Math.max(0, Math.floor(c0.u - span)); c <= Math.min(W - 1, Math.ceil(c0.u + span)); c++) {
      // Ray t*(a, b, 1) (z-depth t) against the sphere: t^2 |d|^2 - 2 t d.C + |C|^2 - R^2 = 0.
      const a = (c - cx) / fx;
      const b = (r - cy) / fy;
      const dd = a * a + b * b + 1;
      const dc = a * X + b * Y + Z;
      const disc = dc * dc - dd * (X * X + Y * Y + Z * Z - radius * radius);
      if (disc < 0) continue;
      const t = (dc - Math.sqrt(disc)) / dd;
      if (t > 0 && t < depth[r * W + c]!) depth[r * W + c] = t;
    }
  }
}

function nearestSurfaceScale(view: ExoView, depth: Float32Array, headCam: Vec3): number {
  const [H, W] = view.depthShape;
  const p = projectPinhole(view.cam, headCam[0], headCam[1], headCam[2]);
  let best = Infinity;
  for (let r = Math.round(p.v) - 40; r <= Math.round(p.v) + 40; r++) {
    for (let c = Math.round(p.u) - 40; c <= Math.round(p.u) + 40; c++) {
      if (r >= 0 && c >= 0 && r < H && c < W && depth[r * W + c]! > 0) best = Math.min(best, depth[r * W + c]!);
    }
  }
  return best / headCam[2];
}

export async function loadTruthTake(name: string): Promise<TruthTake> {
  const take = loadEgoxTake(META, name);
  const info = await probeVideo(take.exoPath);
  const view = exoView(take.exoIntrinsics, take.exoExtrinsics, take.depthShape, [info.height, info.width]);
  const raw = Array.from({ length: 49 }, (_, f) => readDepthFrame(take, f));
  const axesAll = take.egoExtrinsics.slice(0, 49).map((e) => ariaAxes(e));
  const centres = axesAll.map((a) => a.centre);
  const axes = axesAll.map((a) => a.forward);
  const heads = centres.map((c, f) => add(c, scale(axes[f]!, -EYE_OFFSET)));
  const ratios = raw.map((d, f) => nearestSurfaceScale(view, d, toCam(take, heads[f]!))).sort((a, b) => a - b);
  const depthScale = ratios[24]!;
  const depth = raw.map((d, f) => {
    const out = d.map((z) => z / depthScale);
    paintSphere(view, out, toCam(take, heads[f]!), HEAD_RADIUS);
    return out;
  });
  return { take, view, depthScale, depth, centres, axes };
}

/** Exo pixel of a world point. */
export function exoPixelOf(t: TruthTake, p: Vec3): [number, number] {
  const q = toCam(t.take, p);
  const g = projectPinhole(t.view.cam, q[0], q[1], q[2]);
  const e = fromDepthGrid(t.view, g.u, g.v);
  return [e.u, e.v];
}

/** Where the real optical axis of frame f meets the depth surface, as an exo pixel; null when hidden. */
export function trueGazePixel(t: TruthTake, f: number): [number, number] | null {
  const [H, W] = t.view.depthShape;
  const [EH, EW] = t.view.exoSize;
  const d = t.depth[f]!;
  // Start clear of the head sphere; targets closer than 30 cm are not what a person looks at.
  for (let s = 0.3; s < 30; s += 0.01) {
    const q = toCam(t.take, add(t.centres[f]!, scale(t.axes[f]!, s)));
    if (q[2] <= 0.05) return null;
    const g = projectPinhole(t.view.cam, q[0], q[1], q[2]);
    const c = Math.round(g.u);
    const r = Math.round(g.v);
    if (c < 0 || r < 0 || c >= W || r >= H) return null;
    const z = d[r * W + c]!;
    if (q[2] < z) continue;
    if (q[2] - z > Math.max(0.05, 0.03 * z)) return null; // went behind a nearer surface
    const e = fromDepthGrid(t.view, g.u, g.v);
    if (!(e.u >= 0 && e.v >= 0 && e.u <= EW - 1 && e.v <= EH - 1)) return null;
    // On a depth edge the pixel's depth belongs to another surface: not a point one can click.
    const lifted = liftExoPixel(t.view, d, e.u, e.v);
    const hit = add(t.centres[f]!, scale(t.axes[f]!, s));
    return lifted && norm(sub(lifted, hit)) <= GAZE_HIT_TOLERANCE ? [e.u, e.v] : null;
  }
  return null;
}

/** Keys every `every`-th frame at the true head pixel and, where visible, the true gaze pixel. */
export function truthKeys(t: TruthTake, every = 4): TrajectoryKey[] {
  const keys: TrajectoryKey[] = [];
  for (let f = 0; f < 49; f += every) {
    const head = add(t.centres[f]!, scale(t.axes[f]!, -EYE_OFFSET));
    const lookAt = trueGazePixel(t, f);
    keys.push({ frame: f, head: exoPixelOf(t, head), ...(lookAt ? { lookAt } : {}) });
  }
  return keys;
}

