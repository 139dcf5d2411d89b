import { beforeAll, describe, expect, it } from 'vitest';
import {
  EGOX_GGA_GRID,
  attentionGeometryForTake,
  bilinearTaps,
  computeAttentionGeometry,
  exoPointGrid,
  rot90Clockwise,
  type AttentionGeometry,
} from '../../src/recon/attention-geometry.ts';
import { cameraCentre } from '../../src/recon/cameras.ts';
import { loadEgoxTake, readDepthFrame, type EgoxTakeWithDepth } from '../../src/io/meta.ts';
import { META, loadGolden, maxAbsDiff } from './golden.ts';

const SOCCER = 'cmu_soccer06_6_877_925';
const COOKING = 'iiith_cooking_57_2_2451_2499';
const TOL = 1e-5;

function keyFrame(g: AttentionGeometry, i: number): Float32Array {
  const n = g.tokens * 3;
  return g.keyDirs.subarray(i * n, (i + 1) * n);
}

function report(label: string, err: number): number {
  console.log(`${label}: max abs err ${err.toExponential(2)}`);
  return err;
}

describe('GGA direction tensors vs gga_reference.py on the real soccer take', () => {
  let take: EgoxTakeWithDepth;
  let bf: AttentionGeometry;
  let f32: AttentionGeometry;
  const gold = loadGolden('gga_soccer');
  beforeAll(() => {
    take = loadEgoxTake(META, SOCCER);
    bf = attentionGeometryForTake(take);
    f32 = attentionGeometryForTake(take, { roundToBf16: false });
  });

  it('layout: 13x28x77 tokens, exo columns 0..48, ego keys zero', () => {
    expect(bf.grid).toEqual(EGOX_GGA_GRID);
    expect([bf.tokenRows, bf.tokenCols, bf.exoTokenCols, bf.tokens]).toEqual([28, 77, 49, 28028]);
    expect(bf.queryShape).toEqual([28028, 3]);
    expect(bf.keyShape).toEqual([13, 28028, 3]);
    expect(bf.queryDirs.length).toBe(28028 * 3);
    expect(bf.keyDirs.length).toBe(13 * 28028 * 3);
    let exo = 0;
    for (let t = 0; t < bf.tokens; t++) {
      const col = t % 77;
      expect(bf.isExoToken[t]).toBe(col < 49 ? 1 : 0);
      exo += bf.isExoToken[t]!;
    }
    expect(exo).toBe(13 * 28 * 49);
    let egoKeyMax = 0;
    let exoKeyMin = Infinity;
    for (let i = 0; i < 13; i++) {
      const k = keyFrame(bf, i);
      for (let t = 0; t < bf.tokens; t++) {
        const n = Math.hypot(k[3 * t]!, k[3 * t + 1]!, k[3 * t + 2]!);
        if (bf.isExoToken[t]) exoKeyMin = Math.min(exoKeyMin, n);
        else egoKeyMax = Math.max(egoKeyMax, n);
      }
    }
    expect(egoKeyMax).toBe(0);
    expect(exoKeyMin).toBeGreaterThan(0);
    // Pooled means of unit vectors: not renormalised, |v| <= 1 (+ bf16 rounding).
    for (let t = 0; t < bf.tokens; t++) {
      expect(Math.hypot(bf.queryDirs[3 * t]!, bf.queryDirs[3 * t + 1]!, bf.queryDirs[3 * t + 2]!)).toBeLessThanOrEqual(1.01);
    }
  });

  it('bf16 (default): queries and key frames 0, 6, 12', () => {
    expect(bf.roundedToBf16).toBe(true);
    expect(report('soccer query bf16', maxAbsDiff(bf.queryDirs, gold.get('query_bf16').data))).toBeLessThanOrEqual(TOL);
    for (const i of [0, 6, 12]) {
      expect(report(`soccer key${i} bf16`, maxAbsDiff(keyFrame(bf, i), gold.get(`key${i}_bf16`).data))).toBeLessThanOrEqual(TOL);
    }
  });

  it('float32 (roundToBf16: false): queries and key frame 6', () => {
    expect(f32.roundedToBf16).toBe(false);
    expect(report('soccer query f32', maxAbsDiff(f32.queryDirs, gold.get('query_f32').data))).toBeLessThanOrEqual(TOL);
    expect(report('soccer key6 f32', maxAbsDiff(keyFrame(f32, 6), gold.get('key6_f32').data))).toBeLessThanOrEqual(TOL);
    // The bf16 rounding is real: the two options differ by up to half a bf16 ulp (2^-9 near 1).
    const d = maxAbsDiff(f32.queryDirs, bf.queryDirs);
    expect(d).toBeGreaterThan(1e-4);
    expect(d).toBeLessThanOrEqual(2 ** -9);
  });

  it('exo query half is the diagonal of the keys (query frame = exo frame)', () => {
    for (const i of [0, 5, 12]) {
      const k = keyFrame(bf, i);
      for (let r = 0; r < 28; r++) {
        for (let c = 0; c < 49; c++) {
          const t = (i * 28 + r) * 77 + c;
          expect([k[3 * t], k[3 * t + 1], k[3 * t + 2]]).toEqual([bf.queryDirs[3 * t], bf.queryDirs[3 * t + 1], bf.queryDirs[3 * t + 2]]);
        }
      }
    }
  });

  it('intermediates: exo world points of frame 0 and the ego centres', () => {
    const pts = exoPointGrid(readDepthFrame(take, 0), take.depthShape, take.exoIntrinsics, take.exoExtrinsics, 56, 98);
    expect(report('soccer exo points frame 0 (metres)', maxAbsDiff(pts, gold.get('points0_f64').data))).toBeLessThanOrEqual(1e-12);
    const centres = gold.get('centres_f64').data;
    for (let j = 0; j < 13; j++) {
      expect(maxAbsDiff(cameraCentre(take.egoExtrinsics[4 * j]!), centres.subarray(3 * j, 3 * j + 3))).toBeLessThanOrEqual(1e-12);
    }
  });
});

