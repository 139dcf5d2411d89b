/**
 * The scene's up direction from its point cloud: the dominant horizontal plane (floor, or a
 * table top parallel to it; only its normal is used). RANSAC over planes through three random
 * points, keeping only planes whose normal lies within `maxTiltDeg` of a prior up direction
 * (the exo camera's up, so walls never win), scored by inlier count; the winner is refined by
 * least squares on its inliers (height over the prior's horizontal axes, h = a x + b y + c),
 * then once more on the points within a quarter of the band of that fit.
 * Too few inliers: the prior up is returned with source 'fallback'.
 */
import { cross, dot, normalize, norm, scale, sub, type Vec3 } from './vec3.ts';

export interface GroundPlane {
  /** Unit normal pointing up (same side as the prior up). */
  normal: Vec3;
  /** Plane: dot(normal, x) + offset = 0. */
  offset: number;
  /** Points within the inlier distance of the plane. */
  inliers: number;
  source: 'ransac' | 'fallback';
}

export interface GroundPlaneOptions {
  iterations?: number;
  /** Largest angle between a candidate's normal and the prior up, degrees (default 35). */
  maxTiltDeg?: number;
  /** Inlier distance; default 1% of the point cloud's bounding-box diagonal. */
  inlierDistance?: number;
  /** Smallest inlier share for a plane to be believed (default 0.05). */
  minInlierShare?: number;
  /** Seed of the candidate sampler (the result is deterministic). */
  seed?: number;
}

/** A small deterministic generator (mulberry32): same points and seed give the same plane. */
function sampler(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pointAt = (p: ArrayLike<number>, i: number): Vec3 => [p[3 * i]!, p[3 * i + 1]!, p[3 * i + 2]!];

function boundingDiagonal(p: ArrayLike<number>, n: number): number {
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      lo[c] = Math.min(lo[c]!, p[3 * i + c]!);
      hi[c] = Math.max(hi[c]!, p[3 * i + c]!);
    }
  }
  return norm(sub(hi, lo));
}

/** Points packed xyz (world coordinates); `priorUp` need not be unit length. */
export function estimateGroundPlane(points: ArrayLike<number>, priorUp: Vec3, options: GroundPlaneOptions = {}): GroundPlane {
  const up0 = normalize(priorUp);
  const n = Math.floor(points.length / 3);
  const fallback: GroundPlane = { normal: up0, offset: 0, inliers: 0, source: 'fallback' };
  if (n < 3) return fallback;
  const cosTilt = Math.cos(((options.maxTiltDeg ?? 35) * Math.PI) / 180);
  const eps = options.inlierDistance ?? 0.01 * boundingDiagonal(points, n);
  const rand = sampler(options.seed ?? 1);
  const pick = () => pointAt(points, Math.min(n - 1, Math.floor(rand() * n)));
  let best: { normal: Vec3; offset: number; inliers: number } | null = null;
  for (let it = 0; it < (options.iterations ?? 300); it++) {
    const a = pick();
    let nrm = cross(sub(pick(), a), sub(pick(), a));
    if (norm(nrm) < 1e-12) continue;
    nrm = normalize(nrm);
    if (dot(nrm, up0) < 0) nrm = scale(nrm, -1);
    if (dot(nrm, up0) < cosTilt) continue;
    const off = -dot(nrm, a);
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (Math.abs(nrm[0] * points[3 * i]! + nrm[1] * points[3 * i + 1]! + nrm[2] * points[3 * i + 2]! + off) <= eps) count++;
    }
    if (!best || count > best.inliers) best = { normal: nrm, offset: off, inliers: count };
  }
  if (!best || best.inliers < (options.minInlierShare ?? 0.05) * n) return fallback;
  // Two least-squares passes, the second on a tighter band: wall points near the floor line fall
  // inside the RANSAC band and would tilt the fit.
  const first = refine(points, n, best, eps, up0);
  return refine(points, n, first, eps / 4, up0);
}

/** Least-squares height field h = a x + b y + c over the inliers, in axes where up0 is vertical. */
function refine(points: ArrayLike<number>, n: number, plane: { normal: Vec3; offset: number; inliers: number }, eps: number, up0: Vec3): GroundPlane {
  const e1 = normalize(Math.abs(up0[0]) < 0.9 ? cross(up0, [1, 0, 0]) : cross(up0, [0, 1, 0]));
  const e2 = cross(up0, e1);
  // Normal equations of [x y 1] [a b c]^T = h.
  const M = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  const r = [0, 0, 0];
  let used = 0;
  for (let i = 0; i < n; i++) {
    const p = pointAt(points, i);
    if (Math.abs(dot(plane.normal, p) + plane.offset) > eps) continue;
    const row = [dot(p, e1), dot(p, e2), 1];
    const h = dot(p, up0);
    for (let j = 0; j < 3; j++) {
      r[j]! += row[j]! * h;
      for (let k = 0; k < 3; k++) M[3 * j + k]! += row[j]! * row[k]!;
    }
    used++;
  }
  const sol = solve3(M, r);
  if (!sol) return { ...plane, source: 'ransac' };
  const [a, b, c] = sol;
  // h - a x - b y - c = 0  =>  normal ~ up0 - a e1 - b e2.
  const raw = sub(sub(up0, scale(e1, a)), scale(e2, b));
  const len = norm(raw);
  return { normal: scale(raw, 1 / len), offset: -c / len, inliers: used, source: 'ransac' };
}

/** Solves the 3x3 system M x = r by Cramer's rule; null when singular. */
function solve3(M: number[], r: number[]): [number, number, number] | null {
  const det = (m: number[]) => m[0]! * (m[4]! * m[8]! - m[5]! * m[7]!) - m[1]! * (m[3]! * m[8]! - m[5]! * m[6]!) + m[2]! * (m[3]! * m[7]! - m[4]! * m[6]!);
  const d = det(M);
  if (Math.abs(d) < 1e-12) return null;
  const col = (k: number) => M.map((v, i) => (i % 3 === k ? r[Math.floor(i / 3)]! : v));
  return [det(col(0)) / d, det(col(1)) / d, det(col(2)) / d];
}
