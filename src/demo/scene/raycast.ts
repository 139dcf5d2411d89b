/**
 * CPU ray caster of the demo scene: analytic ray/room, ray/box and ray/sphere intersections, then
 * the procedural shading of world.ts. Two cameras use it: the exo pinhole (depth +
 * RGB; the static room is cast once and each frame re-casts only the pixels the ball can touch)
 * and the ego fisheye (the camera walks, so every frame is cast in full through a per-pixel ray
 * table solved once from the renderer's fisheye model).
 */
import { transformPoint, unprojectFisheyeView, projectFisheyeView, type EgoCalibration, type Pinhole } from '../../recon/cameras.ts';
import { ballInfluenceBox, BOXES, ROOM, shadePoint, SURFACE, type BallState } from './world.ts';

/** Hit record written by castRay: [t, r, g, b], t along the (unnormalised) ray direction. */
export type RayResult = Float64Array;

const EPS = 1e-9;
const shadeScratch = new Float64Array(3);

/** Box bounds flattened [minx, miny, minz, maxx, maxy, maxz] per box: the inner loop reads only numbers. */
const BOX_BOUNDS = Float64Array.from(BOXES.flatMap((b) => [...b.min, ...b.max]));
const BOX_TOP = Int32Array.from(BOXES.map((b) => b.top));
const BOX_SIDE = Int32Array.from(BOXES.map((b) => b.side));
const ROOM_MIN_X = ROOM.min[0];
const ROOM_MIN_Y = ROOM.min[1];
const ROOM_MIN_Z = ROOM.min[2];
const ROOM_MAX_X = ROOM.max[0];
const ROOM_MAX_Y = ROOM.max[1];
const ROOM_MAX_Z = ROOM.max[2];

/**
 * Casts the ray o + t d (t > 0) through the scene; writes [t, r, g, b] (linear RGB in [0, 1]).
 * `angle` is the angular size of a pixel (radians) for texture filtering. Rays start inside the
 * room, so they always hit something.
 */
