import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { refRope } from '../../ref/rope.ts';
import { rope, ropeSplit, ropeTables, type RopeGrid } from '../../../src/kernels/elementwise/rope.ts';
import { roundThrough } from '../../../src/runtime/dtype.ts';

const device = useDevice();
const BOUND = { f32: 1e-5, f16: 3e-3, bf16: 3e-3 } as const;

describe('rope (Wan 3D, interleaved pairs)', () => {
  it('splits the head dim like Wan: 44/42/42 at 128, 24/20/20 at 64', () => {
    expect(ropeSplit(128)).toEqual([44, 42, 42]);
    expect(ropeSplit(64)).toEqual([24, 20, 20]);
  });

  for (const D of [64, 128]) {
    for (const dtype of ['f32', 'bf16', 'f16'] as const) {
      for (const inPlace of [true, false]) {
        if (D === 128 && dtype === 'f16') continue;
        it(`matches the float64 reference: D=${D} ${dtype} ${inPlace ? 'in place' : 'out of place'} on a non-square grid`, async () => {
          const dev = await device();
          const grid: RopeGrid = [3, 5, 7];
          const H = 3;
          const L = grid[0] * grid[1] * grid[2];
          const x = roundThrough(randomF32(L * H * D), dtype);
          const xt = await dev.upload(x, [L, H * D], dtype);
          const table = await ropeTables(dev, grid, D);
          let got: Float32Array;
          if (inPlace) {
            rope(dev, xt, table, { grid, heads: H });
            got = await dev.read(xt);
          } else {
            const out = dev.empty([L, H * D], dtype);
            await dev.write(out, new Uint8Array(out.byteLength).fill(0xff));
            rope(dev, xt, table, { grid, heads: H, out });
            got = await dev.read(out);
            expect(relL2(await dev.read(xt), x)).toBe(0); // input untouched
          }
          const want = refRope(x, { grid, heads: H, headDim: D });
          expect(got.every(Number.isFinite)).toBe(true);
          expect(relL2(got, want)).toBeLessThanOrEqual(BOUND[dtype]);
        });
      }
    }
  }

  it('leaves position (0, 0, 0) alone and turns only the column part along a row', async () => {
    const dev = await device();
    const grid: RopeGrid = [1, 1, 4];
    const D = 128;
    const x = randomF32(4 * D);
    const xt = await dev.upload(x, [4, 1, D], 'f32');
    rope(dev, xt, await ropeTables(dev, grid, D), { grid });
    const got = await dev.read(xt);
    expect(Array.from(got.subarray(0, D))).toEqual(Array.from(x.subarray(0, D)));
    // token 3: frame and row parts (first 86 dims) unchanged, column part rotated
    expect(Array.from(got.subarray(3 * D, 3 * D + 86))).toEqual(Array.from(x.subarray(3 * D, 3 * D + 86)));
    expect(relL2(got.subarray(3 * D + 86, 4 * D), x.subarray(3 * D + 86, 4 * D))).toBeGreaterThan(0.01);
  });
});
