/**
 * Camera models of EgoX (spec A.4, B.4, D): the exo pinhole (ViPE / infer.py conventions, no
 * pixel-centre offset), rigid world-to-camera matrices, and the renderer's Aria fisheye
 * (PyTorch3D FisheyeRadTanThinPrism applied in the 90-degree-rolled view frame, PyTorch3D NDC).
 * Matrices are row-major Float64Array; 3x4 = [R|t] world-to-camera, OpenCV axes.
 */
import { mat4 } from 'gl-matrix';
import { InputError } from '../runtime/errors.ts';

// ---------------------------------------------------------------- pinhole

export interface Pinhole {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
}

/** Pinhole from a 3x3 row-major K. */
export function pinholeFromK(k: ArrayLike<number>): Pinhole {
  return { fx: k[0]!, fy: k[4]!, cx: k[2]!, cy: k[5]! };
}

/**
 * infer.py's rescale of the exo K to the depth grid (A.4): the principal point becomes the grid
 * centre (W/2, H/2, no 0.5 offset) and each focal length scales by new/old principal point.
 */
export function rescaleExoIntrinsics(k: ArrayLike<number>, depthW: number, depthH: number): Pinhole {
  const cx = depthW / 2;
  const cy = depthH / 2;
  return { fx: k[0]! * (cx / k[2]!), fy: k[4]! * (cy / k[5]!), cx, cy };
}

/** Camera point of pixel (u = column, v = row) at z-depth `depth`; pixel centres at integers. */
export function unprojectPinhole(cam: Pinhole, u: number, v: number, depth: number, out: Float64Array = new Float64Array(3)): Float64Array {
  out[0] = depth * ((u - cam.cx) / cam.fx);
  out[1] = depth * ((v - cam.cy) / cam.fy);
  out[2] = depth;
  return out;
}

/** Pixel (u, v) and z of a camera-frame point (no culling: z <= 0 gives a meaningless pixel). */
export function projectPinhole(cam: Pinhole, x: number, y: number, z: number): { u: number; v: number; z: number } {
  return { u: cam.fx * (x / z) + cam.cx, v: cam.fy * (y / z) + cam.cy, z };
}

// ---------------------------------------------------------------- rigid transforms

/** Pads a 3x4 row-major [R|t] to 4x4 row-major with last row [0,0,0,1] (A.2). */
export function to4x4(e: ArrayLike<number>): Float64Array {
  if (e.length !== 12) throw new Error(`to4x4: expected 12 values (3x4), got ${e.length}`);
  const m = new Float64Array(16);
  for (let i = 0; i < 12; i++) m[i] = e[i]!;
  m[15] = 1;
  return m;
}

/**
 * General 4x4 inverse (row-major in, row-major out), like np.linalg.inv in infer.py. gl-matrix is
 * column-major; feeding it row-major data inverts the transpose, whose inverse read back
 * column-major is again the row-major inverse.
 */
export function invert4x4(m: ArrayLike<number>): Float64Array {
  const a = Float64Array.from(m as ArrayLike<number>);
  const out = new Float64Array(16);
  if (mat4.invert(out, a) === null) throw new Error('invert4x4: singular matrix');
  return out;
}

/** Camera centre in world = translation of inv([E; 0 0 0 1]) (infer.py:190, 208-210). */
export function cameraCentre(w2c: ArrayLike<number>): Float64Array {
  const inv = invert4x4(to4x4(w2c));
  return Float64Array.of(inv[3]!, inv[7]!, inv[11]!);
}

/** y = [R|t] * [p; 1] for a 3x4 row-major matrix. */
export function transformPoint(e: ArrayLike<number>, x: number, y: number, z: number, out: Float64Array = new Float64Array(3)): Float64Array {
  for (let r = 0; r < 3; r++) out[r] = e[4 * r]! * x + e[4 * r + 1]! * y + e[4 * r + 2]! * z + e[4 * r + 3]!;
  return out;
}

