// Splatting, shared pieces: the spec, tile geometry and the WGSL prologue every pass starts with.
// The passes are described in splat.ts.

import type { KernelProgram } from '../../runtime/program.ts';

export interface SplatSpec {
  width: number;
  height: number;
  /** Point radius in NDC units (5 px at 448 = 5 * 2/448). */
  radius: number;
  /** Points kept per pixel (PyTorch3D points_per_pixel; EgoX 20). */
  pointsPerPixel: number;
  /** Tile edge in pixels for binning and rasterisation (default 8). */
  tile?: number;
  /**
   * Point radius (NDC) of the z-buffer preview mode (default: `radius`). Its cost grows with the
   * pixels each point covers (two atomic passes over them), so previews use ~1.5 px.
   */
  zbufferRadius?: number;
}

/** Same layout as FISHEYE_PARAMS in src/recon/cameras.ts (kernels may not import recon). */
export const CAM_FLOATS = 32;
export const WG_POINTS = 128;
export const SCAN_WG = 256;
/** Near-black cut-off of the renderer's post-processing (B.5). */
export const BLACK_CUTOFF = 0.01;
/** World points must be finite and inside |P| < 1e6 (B.4). */
export const MAX_COORD = 1e6;

export function tileOf(spec: SplatSpec): number {
  return spec.tile ?? 8;
}

export function radiusPx(spec: SplatSpec): number {
  return (spec.radius * Math.min(spec.width, spec.height)) / 2;
}

/** Tiles per axis a point can touch: its pixel range spans at most 2*rpx + 2 pixels. */
export function tilesPerAxis(spec: SplatSpec): number {
  return Math.ceil((2 * radiusPx(spec) + 2) / tileOf(spec)) + 1;
}

export function splatTiles(spec: SplatSpec): { tx: number; ty: number; count: number } {
  const t = tileOf(spec);
  const tx = Math.ceil(spec.width / t);
  const ty = Math.ceil(spec.height / t);
  return { tx, ty, count: tx * ty };
}

/** Upper bound of list entries for N points (each point lands in at most tilesPerAxis^2 tiles). */
export function splatListCapacity(spec: SplatSpec, points: number): number {
  return Math.max(1, points * tilesPerAxis(spec) ** 2);
}

export function checkSpec(spec: SplatSpec): void {
  const { width, height, radius, pointsPerPixel } = spec;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new Error(`splat: bad size ${width}x${height}`);
  if (!(radius > 0 && radius <= 0.5)) throw new Error(`splat: radius ${radius} NDC outside (0, 0.5]`);
  if (spec.zbufferRadius !== undefined && !(spec.zbufferRadius > 0 && spec.zbufferRadius <= 0.5)) throw new Error(`splat: zbufferRadius ${spec.zbufferRadius} NDC outside (0, 0.5]`);
  if (!(Number.isInteger(pointsPerPixel) && pointsPerPixel >= 1 && pointsPerPixel <= 64)) throw new Error(`splat: pointsPerPixel ${pointsPerPixel} outside 1..64`);
}

export function specKey(spec: SplatSpec): string {
  return `${spec.width}x${spec.height}:r${spec.radius}:k${spec.pointsPerPixel}:t${tileOf(spec)}${spec.zbufferRadius !== undefined ? `:zr${spec.zbufferRadius}` : ''}`;
}

/** f32 literal that WGSL parses back to the same float. */
export function f32Lit(x: number): string {
  const v = Math.fround(x);
  const s = v.toPrecision(9);
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
}

/** Shared WGSL: constants, pixel-centre NDC and the pixel range of a point. */
export function commonWgsl(spec: SplatSpec): string {
  const m = Math.min(spec.width, spec.height);
  const { tx, ty } = splatTiles(spec);
  return `
const W: u32 = ${spec.width}u;
const H: u32 = ${spec.height}u;
const TILE: u32 = ${tileOf(spec)}u;
const TILES_X: u32 = ${tx}u;
const TILES_Y: u32 = ${ty}u;
const M: f32 = ${m}.0;
const RADIUS: f32 = ${f32Lit(spec.radius)};
const R2: f32 = ${f32Lit(spec.radius * spec.radius)};
const CAM: u32 = ${CAM_FLOATS}u;

// NDC of pixel centres (PyTorch3D, +x left, +y up).
fn pixelNdcX(j: u32) -> f32 { return f32(i32(W) - 2 * i32(j) - 1) / M; }
fn pixelNdcY(i: u32) -> f32 { return f32(i32(H) - 2 * i32(i) - 1) / M; }
${RANGE_WGSL}`;
}

