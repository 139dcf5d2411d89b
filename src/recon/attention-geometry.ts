/**
 * Direction tensors of EgoX's geometry-guided attention (spec D.1-D.3), computed on the CPU in
 * float64. The attention kernel later forms cos = <query dir, key dir> per token pair itself
 * (no L x L matrix); this module only produces the per-token vectors, in the official layout:
 *
 *   tokens: (frame t, row r, col c) over T x (H/2) x ((exoW + egoW)/2), cols < exoW/2 are exo.
 *   queryDirs [L, 3]:    exo tokens = pooled normalise(P_t - O_t) (the "diagonal" k = j);
 *                        ego tokens = pooled world-frame ego rays of frame t (rot90 k=-1 grid).
 *   keyDirs   [T, L, 3]: for query frame i, exo token (k, r, c) = pooled normalise(P_k - O_i);
 *                        ego tokens = 0.
 * Pooled vectors are 1x2x2 averages of unit vectors and are NOT renormalised; by default they are
 * rounded through bf16 as the official code does before the matmul.
 */
import { roundThrough } from '../runtime/dtype.ts';
import { ARIA_DISTORTION_12, cameraCentre, invert4x4, rescaleExoIntrinsics, to4x4, type Pinhole } from './cameras.ts';
import { readDepthFrame, type EgoxTakeWithDepth } from '../io/meta.ts';
import { undistortPointsOpenCV } from './undistort.ts';

/** Latent grid of one GGA call. The ego grid is egoW x egoW (square, rotated by rot90). */
export interface GgaGrid {
  /** Latent frames T (pixel frames 0, s, 2s, ... with s = frameStride). */
  frames: number;
  /** Latent rows H (shared by exo and ego). */
  latentH: number;
  /** Exo latent columns. */
  exoW: number;
  /** Ego latent columns (= latentH). */
  egoW: number;
}

/** EgoX: 13 latent frames, 56 rows, 98 exo + 56 ego columns (infer.py:103). */
export const EGOX_GGA_GRID: Readonly<GgaGrid> = Object.freeze({ frames: 13, latentH: 56, exoW: 98, egoW: 56 });

export interface GgaOptions {
  grid?: Partial<GgaGrid>;
  /** Round pooled vectors through bf16 like the official code (default true). */
  roundToBf16?: boolean;
  /** Pixel frames per latent frame (Wan VAE: 4). */
  frameStride?: number;
  /** Pixels per latent cell (Wan VAE: 8): exo crop = 8H x 8exoW, ego K scaled by 1/8. */
  spatialStride?: number;
  /**
   * 12 distortion numbers handed to the OpenCV-style undistortion *in OpenCV's order*; the
   * default is the Aria list in fisheye order, which is exactly the official quirk (D.1.3).
   */
  egoDistortion?: ArrayLike<number>;
}

/** Geometry inputs, independent of where they came from (meta take or synthetic test data). */
export interface GgaInputs {
  /** [H, W] of every depth map. */
  depthShape: [number, number];
  /** Metric z-depth of pixel frame `frame`, row-major [H, W]. */
  readDepth(frame: number): ArrayLike<number>;
  /** Exo K (3x3 row-major) in its native grid; rescaled to the depth grid as A.4. */
  exoIntrinsics: ArrayLike<number>;
  /** Exo world-to-camera 3x4 row-major. */
  exoExtrinsics: ArrayLike<number>;
  /** Ego K (3x3 row-major) in ego pixels (448 for EgoX). */
  egoIntrinsics: ArrayLike<number>;
  /** Ego world-to-camera 3x4 row-major, one per pixel frame. */
  egoExtrinsics: ArrayLike<number>[];
}

export interface AttentionGeometry {
  grid: GgaGrid;
  /** Token grid: T x tokenRows x tokenCols, the first exoTokenCols columns of each row are exo. */
  tokenRows: number;
  tokenCols: number;
  exoTokenCols: number;
  /** L = T * tokenRows * tokenCols. */
  tokens: number;
  /** [L, 3] float32, (t, r, c) token order. */
  queryDirs: Float32Array;
  queryShape: [number, number];
  /** [T (query frame), L, 3] float32; ego tokens are zero. */
  keyDirs: Float32Array;
  keyShape: [number, number, number];
  /** [L]: 1 for exo tokens, 0 for ego tokens. */
  isExoToken: Uint8Array;
  /** Whether the vectors went through bf16. */
  roundedToBf16: boolean;
}

