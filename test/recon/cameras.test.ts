import { describe, expect, it } from 'vitest';
import {
  DEFAULT_EGO_CALIBRATION,
  EgoCalibrationError,
  FISHEYE_PARAMS,
  cameraCentre,
  egoCalibrationFromK,
  invert4x4,
  packFisheyeParams,
  parseEgoCalibration,
  pinholeFromK,
  projectFisheye,
  projectFisheyePacked,
  projectFisheyeView,
  projectPinhole,
  rescaleExoIntrinsics,
  to4x4,
  transformPoint,
  unprojectFisheyeView,
  unprojectPinhole,
  worldToEgoView,
  type EgoCalibration,
} from '../../src/recon/cameras.ts';
import { loadGolden } from './golden.ts';

const fish = loadGolden('fisheye');
const w2c = (fish.info['w2c'] as number[][]).flat();
const cal = fish.info['calibrations'] as Record<string, number[]>;

function fromList(v: number[]): EgoCalibration {
  return parseEgoCalibration(v.map((x) => x.toPrecision(17)).join(','));
}

/** Seeded uniform numbers (tests must not depend on Math.random). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('fisheye projection vs the independent float64 formula of gga_reference.py', () => {
  for (const name of ['default', 'custom']) {
    it(`${name} calibration, 400 points incl. behind the camera`, () => {
      const c = fromList(cal[name]!);
      if (name === 'default') expect(c).toEqual(DEFAULT_EGO_CALIBRATION);
      const pts = fish.get('points_world').data;
      const want = fish.get(`${name}_out`).data;
      let maxErr = 0;
      let culled = 0;
      for (let i = 0; i < pts.length / 3; i++) {
        const p = projectFisheye(c, w2c, pts[3 * i]!, pts[3 * i + 1]!, pts[3 * i + 2]!);
        const wantCulled = want[4 * i + 3] === 1;
        expect(p.culled).toBe(wantCulled);
        expect(Math.abs(p.z - want[4 * i + 2]!)).toBeLessThan(1e-12);
        if (wantCulled) {
          culled++;
          continue;
        }
        maxErr = Math.max(maxErr, Math.abs(p.row - want[4 * i]!), Math.abs(p.col - want[4 * i + 1]!));
      }
      console.log(`fisheye ${name}: max pixel err ${maxErr.toExponential(2)} over ${pts.length / 3 - culled} points, ${culled} culled`);
      expect(culled).toBeGreaterThan(40);
      expect(maxErr).toBeLessThan(1e-9);
    });
  }

  it('packed params (what a kernel reads, float32) agree with the float64 projection', () => {
    const c = fromList(cal['custom']!);
    const prm = packFisheyeParams(c, w2c);
    expect(prm.length).toBe(FISHEYE_PARAMS.FLOATS);
    const pts = fish.get('points_world').data;
    const want = fish.get('custom_out').data;
    let maxErr = 0;
    for (let i = 0; i < pts.length / 3; i++) {
      const o = projectFisheyePacked(prm, pts[3 * i]!, pts[3 * i + 1]!, pts[3 * i + 2]!);
      expect(o[3]).toBe(want[4 * i + 3]);
      if (o[3] === 1 || want[4 * i + 2]! < 0.05) continue; // near z = 0 float32 pose rounding is amplified
      maxErr = Math.max(maxErr, Math.abs(o[0]! - want[4 * i]!), Math.abs(o[1]! - want[4 * i + 1]!));
    }
    // Only float32 rounding of the pose and coefficients separates them.
    console.log(`fisheye packed (float32 params): max pixel err ${maxErr.toExponential(2)}`);
    expect(maxErr).toBeLessThan(5e-4);
    expect(prm[FISHEYE_PARAMS.SMALL_R]).toBeCloseTo(1e-10, 15);
    expect(prm[FISHEYE_PARAMS.SIZE]).toBe(448);
  });
});

describe('fisheye conventions (B.4)', () => {
  it('optical axis lands at (row 255, col 192) with the default intrinsics', () => {
    const p = projectFisheyeView(DEFAULT_EGO_CALIBRATION, 0, 0, 2);
    expect(p.row).toBeCloseTo(255, 12);
    expect(p.col).toBeCloseTo(192, 12);
    expect(p.culled).toBe(false);
  });

  it('view frame is (y_cv, -x_cv, z_cv); +x_cv moves down the render, +y_cv moves left', () => {
    const id = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0];
    expect(Array.from(worldToEgoView(id, 1, 2, 3))).toEqual([2, -1, 3]);
    const right = projectFisheye(DEFAULT_EGO_CALIBRATION, id, 0.1, 0, 1);
    const down = projectFisheye(DEFAULT_EGO_CALIBRATION, id, 0, 0.1, 1);
    expect(right.row).toBeGreaterThan(256); // row ~ cy + f x/z
    expect(Math.abs(right.col - 192)).toBeLessThan(0.5);
    expect(down.col).toBeLessThan(191); // col ~ (W - cx) - f y/z
  });

  it('points with z <= 0 are culled', () => {
    expect(projectFisheyeView(DEFAULT_EGO_CALIBRATION, 0.3, 0.1, -1).culled).toBe(true);
    expect(projectFisheyeView(DEFAULT_EGO_CALIBRATION, 0.3, 0.1, 0).culled).toBe(true);
    expect(projectFisheyeView(DEFAULT_EGO_CALIBRATION, 0.3, 0.1, 1e-6).culled).toBe(false);
  });

  it('unproject(project(ray)) returns the ray, out to 85 degrees', () => {
    const r = rng(3);
    // A second, realistic calibration (the golden 'custom' one has random k up to theta^12 and
    // folds over at wide angles, so it has no unique inverse there).
    const d = DEFAULT_EGO_CALIBRATION;
    const other: EgoCalibration = { f: 163.2, cx: 250.1, cy: 261.7, k: d.k.map((x) => 1.2 * x) as EgoCalibration['k'], p: [d.p[1], -d.p[0]], s: [d.s[2], d.s[3], d.s[0], d.s[1]] };
    for (const c of [DEFAULT_EGO_CALIBRATION, other]) {
      let worst = 0;
      for (let n = 0; n < 300; n++) {
        const th = (r() * 85 * Math.PI) / 180;
        const ph = r() * 2 * Math.PI;
        const d = [Math.sin(th) * Math.cos(ph), Math.sin(th) * Math.sin(ph), Math.cos(th)];
        const z = 0.5 + 10 * r();
        const p = projectFisheyeView(c, d[0]! * z, d[1]! * z, d[2]! * z);
        const back = unprojectFisheyeView(c, p.row, p.col);
        worst = Math.max(worst, Math.hypot(back[0]! - d[0]!, back[1]! - d[1]!, back[2]! - d[2]!));
      }
      expect(worst).toBeLessThan(1e-9);
    }
  });
});

describe('EgoCalibration parsing', () => {
  it('3 numbers keep the default distortion; 15 numbers set everything', () => {
    const a = parseEgoCalibration('160, 250, 260');
    expect([a.f, a.cx, a.cy]).toEqual([160, 250, 260]);
    expect(a.k).toEqual(DEFAULT_EGO_CALIBRATION.k);
    expect(a.p).toEqual(DEFAULT_EGO_CALIBRATION.p);
    expect(a.s).toEqual(DEFAULT_EGO_CALIBRATION.s);
    const b = parseEgoCalibration('1,2,3,4,5,6,7,8,9,10,11,12,13,14,15');
    expect(b).toEqual({ f: 1, cx: 2, cy: 3, k: [4, 5, 6, 7, 8, 9], p: [10, 11], s: [12, 13, 14, 15] });
    expect(egoCalibrationFromK([150, 0, 255.5, 0, 150, 255.5, 0, 0, 1])).toEqual(DEFAULT_EGO_CALIBRATION);
  });

  it('bad strings are one-line exit-2 errors', () => {
    for (const bad of ['150,255.5', '1,2,3,4', '150,abc,255', '150,,255', '0,1,1', '150,255.5,nan']) {
      let err: unknown;
      try {
        parseEgoCalibration(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EgoCalibrationError);
      expect((err as EgoCalibrationError).exitCode).toBe(2);
      expect((err as Error).message).toMatch(/^--ego-calibration: /);
      expect((err as Error).message).not.toContain('\n');
    }
  });
});

describe('pinhole and rigid transforms', () => {
  it('rescales the exo K to the depth grid exactly as infer.py (A.4)', () => {
    const K = [1251.8982569863365, 0, 1920, 0, 1251.8982569863365, 1080, 0, 0, 1];
    const c = rescaleExoIntrinsics(K, 796, 448);
    expect(c.cx).toBe(398);
    expect(c.cy).toBe(224);
    expect(c.fx).toBeCloseTo(259.508, 3);
    expect(c.fy).toBeCloseTo(259.653, 3);
    expect(c.fx).toBe(K[0]! * (398 / 1920));
    // In-the-wild K already on the 784x448 grid: unchanged.
    const w = rescaleExoIntrinsics([634.47, 0, 392, 0, 634.47, 224, 0, 0, 1], 784, 448);
    expect(w).toEqual({ fx: 634.47, fy: 634.47, cx: 392, cy: 224 });
  });

  it('pinhole unproject/project round trip, no half-pixel offset', () => {
    const cam = pinholeFromK([259.5, 0, 398, 0, 259.6, 224, 0, 0, 1]);
    expect(Array.from(unprojectPinhole(cam, 398, 224, 5))).toEqual([0, 0, 5]);
    const r = rng(9);
    for (let n = 0; n < 100; n++) {
      const u = r() * 796;
      const v = r() * 448;
      const d = 0.5 + 20 * r();
      const p = unprojectPinhole(cam, u, v, d);
      const back = projectPinhole(cam, p[0]!, p[1]!, p[2]!);
      expect(back.u).toBeCloseTo(u, 9);
      expect(back.v).toBeCloseTo(v, 9);
      expect(back.z).toBe(d);
    }
  });

  it('4x4 padding, inverse and camera centre', () => {
    const E = w2c;
    const M = to4x4(E);
    expect(Array.from(M.slice(12))).toEqual([0, 0, 0, 1]);
    const inv = invert4x4(M);
    // inv * M = I
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += inv[4 * i + k]! * M[4 * k + j]!;
        expect(s).toBeCloseTo(i === j ? 1 : 0, 12);
      }
    }
    // The centre maps to the camera origin, and equals -R^T t.
    const o = cameraCentre(E);
    const oc = transformPoint(E, o[0]!, o[1]!, o[2]!);
    expect(Math.hypot(oc[0]!, oc[1]!, oc[2]!)).toBeLessThan(1e-12);
    // -R^T t agrees only to ~1e-8: the stored rotations are orthonormal to ~1e-9, and infer.py
    // uses the general inverse, as we do.
    for (let c = 0; c < 3; c++) {
      const want = -(E[c]! * E[3]! + E[4 + c]! * E[7]! + E[8 + c]! * E[11]!);
      expect(Math.abs(o[c]! - want)).toBeLessThan(1e-7);
    }
  });
});