/** WGSL projection through the packed fisheye camera (needs a `cam` binding). */
export const PROJECT_WGSL = `
// Projects world point p with camera c (base offset into cam[]): vec4(ndcX, ndcY, viewZ, ok).
fn project(p: vec3<f32>, c: u32) -> vec4<f32> {
  if (!(abs(p.x) < ${f32Lit(MAX_COORD)} && abs(p.y) < ${f32Lit(MAX_COORD)} && abs(p.z) < ${f32Lit(MAX_COORD)})) { return vec4<f32>(0.0); }
  let X = cam[c + 0u] * p.x + cam[c + 1u] * p.y + cam[c + 2u] * p.z + cam[c + 3u];
  let Y = cam[c + 4u] * p.x + cam[c + 5u] * p.y + cam[c + 6u] * p.z + cam[c + 7u];
  let Z = cam[c + 8u] * p.x + cam[c + 9u] * p.y + cam[c + 10u] * p.z + cam[c + 11u];
  if (!(Z > 0.0)) { return vec4<f32>(0.0); }
  let a = X / Z;
  let b = Y / Z;
  let r = sqrt(a * a + b * b);
  let th = atan(r);
  var sc = 1.0;
  if (!(r < cam[c + 28u])) { sc = th / r; }
  let t2 = th * th;
  let g = 1.0 + t2 * (cam[c + 16u] + t2 * (cam[c + 17u] + t2 * (cam[c + 18u] + t2 * (cam[c + 19u] + t2 * (cam[c + 20u] + t2 * cam[c + 21u])))));
  let xr = sc * g * a;
  let yr = sc * g * b;
  let rd2 = xr * xr + yr * yr;
  let p1 = cam[c + 22u];
  let p2 = cam[c + 23u];
  let xd = xr + p1 * (2.0 * xr * xr + rd2) + 2.0 * p2 * xr * yr + cam[c + 24u] * rd2 + cam[c + 25u] * rd2 * rd2;
  let yd = yr + p2 * (2.0 * yr * yr + rd2) + 2.0 * p1 * xr * yr + cam[c + 26u] * rd2 + cam[c + 27u] * rd2 * rd2;
  let nx = cam[c + 12u] * xd + cam[c + 13u];
  let ny = cam[c + 12u] * yd + cam[c + 14u];
  // Far off-axis points can blow up; such points cover no pixel anyway.
  if (!(abs(nx) < 1e6 && abs(ny) < 1e6)) { return vec4<f32>(0.0); }
  return vec4<f32>(nx, ny, Z, 1.0);
}
`;

/** WGSL: pixel range a point may cover. */
export const RANGE_WGSL = `
// Inclusive pixel ranges (cols.x..cols.y, rows.x..rows.y) a point at NDC (nx, ny) may cover;
// empty when lo > hi. Conservative (floor/ceil); the exact d^2 < r^2 test decides.
fn pixelRange(nx: f32, ny: f32) -> vec4<i32> {
  let jlo = clamp(floor((f32(W) - 1.0 - M * (nx + RADIUS)) * 0.5), -1.0, f32(W));
  let jhi = clamp(ceil((f32(W) - 1.0 - M * (nx - RADIUS)) * 0.5), -1.0, f32(W));
  let ilo = clamp(floor((f32(H) - 1.0 - M * (ny + RADIUS)) * 0.5), -1.0, f32(H));
  let ihi = clamp(ceil((f32(H) - 1.0 - M * (ny - RADIUS)) * 0.5), -1.0, f32(H));
  return vec4<i32>(max(i32(jlo), 0), min(i32(jhi), i32(W) - 1), max(i32(ilo), 0), min(i32(ihi), i32(H) - 1));
}
`;

export const POINT_MAIN_HEAD = `
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let i = wg * ${WG_POINTS}u + lid;
  if (i >= params.n) { return; }`;

/**
 * Pass 1: proj[i] = (ndcX, ndcY, z bits, colour word; colour 0 = no point) and, when `countTiles`,
 * tileCount[t] += 1 for every tile the point's pixel range touches.
 */

export type RasterVariant = 'presorted' | 'array';
