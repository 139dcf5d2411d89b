import { describe, expect, it } from 'vitest';
import { relL2 } from '../helpers/gpu.ts';
import { readGoldenF32 } from '../helpers/golden.ts';
import { lmdif } from '../../src/model/moge/lmdif.ts';
import { mogeGeometry, recoverFocalShift } from '../../src/model/moge/postprocess.ts';

// Goldens: test/reference/moge2_reference.py runs the official post-processing steps with
// scipy 1.10's least_squares(method='lm', ftol=1e-3) on the reference network's points.
const DIRS = ['test/golden/moge', 'test/golden/moge/variant-b'];

/** rel L2 over the finite entries, and whether the +inf pattern is the same. */
function depthError(got: Float32Array, want: Float32Array): { err: number; sameMask: boolean } {
  const g: number[] = [];
  const w: number[] = [];
  let sameMask = true;
  for (let i = 0; i < want.length; i++) {
    if (Number.isFinite(want[i]!) !== Number.isFinite(got[i]!)) sameMask = false;
    if (Number.isFinite(want[i]!) && Number.isFinite(got[i]!)) {
      g.push(got[i]!);
      w.push(want[i]!);
    }
  }
  return { err: w.length ? relL2(g, w) : 0, sameMask };
}

describe('MoGe-2 post-processing vs scipy', () => {
  for (const dir of DIRS) {
    for (const n of [0, 1]) {
      it(`${dir} case ${n}: shift, focal, depth and intrinsics within 1e-4`, async () => {
        const c = await readGoldenF32(`${dir}/cases.safetensors`);
        const [H, W] = c.get(`${n}.mask`)!.shape as [number, number];
        const geo = mogeGeometry(c.get(`${n}.points`)!.data, c.get(`${n}.mask`)!.data, c.get(`${n}.metric_scale`)!.data[0], H, W);
        const shift = c.get(`${n}.post.shift`)!.data[0]!;
        const focal = c.get(`${n}.post.focal`)!.data[0]!;
        expect(Math.abs(geo.shift - shift) / Math.max(1, Math.abs(shift)), 'shift').toBeLessThan(1e-5);
        expect(Math.abs(geo.focal - focal) / Math.abs(focal), 'focal').toBeLessThan(1e-4);
        expect(relL2(geo.intrinsics, c.get(`${n}.post.intrinsics`)!.data), 'intrinsics').toBeLessThan(1e-4);
        const d = depthError(geo.depth, c.get(`${n}.post.depth`)!.data);
        expect(d.sameMask, 'masked pixels').toBe(true);
        expect(d.err, 'depth').toBeLessThan(1e-4);
      });

      it(`${dir} case ${n}: with a known 60 degree field of view, only the shift is fitted`, async () => {
        const c = await readGoldenF32(`${dir}/cases.safetensors`);
        const [H, W] = c.get(`${n}.mask`)!.shape as [number, number];
        const geo = mogeGeometry(c.get(`${n}.points`)!.data, c.get(`${n}.mask`)!.data, c.get(`${n}.metric_scale`)!.data[0], H, W, 60);
        const shift = c.get(`${n}.post_fov60.shift`)!.data[0]!;
        expect(Math.abs(geo.shift - shift) / Math.max(1, Math.abs(shift)), 'shift').toBeLessThan(1e-5);
        expect(relL2(geo.intrinsics, c.get(`${n}.post_fov60.intrinsics`)!.data), 'intrinsics').toBeLessThan(1e-6);
        const d = depthError(geo.depth, c.get(`${n}.post_fov60.depth`)!.data);
        expect(d.sameMask, 'masked pixels').toBe(true);
        expect(d.err, 'depth').toBeLessThan(1e-4);
      });
    }
  }

  it('recovers a known focal and shift from a consistent point map', () => {
    const [H, W] = [30, 40];
    const aspect = W / H;
    const [focal, shift] = [1.7, 0.8];
    const pts = new Float32Array(H * W * 3);
    const su = aspect / Math.sqrt(1 + aspect * aspect);
    const sv = 1 / Math.sqrt(1 + aspect * aspect);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const u = -su * ((W - 1) / W) + (2 * su * ((W - 1) / W) * x) / (W - 1);
        const v = -sv * ((H - 1) / H) + (2 * sv * ((H - 1) / H) * y) / (H - 1);
        const z = 3 + Math.sin(x / 5) + Math.cos(y / 7); // true depth, >= 1: z - shift stays positive
        const p = (y * W + x) * 3;
        [pts[p], pts[p + 1], pts[p + 2]] = [(u * z) / focal, (v * z) / focal, z - shift];
      }
    }
    const r = recoverFocalShift(pts, undefined, H, W);
    // ftol 1e-3 stops early, as the official fit does: close, not exact.
    expect(Math.abs(r.shift - shift)).toBeLessThan(2e-2);
    expect(Math.abs(r.focal - focal) / focal).toBeLessThan(2e-2);
  });

  it('lmdif solves a small nonlinear least-squares problem to tolerance', () => {
    // Rosenbrock as residuals: (10 (x1 - x0^2), 1 - x0), minimum at (1, 1).
    const r = lmdif((x) => Float64Array.from([10 * (x[1]! - x[0]! ** 2), 1 - x[0]!]), [-1.2, 1], { ftol: 1e-12, xtol: 1e-12 });
    expect(r.info).toBeGreaterThanOrEqual(1);
    expect(r.info).toBeLessThanOrEqual(4);
    expect(Math.abs(r.x[0]! - 1)).toBeLessThan(1e-8);
    expect(Math.abs(r.x[1]! - 1)).toBeLessThan(1e-8);
  });
});
