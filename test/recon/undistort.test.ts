import { describe, expect, it } from 'vitest';
import { ARIA_DISTORTION_12 } from '../../src/recon/cameras.ts';
import { distortPointOpenCV, undistortPointsOpenCV } from '../../src/recon/undistort.ts';
import { loadGolden, maxAbsDiff } from './golden.ts';

const gold = loadGolden('undistort');
const cases = gold.info['cases'] as { name: string; K: number[][]; D: number[] }[];

function grid56(): Float64Array {
  const p = new Float64Array(56 * 56 * 2);
  for (let i = 0; i < 56; i++) for (let j = 0; j < 56; j++) p.set([j, i], (i * 56 + j) * 2);
  return p;
}

describe('undistortPointsOpenCV vs cv2.undistortPoints (OpenCV 4.6, default 5 iterations)', () => {
  it('GGA call: 56x56 grid, K/8, Aria numbers read in OpenCV order', () => {
    const c = cases.find((x) => x.name === 'gga_grid')!;
    expect(c.D).toEqual([...ARIA_DISTORTION_12]);
    const out = undistortPointsOpenCV(grid56(), c.K.flat(), ARIA_DISTORTION_12);
    const err = maxAbsDiff(out, gold.get('gga_grid_out').data);
    console.log(`undistort gga grid: max abs err vs cv2 = ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(1e-12);
    // The spec's observed values (D.1.3): pixel (0,0) -> (-0.280, -0.207), centre pixel 31.9375 -> 0.
    expect(out[0]).toBeCloseTo(-0.2796, 4);
    expect(out[1]).toBeCloseTo(-0.2074, 4);
    const centre = undistortPointsOpenCV([31.9375, 31.9375], c.K.flat(), ARIA_DISTORTION_12);
    expect(Math.abs(centre[0]!) + Math.abs(centre[1]!)).toBeLessThan(1e-15);
  });

  it('float32 input points (cv2 then returns float32) agree after rounding', () => {
    const c = cases.find((x) => x.name === 'gga_grid')!;
    const out = Float32Array.from(undistortPointsOpenCV(grid56(), c.K.flat(), ARIA_DISTORTION_12));
    expect(maxAbsDiff(out, gold.get('gga_grid_out_f32in').data)).toBeLessThanOrEqual(1e-7);
  });

  for (const n of [4, 5, 8, 12]) {
    it(`random pixels, non-square K, ${n} coefficients`, () => {
      const c = cases.find((x) => x.name === `random_d${n}`)!;
      expect(c.D.length).toBe(n);
      const out = undistortPointsOpenCV(gold.get(`random_d${n}_in`).data, c.K.flat(), c.D);
      const err = maxAbsDiff(out, gold.get(`random_d${n}_out`).data);
      console.log(`undistort random D${n}: max abs err vs cv2 = ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-12);
    });
  }

  it('is only 5 fixed-point steps: not the exact inverse at the periphery', () => {
    // Re-distorting the output does not give the input back exactly; that is OpenCV's behaviour.
    const K = { fx: 18.75, fy: 18.75, cx: 31.9375, cy: 31.9375 };
    const [x, y] = undistortPointsOpenCV([0, 0], K, ARIA_DISTORTION_12) as unknown as [number, number];
    const [xd, yd] = distortPointOpenCV(x, y, ARIA_DISTORTION_12);
    const pinhole = -31.9375 / 18.75;
    expect(Math.hypot(xd - pinhole, yd - pinhole)).toBeGreaterThan(0.01);
    // More iterations change the answer, so the count matters.
    const more = undistortPointsOpenCV([0, 0], K, ARIA_DISTORTION_12, 50);
    expect(Math.abs(more[0]! - x)).toBeGreaterThan(1e-6);
    // Near the centre the iteration converges and the inverse is accurate.
    const [xc, yc] = undistortPointsOpenCV([30, 33], K, ARIA_DISTORTION_12, 50) as unknown as [number, number];
    const [xcd, ycd] = distortPointOpenCV(xc, yc, ARIA_DISTORTION_12);
    expect(Math.hypot(xcd - (30 - 31.9375) / 18.75, ycd - (33 - 31.9375) / 18.75)).toBeLessThan(1e-12);
  });

  it('rejects bad coefficient counts and tilt', () => {
    expect(() => undistortPointsOpenCV([0, 0], { fx: 1, fy: 1, cx: 0, cy: 0 }, [1, 2, 3])).toThrow(/4, 5, 8, 12 or 14/);
    const tilt = new Array(14).fill(0);
    tilt[12] = 0.01;
    expect(() => undistortPointsOpenCV([0, 0], { fx: 1, fy: 1, cx: 0, cy: 0 }, tilt)).toThrow(/tilt/);
  });
});

describe('undistortPointsOpenCV icdist < 0 branch', () => {
  it('matches cv2 where the rational factor goes negative', () => {
    const c = cases.find((x) => x.name === 'negative_icdist')!;
    const inp = gold.get('negative_icdist_in').data;
    const out = undistortPointsOpenCV(inp, c.K.flat(), c.D);
    expect(maxAbsDiff(out, gold.get('negative_icdist_out').data)).toBeLessThanOrEqual(1e-12);
    // The case really exercises the branch: some outputs are the plain (u - cx) / fx.
    const fx = c.K[0]![0]!;
    const cx = c.K[0]![2]!;
    let plain = 0;
    for (let i = 0; i < inp.length; i += 2) if (out[i] === (inp[i]! - cx) * (1 / fx)) plain++;
    expect(plain).toBeGreaterThan(10);
  });
});