/** GGA tensors of a loaded take (reads only the depth frames it needs). */
export function attentionGeometryForTake(take: EgoxTakeWithDepth, opts: GgaOptions = {}): AttentionGeometry {
  return computeAttentionGeometry(
    {
      depthShape: take.depthShape,
      readDepth: (f) => readDepthFrame(take, f),
      exoIntrinsics: take.exoIntrinsics,
      exoExtrinsics: take.exoExtrinsics,
      egoIntrinsics: take.egoIntrinsics,
      egoExtrinsics: take.egoExtrinsics,
    },
    opts,
  );
}

export function resolveGrid(opts: GgaOptions): GgaGrid {
  const g = { ...EGOX_GGA_GRID, ...(opts.grid ?? {}) };
  for (const [k, v] of Object.entries(g)) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`GGA grid: ${k} must be a positive integer, got ${v}`);
  }
  if (g.latentH % 2 || g.exoW % 2 || g.egoW % 2) throw new Error(`GGA grid: latentH, exoW, egoW must be even for 2x2 pooling, got ${g.latentH}, ${g.exoW}, ${g.egoW}`);
  if (g.egoW !== g.latentH) throw new Error(`GGA grid: egoW (${g.egoW}) must equal latentH (${g.latentH}); the ego grid is square`);
  return g;
}

export function computeAttentionGeometry(inp: GgaInputs, opts: GgaOptions = {}): AttentionGeometry {
  const grid = resolveGrid(opts);
  const fs = opts.frameStride ?? 4;
  const ss = opts.spatialStride ?? 8;
  const { frames: T, latentH: H, exoW: WX, egoW: WE } = grid;
  const lastFrame = (T - 1) * fs;
  if (inp.egoExtrinsics.length <= lastFrame) {
    throw new Error(`GGA: needs ego poses up to frame ${lastFrame}, got ${inp.egoExtrinsics.length}`);
  }

  // Per latent frame: exo world points [H, WX, 3], ego centre, ego rotation.
  const points: Float64Array[] = [];
  const centres: Float64Array[] = [];
  for (let t = 0; t < T; t++) {
    points.push(exoPointGrid(inp.readDepth(t * fs), inp.depthShape, inp.exoIntrinsics, inp.exoExtrinsics, H, WX, ss));
    centres.push(cameraCentre(inp.egoExtrinsics[t * fs]!));
  }
  const rays = egoRayGrid(inp.egoIntrinsics, opts.egoDistortion ?? ARIA_DISTORTION_12, WE, ss);

  const HT = H / 2;
  const XT = WX / 2;
  const ET = WE / 2;
  const WT = XT + ET;
  const L = T * HT * WT;
  const q = new Float64Array(L * 3);
  const keys = new Float64Array(T * L * 3);
  const isExo = new Uint8Array(L);
  const dirs = new Float64Array(H * WX * 3);

  for (let i = 0; i < T; i++) {
    const o = centres[i]!;
    const keyBase = i * L * 3;
    for (let k = 0; k < T; k++) {
      unitDirections(points[k]!, o, dirs);
      // Pool the exo half of frame k into the key tensor of query frame i.
      for (let r = 0; r < HT; r++) {
        for (let c = 0; c < XT; c++) {
          const tok = (k * HT + r) * WT + c;
          pool2x2(dirs, WX, r, c, keys, keyBase + tok * 3);
          if (k === i) {
            // Diagonal: the exo half of the queries.
            q[tok * 3] = keys[keyBase + tok * 3]!;
            q[tok * 3 + 1] = keys[keyBase + tok * 3 + 1]!;
            q[tok * 3 + 2] = keys[keyBase + tok * 3 + 2]!;
            isExo[tok] = 1;
          }
        }
      }
    }
    // Ego half of the queries: rays of frame i to world, rotated grid, pooled.
    const world = rotateRaysToWorld(rays, inp.egoExtrinsics[i * fs]!, WE);
    const rot = rot90Clockwise(world, WE);
    for (let r = 0; r < HT; r++) {
      for (let c = 0; c < ET; c++) {
        const tok = (i * HT + r) * WT + XT + c;
        pool2x2(rot, WE, r, c, q, tok * 3);
      }
    }
  }

  const roundBf16 = opts.roundToBf16 ?? true;
  const finish = (a: Float64Array): Float32Array => {
    const f = Float32Array.from(a); // f64 -> f32 (nearest), then f32 -> bf16 as torch's .to(bfloat16)
    return roundBf16 ? roundThrough(f, 'bf16') : f;
  };
  return {
    grid,
    tokenRows: HT,
    tokenCols: WT,
    exoTokenCols: XT,
    tokens: L,
    queryDirs: finish(q),
    queryShape: [L, 3],
    keyDirs: finish(keys),
    keyShape: [T, L, 3],
    isExoToken: isExo,
    roundedToBf16: roundBf16,
  };
}

