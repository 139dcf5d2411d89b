import { describe, expect, it } from 'vitest';
import { relL2, useDevice } from '../../helpers/gpu.ts';
import { refCropNormalise, refResize } from '../../ref/image-preprocess.ts';
import { bicubicTable, resizeAxis } from '../../../src/kernels/render/image-preprocess.ts';
import type { EgoxDevice } from '../../../src/runtime/device.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';

const device = useDevice();
const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];

async function poisoned(dev: EgoxDevice, shape: number[]): Promise<Tensor> {
  const t = dev.empty(shape, 'f32');
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
  return t;
}

/** GPU: resize H x W -> h x w evaluated on the S x S centre crop, normalised. */
async function gpuPreprocess(img: Float32Array, H: number, W: number, h: number, w: number, S: number, eightBit: boolean) {
  const dev = await device();
  const top = Math.floor((h - S) / 2);
  const left = Math.floor((w - S) / 2);
  const tx = bicubicTable(W, w, left, S, eightBit);
  const ty = bicubicTable(H, h, top, S, eightBit);
  const x = await dev.upload(img, [3, H, W], 'f32');
  const mid = await poisoned(dev, [3, H, S]);
  const out = await poisoned(dev, [3, S, S]);
  resizeAxis(dev, x, await dev.upload(tx.table, [tx.table.length], 'f32'), { axis: 'x', outSize: S, taps: tx.taps, quantize: eightBit, out: mid });
  resizeAxis(dev, mid, await dev.upload(ty.table, [ty.table.length], 'f32'), {
    axis: 'y', outSize: S, taps: ty.taps, quantize: eightBit, normalize: { scale: eightBit ? 1 / 255 : 1, mean: MEAN, std: STD }, out,
  });
  return dev.read(out);
}

describe('image preprocessing (bicubic resize + crop + normalise) vs float64 reference', () => {
  // odd sizes: enlarge, shrink by a non-integer factor, shrink one axis and enlarge the other
  const cases: [number, number, number, number, number][] = [
    [23, 51, 31, 68, 31],
    [97, 211, 40, 87, 40],
    [45, 30, 61, 41, 41],
  ];
  for (const [H, W, h, w, S] of cases) {
    it(`${H}x${W} -> ${h}x${w}, crop ${S}: float input`, async () => {
      const img = Float32Array.from({ length: 3 * H * W }, () => Math.random());
      const got = await gpuPreprocess(img, H, W, h, w, S, false);
      const want = refCropNormalise(refResize(img, 3, H, W, h, w, false), 3, h, w, S, 1, MEAN, STD);
      const err = relL2(got, want);
      expect(err, `rel L2 ${err}`).toBeLessThan(1e-6);
    });
    it(`${H}x${W} -> ${h}x${w}, crop ${S}: 8-bit input in PIL's fixed point (exact)`, async () => {
      const img = Float32Array.from({ length: 3 * H * W }, () => Math.floor(Math.random() * 256));
      const got = await gpuPreprocess(img, H, W, h, w, S, true);
      const want = refCropNormalise(refResize(img, 3, H, W, h, w, true), 3, h, w, S, 1 / 255, MEAN, STD);
      // the resized integers agree exactly; only the final normalisation rounds (f32)
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
      expect(maxDiff).toBeLessThan(1e-5);
    });
  }
});
