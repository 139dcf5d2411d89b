import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { groupNorm } from '../../../src/kernels/norm/index.ts';
import { refGroupNorm } from '../../ref/norm.ts';

const device = useDevice();

describe('group norm against float64', () => {
  // (C, groups, S): MoGe's group_norm (C/32 groups), its layer_norm (one group), odd sizes.
  for (const [C, groups, S] of [[64, 2, 7 * 9], [32, 1, 13 * 11], [6, 3, 1001], [5, 5, 3]] as const) {
    it(`C ${C}, ${groups} groups, ${S} positions`, async () => {
      const dev = await device();
      const x = randomF32(C * S, 3).map((v, i) => v + (i % 7) - 2); // a non-zero mean per group
      const w = randomF32(C);
      const b = randomF32(C);
      const out = dev.empty([C, S], 'f32');
      await dev.write(out, new Uint8Array(out.byteLength).fill(0xff));
      groupNorm(dev, await dev.upload(x, [C, S], 'f32'), await dev.upload(w, [C], 'f32'), await dev.upload(b, [C], 'f32'), { groups, eps: 1e-5, out });
      expect(relL2(await dev.read(out), refGroupNorm(x, C, S, groups, w, b, 1e-5))).toBeLessThan(1e-5);
    });
  }

  it('refuses channels that do not split into the groups', async () => {
    const dev = await device();
    const t = dev.empty([6, 4], 'f32');
    expect(() => groupNorm(dev, t, dev.empty([6], 'f32'), dev.empty([6], 'f32'), { groups: 4, eps: 1e-5 })).toThrow(/do not split/);
  });
});