/**
 * World points of the exo latent grid [outH, outW, 3] for one depth frame (D.2 steps 1-4): pixel
 * points from the A.4-rescaled pinhole, inv(E_exo), centre crop to (stride*outH, stride*outW),
 * bilinear resize with align_corners=False. Only the depth samples the resize touches are read.
 */
export function exoPointGrid(
  depth: ArrayLike<number>,
  depthShape: [number, number],
  exoK: ArrayLike<number>,
  exoE: ArrayLike<number>,
  outH: number,
  outW: number,
  stride = 8,
): Float64Array {
  const [Hd, Wd] = depthShape;
  const cropH = outH * stride;
  const cropW = outW * stride;
  if (Hd < cropH || Wd < cropW) {
    throw new Error(`GGA: depth grid ${Hd}x${Wd} is smaller than the exo crop ${cropH}x${cropW}`);
  }
  if (depth.length !== Hd * Wd) throw new Error(`GGA: depth has ${depth.length} values, expected ${Hd}x${Wd}`);
  const cam = rescaleExoIntrinsics(exoK, Wd, Hd);
  const c2w = invert4x4(to4x4(exoE));
  const r0 = Math.floor((Hd - cropH) / 2);
  const c0 = Math.floor((Wd - cropW) / 2);
  const rowsTaps = bilinearTaps(cropH, outH);
  const colsTaps = bilinearTaps(cropW, outW);
  const out = new Float64Array(outH * outW * 3);
  const p = new Float64Array(3);
  for (let i = 0; i < outH; i++) {
    const [ya, yb, wya, wyb] = rowsTaps[i]!;
    for (let j = 0; j < outW; j++) {
      const [xa, xb, wxa, wxb] = colsTaps[j]!;
      let sx = 0;
      let sy = 0;
      let sz = 0;
      // torch's order: h0 * (w0 * P00 + w1 * P01) + h1 * (w0 * P10 + w1 * P11)
      for (let a = 0; a < 2; a++) {
        const v = r0 + (a === 0 ? ya : yb);
        const wy = a === 0 ? wya : wyb;
        let tx = 0;
        let ty = 0;
        let tz = 0;
        for (let b = 0; b < 2; b++) {
          const u = c0 + (b === 0 ? xa : xb);
          const wx = b === 0 ? wxa : wxb;
          worldPoint(depth[v * Wd + u]!, u, v, cam, c2w, p);
          tx += wx * p[0]!;
          ty += wx * p[1]!;
          tz += wx * p[2]!;
        }
        sx += wy * tx;
        sy += wy * ty;
        sz += wy * tz;
      }
      const o = (i * outW + j) * 3;
      out[o] = sx;
      out[o + 1] = sy;
      out[o + 2] = sz;
    }
  }
  return out;
}

function worldPoint(d: number, u: number, v: number, cam: Pinhole, c2w: Float64Array, out: Float64Array): void {
  const x = d * ((u - cam.cx) / cam.fx);
  const y = d * ((v - cam.cy) / cam.fy);
  const z = d;
  for (let r = 0; r < 3; r++) out[r] = c2w[4 * r]! * x + c2w[4 * r + 1]! * y + c2w[4 * r + 2]! * z + c2w[4 * r + 3]!;
}

