// The conv pipelines are generic in the clip's sizes: the same conv at another frame count,
// resolution or cache length reuses the compiled pipeline (sizes are uniforms) and is still
// right. Each variant compiles once here (lavapipe compiles slowly).
import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { convRef } from '../../ref/conv.ts';
import { conv3d, defaultConvVariant, type ConvVariant } from '../../../src/kernels/conv/index.ts';
import type { EgoxDevice } from '../../../src/runtime/device.ts';

const device = useDevice();

interface Size {
  f: number;
  h: number;
  w: number;
  cacheTotal: number;
}

// Channels 6 -> 5 and the cache use are unusual enough that no other test compiled this conv.
const CIN = 6;
const COUT = 5;
const CACHE_FRAMES = 2;

async function runAt(dev: EgoxDevice, s: Size, weight: Float32Array, bias: Float32Array, variant: ConvVariant): Promise<number> {
  const x = randomF32(CIN * s.f * s.h * s.w);
  const cache = randomF32(CIN * s.cacheTotal * s.h * s.w);
  const pad = { front: 2, top: 1, bottom: 1, left: 1, right: 1 };
  const ref = convRef({ x, cin: CIN, f: s.f, h: s.h, w: s.w, weight, cout: COUT, kernel: [3, 3, 3], bias, pad, cache, cacheTotal: s.cacheTotal, cacheFrames: CACHE_FRAMES });
  const y = conv3d(
    dev,
    await dev.upload(x, [CIN, s.f, s.h, s.w], 'f32'),
    await dev.upload(weight, [COUT, CIN, 3, 3, 3], 'f32'),
    await dev.upload(bias, [COUT], 'f32'),
    { padding: 1, cache: await dev.upload(cache, [CIN, s.cacheTotal, s.h, s.w], 'f32'), cacheFrames: CACHE_FRAMES, variant },
  );
  expect(y.shape).toEqual(ref.shape);
  return relL2(await dev.read(y), ref.data);
}

describe('conv pipelines are generic in frames, rows, columns and cache length', () => {
  // Widths keep W % 4 == 0 on both sizes, so the vec4 paths are taken (and keyed) alike.
  const sizes: Size[] = [
    { f: 1, h: 6, w: 8, cacheTotal: 2 },
    { f: 4, h: 9, w: 12, cacheTotal: 3 },
  ];
  const variants = (dev: EgoxDevice): [string, ConvVariant][] => [
    ['default', defaultConvVariant(dev, { cout: COUT, kernel: [3, 3, 3], stride: [1, 1, 1] })],
    ['regtile', { kind: 'regtile', tm: 3, tw: 4, threads: 16, vec4: true }],
    ['wgtile', { kind: 'wgtile', bm: 16, bn: 64, bk: 16 }],
  ];

  it('compiles one pipeline per variant for two clip sizes, both right', async () => {
    const dev = await device();
    const weight = randomF32(COUT * CIN * 27, 0.5);
    const bias = randomF32(COUT);
    for (const [name, v] of variants(dev)) {
      const before = dev.pipelines.stats.compiled;
      for (const s of sizes) {
        const err = await runAt(dev, s, weight, bias, v);
        expect(err, `${name} at ${s.f}x${s.h}x${s.w} (cache ${s.cacheTotal}): rel L2 ${err}`).toBeLessThanOrEqual(1e-5);
      }
      expect(dev.pipelines.stats.compiled - before, `${name}: pipelines compiled for two sizes`).toBe(1);
    }
  });
});
