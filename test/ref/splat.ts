/**
 * Float64 CPU reference of the ego-prior rasterisation rule (spec B.4/B.5), plain loops:
 * project every point with projectFisheyePacked, keep per pixel the K nearest-in-z points (ties by
 * point index) with squared NDC distance to the pixel centre < r^2, composite front to back with
 * w = 1 - d^2/r^2 on black, clamp, near-black cut-off (< 0.01 in all channels), floor(x * 255).
 * Pixel centres: x_j = (W - 2j - 1)/m, y_i = (H - 2i - 1)/m, m = min(W, H) (PyTorch3D NDC).
 */
import { projectFisheyePacked } from '../../src/recon/cameras.ts';

export interface RefPoint {
  x: number;
  y: number;
  z: number;
  rgb: [number, number, number];
  /** Points with valid = false are skipped (empty slots of the point buffer). */
  valid: boolean;
}

export interface RefSplatOptions {
  width: number;
  height: number;
  radius: number;
  pointsPerPixel: number;
}

interface Projected {
  nx: number;
  ny: number;
  z: number;
  ok: boolean;
}

/** NDC of a projected point, recovered from projectFisheyePacked's pixel output. */
function projectAll(points: RefPoint[], cam: ArrayLike<number>): Projected[] {
  const P = new Float64Array(4);
  // projectFisheyePacked returns pixel coordinates on a square of cam[15] pixels; undo that
  // mapping (exact in float64 up to rounding) to get the NDC the rasteriser compares.
  const S = cam[15]!;
  return points.map((p) => {
    const lim = 1e6;
    if (!p.valid || !(Math.abs(p.x) < lim && Math.abs(p.y) < lim && Math.abs(p.z) < lim)) return { nx: 0, ny: 0, z: 0, ok: false };
    projectFisheyePacked(cam, p.x, p.y, p.z, P);
    if (P[3] !== 0) return { nx: 0, ny: 0, z: 0, ok: false };
    const nx = 1 - (2 * P[1]! + 1) / S;
    const ny = 1 - (2 * P[0]! + 1) / S;
    return { nx, ny, z: P[2]!, ok: Number.isFinite(nx) && Number.isFinite(ny) };
  });
}

function quantise(c: number[]): [number, number, number] {
  const v = c.map((x) => Math.min(1, Math.max(0, x)));
  if (v.every((x) => x < 0.01)) return [0, 0, 0];
  return v.map((x) => Math.floor(x * 255)) as [number, number, number];
}

/** What a test exercised: pixels with more than K candidates, kept entries tied in depth with their predecessor. */
export interface RefSplatStats {
  overflowPixels: number;
  tiedNeighbours: number;
}

/**
 * Candidates (d^2 < r^2) of every pixel, found by visiting each point's pixel bounding box
 * (conservative by one pixel; the exact test decides) so the reference stays fast on 448x448.
 */
function candidates(proj: Projected[], o: RefSplatOptions): { z: number; idx: number; d2: number }[][] {
  const m = Math.min(o.width, o.height);
  const r2 = o.radius * o.radius;
  const lists: { z: number; idx: number; d2: number }[][] = Array.from({ length: o.width * o.height }, () => []);
  proj.forEach((q, idx) => {
    if (!q.ok) return;
    // pixel centre x_j = (W - 2j - 1)/m  =>  j = (W - 1 - m x)/2
    const jc = (o.width - 1 - m * q.nx) / 2;
    const ic = (o.height - 1 - m * q.ny) / 2;
    const rp = (o.radius * m) / 2 + 1;
    for (let i = Math.max(0, Math.floor(ic - rp)); i <= Math.min(o.height - 1, Math.ceil(ic + rp)); i++) {
      const py = (o.height - 2 * i - 1) / m;
      for (let j = Math.max(0, Math.floor(jc - rp)); j <= Math.min(o.width - 1, Math.ceil(jc + rp)); j++) {
        const px = (o.width - 2 * j - 1) / m;
        const d2 = (px - q.nx) ** 2 + (py - q.ny) ** 2;
        if (d2 < r2) lists[i * o.width + j]!.push({ z: q.z, idx, d2 });
      }
    }
  });
  return lists;
}