export function castRay(
  ox: number, oy: number, oz: number,
  dx: number, dy: number, dz: number,
  ball: BallState | null,
  angle: number,
  seed: number,
  out: RayResult,
): RayResult {
  // Room: the ray leaves the interior through the nearest of the three facing planes.
  let t = Infinity;
  let surf = -1;
  let nx = 0;
  let ny = 0;
  let nz = 0;
  if (dx > 0) { t = (ROOM_MAX_X - ox) / dx; surf = SURFACE.WALL_X_MAX; nx = -1; }
  else if (dx < 0) { t = (ROOM_MIN_X - ox) / dx; surf = SURFACE.WALL_X_MIN; nx = 1; }
  if (dy !== 0) {
    const ty = dy > 0 ? (ROOM_MAX_Y - oy) / dy : (ROOM_MIN_Y - oy) / dy;
    if (ty < t) { t = ty; surf = dy > 0 ? SURFACE.WALL_Y_MAX : SURFACE.WALL_Y_MIN; nx = 0; ny = dy > 0 ? -1 : 1; nz = 0; }
  }
  if (dz !== 0) {
    const tz = dz > 0 ? (ROOM_MAX_Z - oz) / dz : (ROOM_MIN_Z - oz) / dz;
    if (tz < t) { t = tz; surf = dz > 0 ? SURFACE.CEILING : SURFACE.FLOOR; nx = 0; ny = 0; nz = dz > 0 ? -1 : 1; }
  }
  // Boxes: slab test; the face hit is the plane where the ray enters. A zero direction
  // component gives +-Infinity slab bounds (or NaN when the origin sits on the plane, which
  // the comparisons below treat as a miss), so no special case is needed.
  const ix = 1 / dx;
  const iy = 1 / dy;
  const iz = 1 / dz;
  for (let b = 0; b < BOX_TOP.length; b++) {
    const k = 6 * b;
    let x0 = (BOX_BOUNDS[k]! - ox) * ix;
    let x1 = (BOX_BOUNDS[k + 3]! - ox) * ix;
    if (x0 > x1) { const s = x0; x0 = x1; x1 = s; }
    let y0 = (BOX_BOUNDS[k + 1]! - oy) * iy;
    let y1 = (BOX_BOUNDS[k + 4]! - oy) * iy;
    if (y0 > y1) { const s = y0; y0 = y1; y1 = s; }
    let z0 = (BOX_BOUNDS[k + 2]! - oz) * iz;
    let z1 = (BOX_BOUNDS[k + 5]! - oz) * iz;
    if (z0 > z1) { const s = z0; z0 = z1; z1 = s; }
    const near = x0 > y0 ? (x0 > z0 ? x0 : z0) : y0 > z0 ? y0 : z0;
    const far = x1 < y1 ? (x1 < z1 ? x1 : z1) : y1 < z1 ? y1 : z1;
    if (!(near <= far && near > EPS && near < t)) continue;
    t = near;
    nx = ny = nz = 0;
    if (near === x0) nx = dx > 0 ? -1 : 1;
    else if (near === y0) ny = dy > 0 ? -1 : 1;
    else nz = dz > 0 ? -1 : 1;
    surf = nz > 0 ? BOX_TOP[b]! : BOX_SIDE[b]!;
  }
  if (ball) {
    const lx = ox - ball.cx;
    const ly = oy - ball.cy;
    const lz = oz - ball.cz;
    const a = dx * dx + dy * dy + dz * dz;
    const hb = lx * dx + ly * dy + lz * dz;
    const c = lx * lx + ly * ly + lz * lz - ball.r * ball.r;
    const disc = hb * hb - a * c;
    if (disc > 0) {
      const tb = (-hb - Math.sqrt(disc)) / a;
      if (tb > EPS && tb < t) {
        t = tb;
        surf = SURFACE.BALL;
        nx = (lx + tb * dx) / ball.r;
        ny = (ly + tb * dy) / ball.r;
        nz = (lz + tb * dz) / ball.r;
      }
    }
  }
  const px = ox + t * dx;
  const py = oy + t * dy;
  const pz = oz + t * dz;
  const dl = Math.sqrt(dx * dx + dy * dy + dz * dz);
  // Footprint grows with distance and with grazing incidence (capped so floors far away blur, not vanish).
  const cosI = Math.abs(nx * dx + ny * dy + nz * dz) / dl;
  const fp = (t * dl * angle) / Math.max(cosI, 0.2);
  shadePoint(surf, px, py, pz, nx, ny, nz, fp, ball, seed, shadeScratch);
  out[0] = t;
  out[1] = shadeScratch[0]!;
  out[2] = shadeScratch[1]!;
  out[3] = shadeScratch[2]!;
  return out;
}

function toByte(x: number): number {
  return x <= 0 ? 0 : x >= 1 ? 255 : (x * 255 + 0.5) | 0;
}

// ------------------------------------------------------------------ exo pinhole

export interface ExoCameraSpec {
  /** Pinhole on the depth grid (pixel centres at integers, principal point = grid centre). */
  pinhole: Pinhole;
  /** World-to-camera 3x4 row-major, OpenCV axes. */
  w2c: ArrayLike<number>;
  depthWidth: number;
  depthHeight: number;
}

export interface ExoFrame {
  /** Metric z-depth, [depthHeight * depthWidth]. */
  depth: Float32Array;
  /** RGB24 on the whole depth grid, [depthHeight * depthWidth * 3]. */
  rgb: Uint8Array;
}

/**
 * Renders exo frames. Pixel (u, v) looks along d_cam = ((u - cx)/fx, (v - cy)/fy, 1), so the ray
 * parameter of the hit *is* the z-depth that EgoX's unprojection multiplies that ray by.
 */
export class ExoRaycaster {
  private readonly centre: Float64Array;
  private staticFrame: ExoFrame | null = null;
  private readonly hit = new Float64Array(4);

  constructor(readonly cam: ExoCameraSpec, readonly seed: number) {
    const R = cam.w2c;
    const t = [R[3]!, R[7]!, R[11]!];
    // centre = -R^T t
    this.centre = Float64Array.of(
      -(R[0]! * t[0]! + R[4]! * t[1]! + R[8]! * t[2]!),
      -(R[1]! * t[0]! + R[5]! * t[1]! + R[9]! * t[2]!),
      -(R[2]! * t[0]! + R[6]! * t[1]! + R[10]! * t[2]!),
    );
  }

