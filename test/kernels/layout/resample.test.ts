import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { convRef, replicatePadRef, timeInterleaveRef, upsampleNearest2xRef, zeroPadRef } from '../../ref/conv.ts';
import { timeInterleave, upsampleNearest2x, zeroPad2d } from '../../../src/kernels/layout/resample.ts';
import { conv3d } from '../../../src/kernels/conv/index.ts';
import type { EgoxDevice } from '../../../src/runtime/device.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';

const device = useDevice();

async function poisoned(dev: EgoxDevice, shape: number[]): Promise<Tensor> {
  const t = dev.empty(shape, 'f32');
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
  return t;
}

describe('resampling kernels against the float64 reference', () => {
  it('nearest-exact 2x upsampling of [C, F, H, W]', async () => {
    const dev = await device();
    const [c, f, h, w] = [5, 3, 9, 11];
    const x = randomF32(c * f * h * w);
    const ref = upsampleNearest2xRef(x, c, f, h, w);
    const out = await poisoned(dev, ref.shape);
    const y = upsampleNearest2x(dev, await dev.upload(x, [c, f, h, w], 'f32'), out);
    expect(y.shape).toEqual([5, 3, 18, 22]);
    // Pure copies: exact.
    expect(relL2(await dev.read(y), ref.data)).toBe(0);
  });

  it('asymmetric zero padding (right and bottom, as the downsampler)', async () => {
    const dev = await device();
    const [c, f, h, w] = [5, 3, 9, 11];
    const x = randomF32(c * f * h * w);
    const X = await dev.upload(x, [c, f, h, w], 'f32');
    for (const pad of [{ top: 0, bottom: 1, left: 0, right: 1 }, { top: 2, bottom: 0, left: 3, right: 1 }]) {
      const ref = zeroPadRef(x, c, f, h, w, pad);
      const out = await poisoned(dev, ref.shape);
      zeroPad2d(dev, X, pad, out);
      expect(relL2(await dev.read(out), ref.data), JSON.stringify(pad)).toBe(0);
    }
  });

  it('replicate padding (MoGe\'s conv padding), symmetric and asymmetric', async () => {
    const dev = await device();
    const [c, f, h, w] = [5, 1, 7, 9];
    const x = randomF32(c * f * h * w);
    const X = await dev.upload(x, [c, f, h, w], 'f32');
    for (const pad of [{ top: 1, bottom: 1, left: 1, right: 1 }, { top: 2, bottom: 0, left: 3, right: 1 }]) {
      const ref = replicatePadRef(x, c, f, h, w, pad);
      const out = await poisoned(dev, ref.shape);
      zeroPad2d(dev, X, pad, out, 'replicate');
      expect(relL2(await dev.read(out), ref.data), JSON.stringify(pad)).toBe(0);
    }
  });

  it('time-conv reshuffle [2c, T, H, W] -> [c, 2T, H, W] (vec4 and scalar rows)', async () => {
    const dev = await device();
    for (const [c, t, h, w] of [[5, 3, 9, 11], [3, 2, 4, 6]] as const) {
      const y = randomF32(2 * c * t * h * w);
      const ref = timeInterleaveRef(y, 2 * c, t, h, w);
      const out = await poisoned(dev, ref.shape);
      timeInterleave(dev, await dev.upload(y, [2 * c, t, h, w], 'f32'), out);
      expect(relL2(await dev.read(out), ref.data), `${[c, t, h, w]}`).toBe(0);
    }
  });

  it('upsample3d time path: causal (3,1,1) conv c -> 2c with cache, then the reshuffle', async () => {
    const dev = await device();
    const [c, t, h, w] = [4, 2, 5, 7];
    const x = randomF32(c * t * h * w);
    const cache = randomF32(c * 2 * h * w);
    const weight = randomF32(2 * c * c * 3);
    const bias = randomF32(2 * c);
    const conv = convRef({ x, cin: c, f: t, h, w, weight, cout: 2 * c, kernel: [3, 1, 1], bias, pad: { front: 2, top: 0, bottom: 0, left: 0, right: 0 }, cache, cacheTotal: 2, cacheFrames: 2 });
    const ref = timeInterleaveRef(conv.data, 2 * c, t, h, w);
    const y = conv3d(dev, await dev.upload(x, [c, t, h, w], 'f32'), await dev.upload(weight, [2 * c, c, 3, 1, 1], 'f32'), await dev.upload(bias, [2 * c], 'f32'), {
      padding: [1, 0, 0],
      cache: await dev.upload(cache, [c, 2, h, w], 'f32'),
    });
    const out = await poisoned(dev, ref.shape);
    timeInterleave(dev, y, out);
    expect(relL2(await dev.read(out), ref.data)).toBeLessThanOrEqual(1e-5);
  });

  it('rejects inputs it cannot reshuffle', async () => {
    const dev = await device();
    expect(() => timeInterleave(dev, dev.empty([5, 2, 3, 3], 'f32'))).toThrow(/\[2c, T, H, W\]/);
    expect(() => upsampleNearest2x(dev, dev.empty([4, 3, 3], 'bf16'))).toThrow(/must be f32/);
    expect(() => zeroPad2d(dev, dev.empty([4, 3, 3], 'f32'), { top: -1, bottom: 0, left: 0, right: 0 })).toThrow(/non-negative/);
  });
});