/** Composite mode: RGB24 [H*W*3]. */
export function refSplat(points: RefPoint[], cam: ArrayLike<number>, o: RefSplatOptions, stats?: RefSplatStats): Uint8Array {
  const lists = candidates(projectAll(points, cam), o);
  const r2 = o.radius * o.radius;
  const out = new Uint8Array(o.width * o.height * 3);
  for (let p = 0; p < lists.length; p++) {
    const hits = lists[p]!;
    hits.sort((a, b) => a.z - b.z || a.idx - b.idx);
    if (stats) {
      if (hits.length > o.pointsPerPixel) stats.overflowPixels++;
      for (let k = 1; k < Math.min(hits.length, o.pointsPerPixel); k++) if (hits[k]!.z === hits[k - 1]!.z) stats.tiedNeighbours++;
    }
    const c = [0, 0, 0];
    let trans = 1;
    for (const h of hits.slice(0, o.pointsPerPixel)) {
      const w = 1 - h.d2 / r2;
      const rgb = points[h.idx]!.rgb;
      for (let ch = 0; ch < 3; ch++) c[ch]! += w * trans * (rgb[ch]! / 255);
      trans *= 1 - w;
    }
    out.set(quantise(c), p * 3);
  }
  return out;
}

/**
 * Z-buffer mode: the nearest covering point's colour (ties: lowest index), near-black cut-off.
 * With `ambiguous`, marks pixels whose result hinges on float rounding: a point that is not
 * farther than the winner lies within 1e-4 of the disc edge (a float32 kernel may see it on the
 * other side; in this mode one point decides the whole colour).
 */
export function refZbuffer(points: RefPoint[], cam: ArrayLike<number>, o: RefSplatOptions, ambiguous?: Uint8Array): Uint8Array {
  const wide = { ...o, radius: o.radius * Math.sqrt(1 + 1e-4) };
  const lists = candidates(projectAll(points, cam), wide);
  const r2 = o.radius * o.radius;
  const out = new Uint8Array(o.width * o.height * 3);
  for (let p = 0; p < lists.length; p++) {
    const all = lists[p]!.sort((a, b) => a.z - b.z || a.idx - b.idx);
    const inside = all.filter((h) => h.d2 < r2);
    if (ambiguous) {
      const zWin = inside.length > 0 ? inside[0]!.z : Infinity;
      if (all.some((h) => h.z <= zWin && Math.abs(h.d2 / r2 - 1) < 1e-4)) ambiguous[p] = 1;
    }
    if (inside.length === 0) continue;
    const rgb = points[inside[0]!.idx]!.rgb;
    out.set(rgb.every((v) => v / 255 < 0.01) ? [0, 0, 0] : rgb, p * 3);
  }
  return out;
}

/** Differences between a kernel image and the reference, by kind (RGB24 pixels). */
export interface SplatDiff {
  /** Pixels with some channel off by exactly 1 (floor(x * 255) on the other side of an integer). */
  offByOne: number;
  /** Pixels on different sides of the near-black cut-off: one all zero, the other all channels <= 3. */
  cutoffFlips: number;
  /** Pixels differing any other way (a real error). */
  other: number;
}

export function diffSplat(got: Uint8Array, want: Uint8Array): SplatDiff {
  const d: SplatDiff = { offByOne: 0, cutoffFlips: 0, other: 0 };
  for (let p = 0; p < want.length; p += 3) {
    const g = [got[p]!, got[p + 1]!, got[p + 2]!];
    const w = [want[p]!, want[p + 1]!, want[p + 2]!];
    const maxAbs = Math.max(...g.map((v, c) => Math.abs(v - w[c]!)));
    if (maxAbs === 0) continue;
    const zero = (a: number[]) => a.every((v) => v === 0);
    const dim = (a: number[]) => a.every((v) => v <= 3);
    if ((zero(g) && dim(w)) || (zero(w) && dim(g))) d.cutoffFlips++;
    else if (maxAbs === 1) d.offByOne++;
    else d.other++;
  }
  return d;
}