// ---------------------------------------------------------------- Aria fisheye (renderer, B.4)

/** FisheyeRadTanThinPrism parameters in pixels of the square render. */
export interface EgoCalibration {
  f: number;
  cx: number;
  cy: number;
  /** Radial theta-polynomial k1..k6. */
  k: [number, number, number, number, number, number];
  /** Tangential p1, p2. */
  p: [number, number];
  /** Thin prism s1..s4. */
  s: [number, number, number, number];
}

/** The 12 distortion numbers hard-coded in the renderer and infer.py (B.4), in [k1..k6, p1, p2, s1..s4] order. */
export const ARIA_DISTORTION_12: readonly number[] = Object.freeze([
  -0.02340373583137989, 0.09388021379709244, -0.06088035926222801, 0.0053304750472307205, 0.003342868760228157,
  -0.0006356257363222539, 0.0005087381578050554, -0.0004747129278257489, -0.0011330085108056664,
  -0.00025734835071489215, 0.00009328465239377692, 0.00009424977179151028,
]);

/** Render size of the ego prior (B.4). */
export const EGO_RENDER_SIZE = 448;

export const DEFAULT_EGO_CALIBRATION: Readonly<EgoCalibration> = Object.freeze(calibrationFrom12(150, 255.5, 255.5, ARIA_DISTORTION_12));

function calibrationFrom12(f: number, cx: number, cy: number, d: ArrayLike<number>): EgoCalibration {
  return {
    f,
    cx,
    cy,
    k: [d[0]!, d[1]!, d[2]!, d[3]!, d[4]!, d[5]!],
    p: [d[6]!, d[7]!],
    s: [d[8]!, d[9]!, d[10]!, d[11]!],
  };
}

/** Renderer default path: f = K[0][0], (cx, cy) = (K[0][2], K[1][2]) of ego_intrinsics, default distortion. */
export function egoCalibrationFromK(k: ArrayLike<number>): EgoCalibration {
  return calibrationFrom12(k[0]!, k[2]!, k[5]!, ARIA_DISTORTION_12);
}

/** Bad `--ego-calibration` string. */
export class EgoCalibrationError extends InputError {}

/**
 * Parses the CLI string `f,cx,cy[,k1..k6,p1,p2,s1..s4]` (3 or 15 comma-separated numbers, in
 * pixels of the 448x448 render). 3 numbers keep the default Aria distortion.
 */
export function parseEgoCalibration(text: string, option = '--ego-calibration'): EgoCalibration {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length !== 3 && parts.length !== 15) {
    throw new EgoCalibrationError(`${option}: expected 3 numbers (f,cx,cy) or 15 (f,cx,cy,k1..k6,p1,p2,s1..s4), got ${parts.length} in '${text}'`);
  }
  const nums = parts.map((s, i) => {
    const x = s === '' ? NaN : Number(s);
    if (!Number.isFinite(x)) throw new EgoCalibrationError(`${option}: value ${i + 1} '${s}' is not a finite number (in '${text}')`);
    return x;
  });
  if (nums[0]! <= 0) throw new EgoCalibrationError(`${option}: focal length f must be > 0, got ${nums[0]}`);
  return calibrationFrom12(nums[0]!, nums[1]!, nums[2]!, parts.length === 15 ? nums.slice(3) : ARIA_DISTORTION_12);
}

/**
 * Ego view frame of a world point (B.4): with (x, y, z) = R_cv p + t_cv, PyTorch3D's view point
 * is (y, -x, z), the 90-degree roll the renderer applies to the sideways Aria sensor.
 */
export function worldToEgoView(w2c: ArrayLike<number>, x: number, y: number, z: number, out: Float64Array = new Float64Array(3)): Float64Array {
  const xc = w2c[0]! * x + w2c[1]! * y + w2c[2]! * z + w2c[3]!;
  const yc = w2c[4]! * x + w2c[5]! * y + w2c[6]! * z + w2c[7]!;
  const zc = w2c[8]! * x + w2c[9]! * y + w2c[10]! * z + w2c[11]!;
  out[0] = yc;
  out[1] = -xc;
  out[2] = zc;
  return out;
}