  /** Casts pixels of rows [v0, v1) x cols [u0, u1) into `frame`. */
  private castRegion(frame: ExoFrame, ball: BallState | null, u0: number, u1: number, v0: number, v1: number): void {
    const { pinhole: k, w2c: R, depthWidth: W } = this.cam;
    const ox = this.centre[0]!;
    const oy = this.centre[1]!;
    const oz = this.centre[2]!;
    const angle = 1 / k.fx;
    const hit = this.hit;
    for (let v = v0; v < v1; v++) {
      const b = (v - k.cy) / k.fy;
      for (let u = u0; u < u1; u++) {
        const a = (u - k.cx) / k.fx;
        // d_world = R^T (a, b, 1)
        const dx = R[0]! * a + R[4]! * b + R[8]!;
        const dy = R[1]! * a + R[5]! * b + R[9]!;
        const dz = R[2]! * a + R[6]! * b + R[10]!;
        castRay(ox, oy, oz, dx, dy, dz, ball, angle, this.seed, hit);
        const i = v * W + u;
        frame.depth[i] = hit[0]!;
        frame.rgb[3 * i] = toByte(hit[1]!);
        frame.rgb[3 * i + 1] = toByte(hit[2]!);
        frame.rgb[3 * i + 2] = toByte(hit[3]!);
      }
    }
  }

  /** The room without the ball, cast once and reused by every frame. */
  private background(): ExoFrame {
    if (!this.staticFrame) {
      const { depthWidth: W, depthHeight: H } = this.cam;
      const f: ExoFrame = { depth: new Float32Array(W * H), rgb: new Uint8Array(W * H * 3) };
      this.castRegion(f, null, 0, W, 0, H);
      this.staticFrame = f;
    }
    return this.staticFrame;
  }

  /** Pixel rectangle [u0, u1) x [v0, v1) that can differ from the background with this ball. */
  dynamicRegion(ball: BallState): { u0: number; u1: number; v0: number; v1: number } {
    const { pinhole: k, w2c, depthWidth: W, depthHeight: H } = this.cam;
    const box = ballInfluenceBox(ball);
    let uMin = Infinity;
    let uMax = -Infinity;
    let vMin = Infinity;
    let vMax = -Infinity;
    const p = new Float64Array(3);
    for (let c = 0; c < 8; c++) {
      transformPoint(w2c, c & 1 ? box.max[0] : box.min[0], c & 2 ? box.max[1] : box.min[1], c & 4 ? box.max[2] : box.min[2], p);
      // A corner behind (or at) the camera: the box may cover anything.
      if (!(p[2]! > 1e-3)) return { u0: 0, u1: W, v0: 0, v1: H };
      const u = k.fx * (p[0]! / p[2]!) + k.cx;
      const v = k.fy * (p[1]! / p[2]!) + k.cy;
      uMin = Math.min(uMin, u);
      uMax = Math.max(uMax, u);
      vMin = Math.min(vMin, v);
      vMax = Math.max(vMax, v);
    }
    const clamp = (x: number, hi: number): number => Math.min(hi, Math.max(0, x));
    return {
      u0: clamp(Math.floor(uMin) - 1, W),
      u1: clamp(Math.ceil(uMax) + 2, W),
      v0: clamp(Math.floor(vMin) - 1, H),
      v1: clamp(Math.ceil(vMax) + 2, H),
    };
  }

  /** One frame with the ball where it is (fresh arrays, safe to keep). */
  frame(ball: BallState): ExoFrame {
    const bg = this.background();
    const f: ExoFrame = { depth: bg.depth.slice(), rgb: bg.rgb.slice() };
    const r = this.dynamicRegion(ball);
    if (r.u1 > r.u0 && r.v1 > r.v0) this.castRegion(f, ball, r.u0, r.u1, r.v0, r.v1);
    return f;
  }

  /** Every pixel cast with the ball (no background reuse): the reference the fast path must equal. */
  frameFull(ball: BallState): ExoFrame {
    const { depthWidth: W, depthHeight: H } = this.cam;
    const f: ExoFrame = { depth: new Float32Array(W * H), rgb: new Uint8Array(W * H * 3) };
    this.castRegion(f, ball, 0, W, 0, H);
    return f;
  }
}

// ------------------------------------------------------------------ ego fisheye

/** Largest ray angle from the optical axis drawn in the ego view (beyond: black, as the lens vignette). */
const EGO_MAX_THETA = (89 * Math.PI) / 180;

const rayTables = new Map<string, Float64Array>();

