import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { channelsLast, type ChannelMap } from '../../../src/kernels/elementwise/channels-last.ts';
import { channelsLastRef } from '../../ref/channels-last.ts';

const device = useDevice();

describe('channels-last maps against float64', () => {
  const CASES: [ChannelMap, number][] = [
    ['identity', 5],
    ['exp', 2],
    ['sigmoid', 1],
    ['sinh', 3],
    ['xy_times_exp_z', 3],
    ['sinh_xy_exp_z', 3],
    ['normalize', 3],
    ['normalize', 4],
  ];
  for (const [map, C] of CASES) {
    it(`${map} over ${C} channels on an odd pixel count`, async () => {
      const dev = await device();
      const pixels = 13 * 17 + 300; // not a multiple of the workgroup
      const x = randomF32(C * pixels, 2);
      const out = dev.empty([pixels, C], 'f32');
      await dev.write(out, new Uint8Array(out.byteLength).fill(0xff));
      channelsLast(dev, await dev.upload(x, [C, pixels], 'f32'), map, out);
      expect(relL2(await dev.read(out), channelsLastRef(x, C, map))).toBeLessThan(1e-6);
    });
  }

  it('refuses a remap of points with other than 3 channels', async () => {
    const dev = await device();
    expect(() => channelsLast(dev, dev.empty([2, 10], 'f32'), 'xy_times_exp_z')).toThrow(/3 channels/);
  });
});
