// The VAE's frame-cache update kernel against a float64 reference, on fresh
// random inputs with odd sizes, outputs poisoned with NaN.
import { describe, expect, it } from 'vitest';
import { cacheUpdate } from '../../../src/kernels/conv/frame-cache.ts';
import { cacheUpdateRef } from '../../ref/vae.ts';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';

const device = useDevice();
const poison = (n: number) => new Uint8Array(4 * n).fill(0xff);

describe('vae cache update', () => {
  const cases = [
    { c: 3, f: 4, hw: 35, keep: 2, hasOld: true }, // a full chunk: the cache is just x's tail
    { c: 5, f: 1, hw: 12, keep: 2, hasOld: true }, // one frame: the old last frame shifts forward
    { c: 2, f: 1, hw: 7, keep: 2, hasOld: false }, // first chunk: zeros in front
    { c: 4, f: 2, hw: 9, keep: 1, hasOld: true }, // the downsample time conv's 1-frame cache
  ];
  it.each(cases)('C=$c F=$f HW=$hw keep=$keep old=$hasOld', async ({ c, f, hw, keep, hasOld }) => {
    const dev = await device();
    const xs = randomF32(c * f * hw);
    const old = randomF32(c * keep * hw);
    const x = await dev.upload(xs, [c, f, 1, hw], 'f32');
    const cache = dev.empty([c, keep, 1, hw], 'f32');
    // Frames the update must overwrite are poisoned; frames it must keep hold the old values.
    if (hasOld && f < keep) await dev.write(cache, new Uint8Array(old.buffer));
    else await dev.write(cache, poison(c * keep * hw));
    cacheUpdate(dev, x, cache, hasOld);
    const got = await dev.read(cache);
    const want = cacheUpdateRef(xs, hasOld ? old : null, c, f, hw, keep);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(relL2(got, want)).toBe(0);
    x.release();
    cache.release();
  });
});
