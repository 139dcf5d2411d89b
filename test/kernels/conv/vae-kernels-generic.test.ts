// The VAE's data-movement and norm kernels are generic in the clip's sizes: at a second
// frame count / resolution they reuse the pipeline compiled for the first and stay exact.
import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { timeInterleaveRef, upsampleNearest2xRef, zeroPadRef } from '../../ref/conv.ts';
import { cacheUpdateRef } from '../../ref/vae.ts';
import { refChannelRmsNorm } from '../../ref/norm.ts';
import { timeInterleave, upsampleNearest2x, zeroPad2d } from '../../../src/kernels/layout/resample.ts';
import { cacheUpdate } from '../../../src/kernels/conv/frame-cache.ts';
import { channelRmsNorm } from '../../../src/kernels/norm/channel.ts';
import type { EgoxDevice } from '../../../src/runtime/device.ts';

const device = useDevice();

/** Runs `body` for each size; returns the pipelines compiled meanwhile. */
async function compiledOver<T>(dev: EgoxDevice, sizes: T[], body: (s: T) => Promise<void>): Promise<number> {
  const before = dev.pipelines.stats.compiled;
  for (const s of sizes) await body(s);
  return dev.pipelines.stats.compiled - before;
}

// [C, F, H, W]; H * W a multiple of 4 in each, so the vec4 paths are alike.
const SIZES: [number, number, number, number][] = [
  [3, 1, 4, 6],
  [3, 4, 6, 10],
];

describe('VAE kernels share one pipeline across clip sizes', () => {
  it('upsample2x', async () => {
    const dev = await device();
    const n = await compiledOver(dev, SIZES, async ([c, f, h, w]) => {
      const x = randomF32(c * f * h * w);
      const y = upsampleNearest2x(dev, await dev.upload(x, [c, f, h, w], 'f32'));
      expect(relL2(await dev.read(y), upsampleNearest2xRef(x, c, f, h, w).data)).toBe(0);
    });
    expect(n).toBe(1);
  });

  it('zero pad', async () => {
    const dev = await device();
    const pad = { top: 0, bottom: 1, left: 0, right: 1 };
    const n = await compiledOver(dev, SIZES, async ([c, f, h, w]) => {
      const x = randomF32(c * f * h * w);
      const y = zeroPad2d(dev, await dev.upload(x, [c, f, h, w], 'f32'), pad);
      expect(relL2(await dev.read(y), zeroPadRef(x, c, f, h, w, pad).data)).toBe(0);
    });
    expect(n).toBe(1);
  });

  it('time interleave', async () => {
    const dev = await device();
    const n = await compiledOver(dev, SIZES, async ([c, f, h, w]) => {
      const y = randomF32(2 * c * f * h * w);
      const out = timeInterleave(dev, await dev.upload(y, [2 * c, f, h, w], 'f32'));
      expect(relL2(await dev.read(out), timeInterleaveRef(y, 2 * c, f, h, w).data)).toBe(0);
    });
    expect(n).toBe(1);
  });

  it('cache update (1-frame and 4-frame chunks)', async () => {
    const dev = await device();
    const n = await compiledOver(dev, SIZES, async ([c, f, h, w]) => {
      const xs = randomF32(c * f * h * w);
      const old = randomF32(c * 2 * h * w);
      const cache = await dev.upload(old, [c, 2, h, w], 'f32');
      cacheUpdate(dev, await dev.upload(xs, [c, f, h, w], 'f32'), cache, true);
      expect(relL2(await dev.read(cache), cacheUpdateRef(xs, old, c, f, h * w, 2))).toBe(0);
    });
    expect(n).toBe(1);
  });

  it('channel RMS norm + SiLU', async () => {
    const dev = await device();
    const n = await compiledOver(dev, SIZES, async ([c, f, h, w]) => {
      const S = f * h * w;
      const x = randomF32(c * S, 3);
      const gamma = randomF32(c).map((v) => v + 1);
      const y = channelRmsNorm(dev, await dev.upload(x, [c, f, h, w], 'f32'), { gamma: await dev.upload(gamma, [c], 'f32'), silu: true });
      const err = relL2(await dev.read(y), refChannelRmsNorm(x, c, S, gamma, undefined, true));
      expect(err, `rel L2 ${err}`).toBeLessThanOrEqual(1e-6);
    });
    expect(n).toBe(1);
  });
});