/**
 * Unit view-frame rays of every pixel of the square fisheye image, NaN in X outside the lens
 * (theta beyond EGO_MAX_THETA). Solving the lens inverse is the costly part, so tables are cached.
 */
function egoRayTable(c: EgoCalibration, size: number): Float64Array {
  const key = JSON.stringify([c, size]);
  const cached = rayTables.get(key);
  if (cached) return cached;
  // Pixel radius of the lens edge (max over a few directions, plus margin): beyond it no pixel can
  // be valid, and Newton there would only burn iterations.
  const axis = projectFisheyeView(c, 0, 0, 1, size);
  let edge = 0;
  for (let k = 0; k < 16; k++) {
    const phi = (k * Math.PI) / 8;
    const s = Math.sin(EGO_MAX_THETA);
    const e = projectFisheyeView(c, s * Math.cos(phi), s * Math.sin(phi), Math.cos(EGO_MAX_THETA), size);
    edge = Math.max(edge, Math.hypot(e.row - axis.row, e.col - axis.col));
  }
  edge += 3;
  const rays = new Float64Array(3 * size * size).fill(NaN);
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      if (Math.hypot(row - axis.row, col - axis.col) > edge) continue;
      const r = unprojectFisheyeView(c, row, col, size);
      // Keep rays the forward model maps back onto this pixel (Newton converged on the monotonic
      // part of the lens curve) and that are inside the drawn cone.
      const theta = Math.acos(Math.min(1, r[2]!));
      const back = projectFisheyeView(c, r[0]!, r[1]!, r[2]!, size);
      if (!(theta < EGO_MAX_THETA && Math.abs(back.row - row) < 1e-3 && Math.abs(back.col - col) < 1e-3)) continue;
      const i = 3 * (row * size + col);
      rays[i] = r[0]!;
      rays[i + 1] = r[1]!;
      rays[i + 2] = r[2]!;
    }
  }
  rayTables.set(key, rays);
  return rays;
}

/**
 * Renders the ego view through the renderer's fisheye model (B.4), in the rolled (upright)
 * orientation of the ego prior, so ground-truth pixel (row, col) matches prior pixel (row, col).
 */
export class EgoRaycaster {
  /** Unit rays in the rolled view frame (X left, Y up, Z forward) per pixel; NaN = outside the lens. */
  private readonly rays: Float64Array;
  private readonly hit = new Float64Array(4);
  private readonly angle: number;

  constructor(readonly calibration: EgoCalibration, readonly size: number, readonly seed: number) {
    this.rays = egoRayTable(calibration, size);
    this.angle = 1 / calibration.f;
  }

  /** RGB24 [size * size * 3] of the ego view from the native (sideways Aria) world-to-camera 3x4. */
  frame(w2c: ArrayLike<number>, ball: BallState | null): Uint8Array {
    const S = this.size;
    const out = new Uint8Array(S * S * 3);
    const R = w2c;
    const tx = R[3]!;
    const ty = R[7]!;
    const tz = R[11]!;
    const ox = -(R[0]! * tx + R[4]! * ty + R[8]! * tz);
    const oy = -(R[1]! * tx + R[5]! * ty + R[9]! * tz);
    const oz = -(R[2]! * tx + R[6]! * ty + R[10]! * tz);
    const hit = this.hit;
    for (let p = 0; p < S * S; p++) {
      const X = this.rays[3 * p]!;
      if (Number.isNaN(X)) continue;
      const Y = this.rays[3 * p + 1]!;
      const Z = this.rays[3 * p + 2]!;
      // Rolled view (X, Y, Z) = (y_cv, -x_cv, z_cv)  =>  camera ray (x_cv, y_cv, z_cv) = (-Y, X, Z).
      const xc = -Y;
      const yc = X;
      const dx = R[0]! * xc + R[4]! * yc + R[8]! * Z;
      const dy = R[1]! * xc + R[5]! * yc + R[9]! * Z;
      const dz = R[2]! * xc + R[6]! * yc + R[10]! * Z;
      castRay(ox, oy, oz, dx, dy, dz, ball, this.angle, this.seed, hit);
      out[3 * p] = toByte(hit[1]!);
      out[3 * p + 1] = toByte(hit[2]!);
      out[3 * p + 2] = toByte(hit[3]!);
    }
    return out;
  }
}