/** PyTorch bilinear (align_corners=False) source taps per output index: [i0, i1, w0, w1]. */
export function bilinearTaps(inSize: number, outSize: number): [number, number, number, number][] {
  const scale = inSize / outSize;
  const taps: [number, number, number, number][] = [];
  for (let i = 0; i < outSize; i++) {
    const src = Math.max((i + 0.5) * scale - 0.5, 0);
    const i0 = Math.floor(src);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const w1 = src - i0;
    taps.push([i0, i1, 1 - w1, w1]);
  }
  return taps;
}

/**
 * Unit camera-frame rays of the size x size ego latent grid (D.1 steps 1-4): pixel (u = col,
 * v = row) undistorted with K/stride and `distortion` read in OpenCV order. Row-major [size*size, 3].
 */
export function egoRayGrid(egoK: ArrayLike<number>, distortion: ArrayLike<number>, size: number, stride = 8): Float64Array {
  const K = { fx: egoK[0]! / stride, fy: egoK[4]! / stride, cx: egoK[2]! / stride, cy: egoK[5]! / stride };
  const pix = new Float64Array(size * size * 2);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      pix[(i * size + j) * 2] = j;
      pix[(i * size + j) * 2 + 1] = i;
    }
  }
  const n = undistortPointsOpenCV(pix, K, distortion);
  const rays = new Float64Array(size * size * 3);
  for (let p = 0; p < size * size; p++) {
    const x = n[2 * p]!;
    const y = n[2 * p + 1]!;
    const norm = Math.sqrt(x * x + y * y + 1);
    rays[3 * p] = x / norm;
    rays[3 * p + 1] = y / norm;
    rays[3 * p + 2] = 1 / norm;
  }
  return rays;
}

/** d_world = d R (row vector times the world-to-camera rotation, i.e. R^T d). */
function rotateRaysToWorld(rays: Float64Array, w2c: ArrayLike<number>, size: number): Float64Array {
  const out = new Float64Array(rays.length);
  for (let p = 0; p < size * size; p++) {
    const x = rays[3 * p]!;
    const y = rays[3 * p + 1]!;
    const z = rays[3 * p + 2]!;
    for (let c = 0; c < 3; c++) out[3 * p + c] = x * w2c[c]! + y * w2c[4 + c]! + z * w2c[8 + c]!;
  }
  return out;
}

/** torch.rot90(k=-1) of a size x size x 3 grid: new[i, j] = old[size-1-j, i]. */
export function rot90Clockwise(grid: Float64Array, size: number): Float64Array {
  const out = new Float64Array(grid.length);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      const src = ((size - 1 - j) * size + i) * 3;
      const dst = (i * size + j) * 3;
      out[dst] = grid[src]!;
      out[dst + 1] = grid[src + 1]!;
      out[dst + 2] = grid[src + 2]!;
    }
  }
  return out;
}

/** normalise(P - O) for every point of a grid. */
function unitDirections(points: Float64Array, o: Float64Array, out: Float64Array): void {
  const ox = o[0]!;
  const oy = o[1]!;
  const oz = o[2]!;
  for (let p = 0; p < points.length; p += 3) {
    const x = points[p]! - ox;
    const y = points[p + 1]! - oy;
    const z = points[p + 2]! - oz;
    const n = Math.sqrt(x * x + y * y + z * z);
    out[p] = x / n;
    out[p + 1] = y / n;
    out[p + 2] = z / n;
  }
}

/** Mean of the 2x2 block at token (r, c) of a grid with `width` columns of 3-vectors. */
function pool2x2(grid: Float64Array, width: number, r: number, c: number, out: Float64Array, o: number): void {
  const a = ((2 * r) * width + 2 * c) * 3;
  const b = a + width * 3;
  for (let ch = 0; ch < 3; ch++) {
    out[o + ch] = (grid[a + ch]! + grid[a + 3 + ch]! + grid[b + ch]! + grid[b + 3 + ch]!) / 4;
  }
}