/** Result of a fisheye projection: continuous pixel (row, col), pixel centres at integers. */
export interface FisheyePixel {
  row: number;
  col: number;
  /** View-frame z (the rasteriser's depth). */
  z: number;
  /** NDC (+x left, +y up). */
  ndcX: number;
  ndcY: number;
  /** z <= 0: the rasteriser would skip the point; row/col are then meaningless. */
  culled: boolean;
}

/** Radius below which theta/r is taken as 1 (PyTorch3D's guard). */
export const FISHEYE_SMALL_R = 1e-10;

/** Distorts normalised view coordinates (a, b) = (X/Z, Y/Z) into the un-scaled image plane. */
export function fisheyeDistort(c: EgoCalibration, a: number, b: number): [number, number] {
  const r = Math.sqrt(a * a + b * b);
  const th = Math.atan(r);
  const scale = r < FISHEYE_SMALL_R ? 1 : th / r;
  const t2 = th * th;
  // g = 1 + sum_i k_i theta^(2i), Horner in theta^2
  let g = c.k[5];
  for (let i = 4; i >= 0; i--) g = g * t2 + c.k[i]!;
  g = 1 + g * t2;
  const xr = scale * g * a;
  const yr = scale * g * b;
  const rd2 = xr * xr + yr * yr;
  let x = xr + c.p[0] * (2 * xr * xr + rd2) + 2 * c.p[1] * xr * yr;
  let y = yr + c.p[1] * (2 * yr * yr + rd2) + 2 * c.p[0] * xr * yr;
  x += c.s[0] * rd2 + c.s[1] * rd2 * rd2;
  y += c.s[2] * rd2 + c.s[3] * rd2 * rd2;
  return [x, y];
}

/** NDC parameters (B.4): f_ndc = 2f/S, cx_ndc = 2cx/S - 1, cy_ndc = 1 - 2cy/S. */
export function fisheyeNdc(c: EgoCalibration, size = EGO_RENDER_SIZE): { f: number; cx: number; cy: number } {
  return { f: (2 * c.f) / size, cx: (2 * c.cx) / size - 1, cy: 1 - (2 * c.cy) / size };
}

/** PyTorch3D pixel centre (row i, col j) sits at NDC (1 - (2j+1)/S, 1 - (2i+1)/S). */
export function ndcToPixel(ndcX: number, ndcY: number, size = EGO_RENDER_SIZE): { row: number; col: number } {
  return { col: ((1 - ndcX) * size - 1) / 2, row: ((1 - ndcY) * size - 1) / 2 };
}

export function pixelToNdc(row: number, col: number, size = EGO_RENDER_SIZE): { ndcX: number; ndcY: number } {
  return { ndcX: 1 - (2 * col + 1) / size, ndcY: 1 - (2 * row + 1) / size };
}

/** Projects a point given in the ego view frame (X, Y, Z) to the square render. */
export function projectFisheyeView(c: EgoCalibration, X: number, Y: number, Z: number, size = EGO_RENDER_SIZE): FisheyePixel {
  const n = fisheyeNdc(c, size);
  const [x, y] = fisheyeDistort(c, X / Z, Y / Z);
  const ndcX = n.f * x + n.cx;
  const ndcY = n.f * y + n.cy;
  const { row, col } = ndcToPixel(ndcX, ndcY, size);
  return { row, col, z: Z, ndcX, ndcY, culled: !(Z > 0) };
}

/** Projects a world point through an ego world-to-camera 3x4 (OpenCV) with the renderer's model. */
export function projectFisheye(c: EgoCalibration, w2c: ArrayLike<number>, x: number, y: number, z: number, size = EGO_RENDER_SIZE): FisheyePixel {
  const v = worldToEgoView(w2c, x, y, z);
  return projectFisheyeView(c, v[0]!, v[1]!, v[2]!, size);
}

