// The motion-mask estimate (no instance masks given) against the independent numpy/OpenCV
// reference of the same rule (test/reference/prior_reference.py -> test/golden/recon/prior/prior.safetensors).
import { describe, expect, it } from 'vitest';
import { readPriorGolden } from './prior-golden.ts';
import { dilate, estimateDynamicMasks, percentileInPlace } from '../../src/recon/dynamic-mask-estimate.ts';


function frames<T extends Float32Array | Uint8Array>(data: T, n: number): T[] {
  const size = data.length / n;
  return Array.from({ length: n }, (_, f) => data.subarray(f * size, (f + 1) * size) as T);
}

describe('motion masks', () => {
  it('equal the numpy/OpenCV reference on a synthetic clip (mover masked, staying object and colourless border kept)', async () => {
    const D = await readPriorGolden('motion_depth');
    const C = await readPriorGolden('motion_rgb');
    const M = await readPriorGolden('motion_mask');
    const [F, H, W] = D.shape as [number, number, number];
    const EW = C.shape[2]!;
    const got = estimateDynamicMasks({
      depth: frames(D.data as Float32Array, F),
      depthShape: [H, W],
      rgb: frames(C.data as Uint8Array, F),
      exoShape: [H, EW],
    });
    const want = frames(M.data as Uint8Array, F);
    let differing = 0;
    for (let f = 0; f < F; f++) for (let p = 0; p < H * W; p++) if (got[f]![p] !== want[f]![p]) differing++;
    expect(differing).toBe(0);
    // what the clip exercises: the mover (rows 5..11) is masked where it is in frame 0 ...
    expect(got[0]![8 * W + 4]).toBe(1);
    // ... the object present in 8 of 12 frames (rows 14..18, cols 20..25) is not ...
    expect(got[1]![16 * W + 22]).toBe(0);
    // ... and the colour-only change (frames 4-5, exo rows 1..3, cols 1..7) is.
    expect(got[4]![2 * W + 3 + 4]).toBe(1);
    expect(got[3]![2 * W + 3 + 4]).toBe(0);
  });

  it('percentile matches numpy linear interpolation; dilation uses the elliptical 7x7 kernel', () => {
    const v = Float32Array.from({ length: 49 }, () => Math.random());
    const sorted = Float64Array.from(v).sort();
    for (const q of [0, 0.5, 0.9, 1]) {
      const pos = 48 * q;
      const lo = Math.floor(pos);
      const want = sorted[lo]! + (sorted[Math.min(lo + 1, 48)]! - sorted[lo]!) * (pos - lo);
      expect(percentileInPlace(Float32Array.from(v), 49, q)).toBeCloseTo(want, 6);
    }
    const one = new Uint8Array(11 * 11);
    one[5 * 11 + 5] = 1;
    const d = dilate(one, 11, 11, 3);
    const rows = Array.from({ length: 7 }, (_, r) => [...d.subarray((r + 2) * 11 + 2, (r + 2) * 11 + 9)].join(''));
    expect(rows).toEqual(['0001000', '0111110', '1111111', '1111111', '1111111', '0111110', '0001000']);
  });
});