describe('GGA on the real cooking take', () => {
  it('bf16 queries and key frame 12', () => {
    const gold = loadGolden('gga_cooking');
    const g = attentionGeometryForTake(loadEgoxTake(META, COOKING));
    expect(report('cooking query bf16', maxAbsDiff(g.queryDirs, gold.get('query_bf16').data))).toBeLessThanOrEqual(TOL);
    expect(report('cooking key12 bf16', maxAbsDiff(keyFrame(g, 12), gold.get('key12_bf16').data))).toBeLessThanOrEqual(TOL);
  });
});

describe('GGA with a small grid (parametrised path) on real depth', () => {
  it('4 frames, 8 rows, 12 exo + 8 ego columns: all keys, both roundings', () => {
    const gold = loadGolden('gga_soccer_small');
    const take = loadEgoxTake(META, SOCCER);
    const grid = { frames: 4, latentH: 8, exoW: 12, egoW: 8 };
    const bf = attentionGeometryForTake(take, { grid });
    const f32 = attentionGeometryForTake(take, { grid, roundToBf16: false });
    expect(bf.tokens).toBe(4 * 4 * 10);
    expect(maxAbsDiff(bf.queryDirs, gold.get('query_bf16').data)).toBeLessThanOrEqual(TOL);
    expect(maxAbsDiff(f32.queryDirs, gold.get('query_f32').data)).toBeLessThanOrEqual(TOL);
    for (let i = 0; i < 4; i++) {
      expect(maxAbsDiff(keyFrame(bf, i), gold.get(`key${i}_bf16`).data)).toBeLessThanOrEqual(TOL);
      expect(maxAbsDiff(keyFrame(f32, i), gold.get(`key${i}_f32`).data)).toBeLessThanOrEqual(TOL);
    }
    const pts = exoPointGrid(readDepthFrame(take, 0), take.depthShape, take.exoIntrinsics, take.exoExtrinsics, 8, 12);
    expect(maxAbsDiff(pts, gold.get('points0_f64').data)).toBeLessThanOrEqual(1e-12);
  });

  it('rejects grids the official layout cannot have', () => {
    const take = { depthShape: [64, 96] as [number, number], readDepth: () => new Float32Array(64 * 96).fill(2), exoIntrinsics: [100, 0, 48, 0, 100, 32, 0, 0, 1], exoExtrinsics: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0], egoIntrinsics: [150, 0, 255.5, 0, 150, 255.5, 0, 0, 1], egoExtrinsics: Array.from({ length: 5 }, () => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 5]) };
    expect(() => computeAttentionGeometry(take, { grid: { frames: 2, latentH: 8, exoW: 12, egoW: 6 } })).toThrow(/square/);
    expect(() => computeAttentionGeometry(take, { grid: { frames: 2, latentH: 7, exoW: 12, egoW: 7 } })).toThrow(/even/);
    expect(() => computeAttentionGeometry(take, { grid: { frames: 3, latentH: 8, exoW: 12, egoW: 8 } })).toThrow(/ego poses up to frame 8/);
    expect(() => computeAttentionGeometry(take, { grid: { frames: 2, latentH: 8, exoW: 14, egoW: 8 } })).toThrow(/smaller than the exo crop/);
    const ok = computeAttentionGeometry(take, { grid: { frames: 2, latentH: 8, exoW: 12, egoW: 8 } });
    expect(ok.tokens).toBe(2 * 4 * 10);
  });
});

describe('GGA building blocks', () => {
  it('bilinear taps: exact x1/8 downsample samples 8i+3.5 (two taps, weight 1/2)', () => {
    const taps = bilinearTaps(448, 56);
    expect(taps[0]).toEqual([3, 4, 0.5, 0.5]);
    expect(taps[55]).toEqual([443, 444, 0.5, 0.5]);
    // Upsampling clamps the source at 0 and at the last row, as torch does.
    expect(bilinearTaps(4, 8)[0]).toEqual([0, 1, 1, 0]);
    expect(bilinearTaps(4, 8)[7]).toEqual([3, 3, 0.75, 0.25]);
  });

  it('rot90Clockwise is torch.rot90(k=-1): new[i, j] = old[n-1-j, i]', () => {
    const n = 3;
    const g = new Float64Array(n * n * 3).map((_, k) => Math.floor(k / 3)); // cell id = i*n + j
    const r = rot90Clockwise(g, n);
    const ids = Array.from({ length: n * n }, (_, p) => r[3 * p]);
    // old  0 1 2 / 3 4 5 / 6 7 8  ->  clockwise  6 3 0 / 7 4 1 / 8 5 2
    expect(ids).toEqual([6, 3, 0, 7, 4, 1, 8, 5, 2]);
  });
});