/**
 * Inverse of fisheyeDistort: solves for q = (theta/r)(a, b) by Newton's method (|q| = theta), then
 * returns the unit view-frame ray (sin(theta) q/|q|, cos(theta)). Valid for theta < pi/2.
 */
export function unprojectFisheyeView(c: EgoCalibration, row: number, col: number, size = EGO_RENDER_SIZE): Float64Array {
  const n = fisheyeNdc(c, size);
  const { ndcX, ndcY } = pixelToNdc(row, col, size);
  const tx = (ndcX - n.cx) / n.f;
  const ty = (ndcY - n.cy) / n.f;
  // Forward map in q: x_r = g(|q|) q, then tangential + prism on x_r.
  const fwd = (qx: number, qy: number): [number, number] => {
    const th = Math.sqrt(qx * qx + qy * qy);
    const t2 = th * th;
    let g = c.k[5];
    for (let i = 4; i >= 0; i--) g = g * t2 + c.k[i]!;
    g = 1 + g * t2;
    const xr = g * qx;
    const yr = g * qy;
    const rd2 = xr * xr + yr * yr;
    return [
      xr + c.p[0] * (2 * xr * xr + rd2) + 2 * c.p[1] * xr * yr + c.s[0] * rd2 + c.s[1] * rd2 * rd2,
      yr + c.p[1] * (2 * yr * yr + rd2) + 2 * c.p[0] * xr * yr + c.s[2] * rd2 + c.s[3] * rd2 * rd2,
    ];
  };
  let qx = tx;
  let qy = ty;
  const h = 1e-7;
  for (let it = 0; it < 50; it++) {
    const [fx, fy] = fwd(qx, qy);
    const ex = fx - tx;
    const ey = fy - ty;
    if (Math.abs(ex) + Math.abs(ey) < 1e-15) break;
    // Central-difference Jacobian: the map is smooth and 2x2, so this is accurate and simple.
    const [ax1, ay1] = fwd(qx + h, qy);
    const [ax0, ay0] = fwd(qx - h, qy);
    const [bx1, by1] = fwd(qx, qy + h);
    const [bx0, by0] = fwd(qx, qy - h);
    const j00 = (ax1 - ax0) / (2 * h);
    const j10 = (ay1 - ay0) / (2 * h);
    const j01 = (bx1 - bx0) / (2 * h);
    const j11 = (by1 - by0) / (2 * h);
    const det = j00 * j11 - j01 * j10;
    qx -= (j11 * ex - j01 * ey) / det;
    qy -= (-j10 * ex + j00 * ey) / det;
  }
  const th = Math.sqrt(qx * qx + qy * qy);
  const out = new Float64Array(3);
  if (th < FISHEYE_SMALL_R) {
    out[2] = 1;
    return out;
  }
  const s = Math.sin(th) / th;
  out[0] = s * qx;
  out[1] = s * qy;
  out[2] = Math.cos(th);
  return out;
}

// ---------------------------------------------------------------- packed params for GPU kernels

/**
 * Float layout of `packFisheyeParams` (32 floats = 8 vec4<f32>, WGSL-friendly). A kernel mirrors
 * `projectFisheyePacked` below:
 *   [0..11]  rows of the *rolled* world-to-view 3x4 (row0 = R_cv row1, row1 = -R_cv row0, row2 = R_cv row2, each [r0 r1 r2 t])
 *   [12] f_ndc  [13] cx_ndc  [14] cy_ndc  [15] size (pixels of the square render)
 *   [16..21] k1..k6  [22] p1  [23] p2  [24..27] s1..s4  [28] small-r guard (1e-10)  [29..31] 0
 */
export const FISHEYE_PARAMS = Object.freeze({
  FLOATS: 32,
  VIEW: 0,
  F_NDC: 12,
  CX_NDC: 13,
  CY_NDC: 14,
  SIZE: 15,
  K: 16,
  P: 22,
  S: 24,
  SMALL_R: 28,
});

/** Packs the fisheye camera of one frame (calibration + ego world-to-camera 3x4) for a kernel. */
export function packFisheyeParams(c: EgoCalibration, w2c: ArrayLike<number>, size = EGO_RENDER_SIZE, out: Float32Array = new Float32Array(FISHEYE_PARAMS.FLOATS)): Float32Array {
  const P = FISHEYE_PARAMS;
  for (let j = 0; j < 4; j++) {
    out[P.VIEW + j] = w2c[4 + j]!;
    out[P.VIEW + 4 + j] = -w2c[j]!;
    out[P.VIEW + 8 + j] = w2c[8 + j]!;
  }
  const n = fisheyeNdc(c, size);
  out[P.F_NDC] = n.f;
  out[P.CX_NDC] = n.cx;
  out[P.CY_NDC] = n.cy;
  out[P.SIZE] = size;
  for (let i = 0; i < 6; i++) out[P.K + i] = c.k[i]!;
  out[P.P] = c.p[0];
  out[P.P + 1] = c.p[1];
  for (let i = 0; i < 4; i++) out[P.S + i] = c.s[i]!;
  out[P.SMALL_R] = FISHEYE_SMALL_R;
  out[29] = out[30] = out[31] = 0;
  return out;
}

/**
 * The projection exactly as a kernel computes it from packed params, step by step; arithmetic
 * is in float64 here (a float32 kernel differs by rounding only). Returns [row, col, z, culled(0|1)].
 */
export function projectFisheyePacked(prm: ArrayLike<number>, x: number, y: number, z: number, out: Float64Array = new Float64Array(4)): Float64Array {
  const P = FISHEYE_PARAMS;
  const V = P.VIEW;
  const X = prm[V]! * x + prm[V + 1]! * y + prm[V + 2]! * z + prm[V + 3]!;
  const Y = prm[V + 4]! * x + prm[V + 5]! * y + prm[V + 6]! * z + prm[V + 7]!;
  const Z = prm[V + 8]! * x + prm[V + 9]! * y + prm[V + 10]! * z + prm[V + 11]!;
  const a = X / Z;
  const b = Y / Z;
  const r = Math.sqrt(a * a + b * b);
  const th = Math.atan(r);
  const sc = r < prm[P.SMALL_R]! ? 1 : th / r;
  const t2 = th * th;
  const g = 1 + t2 * (prm[P.K]! + t2 * (prm[P.K + 1]! + t2 * (prm[P.K + 2]! + t2 * (prm[P.K + 3]! + t2 * (prm[P.K + 4]! + t2 * prm[P.K + 5]!)))));
  const xr = sc * g * a;
  const yr = sc * g * b;
  const rd2 = xr * xr + yr * yr;
  const p1 = prm[P.P]!;
  const p2 = prm[P.P + 1]!;
  const xd = xr + p1 * (2 * xr * xr + rd2) + 2 * p2 * xr * yr + prm[P.S]! * rd2 + prm[P.S + 1]! * rd2 * rd2;
  const yd = yr + p2 * (2 * yr * yr + rd2) + 2 * p1 * xr * yr + prm[P.S + 2]! * rd2 + prm[P.S + 3]! * rd2 * rd2;
  const nx = prm[P.F_NDC]! * xd + prm[P.CX_NDC]!;
  const ny = prm[P.F_NDC]! * yd + prm[P.CY_NDC]!;
  const S = prm[P.SIZE]!;
  out[0] = ((1 - ny) * S - 1) / 2;
  out[1] = ((1 - nx) * S - 1) / 2;
  out[2] = Z;
  out[3] = Z > 0 ? 0 : 1;
  return out;
}
