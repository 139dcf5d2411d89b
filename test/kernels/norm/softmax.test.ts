import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { softmax, softmaxFusable } from '../../../src/kernels/norm/softmax.ts';
import { roundThrough, type DType } from '../../../src/runtime/dtype.ts';
import { refSoftmax } from '../../ref/activation.ts';

const device = useDevice();

describe('softmax over the last dim', () => {
  // C 67 / 66 / 68: units of 1 / 2 / 4 elements; 16-bit output of odd C: stats + apply path.
  const CASES: [DType, DType, number, number, number, 'default' | 'workgroup'][] = [
    ['f32', 'f32', 37, 67, 1, 'default'],
    ['f32', 'f32', 37, 66, 0.125, 'workgroup'],
    ['bf16', 'bf16', 37, 66, 1, 'default'],
    ['f16', 'f16', 37, 68, 0.5, 'default'],
    ['bf16', 'f32', 37, 67, 1, 'default'],
    ['f32', 'bf16', 37, 67, 1, 'default'],
    ['f16', 'f16', 37, 67, 1, 'workgroup'],
    ['f32', 'f32', 3, 5120, 0.088, 'default'],
  ];
  for (const [dtype, outDtype, rows, C, scale, variant] of CASES) {
    it(`${dtype} -> ${outDtype} [${rows}, ${C}] scale ${scale} (${variant} reduction)`, async () => {
      const dev = await device();
      const x = roundThrough(randomF32(rows * C, 8), dtype); // exp(8) spreads the weights
      x[5] = 60; // a large logit: the max subtraction must keep exp finite
      const out = dev.empty([rows, C], outDtype);
      await dev.write(out, new Uint8Array(out.byteLength).fill(0xff));
      softmax(dev, await dev.upload(x, [rows, C], dtype), { scale, out, variant: variant === 'workgroup' ? { reduction: 'workgroup' } : undefined });
      const err = relL2(await dev.read(out), refSoftmax(x, rows, C, scale));
      expect(err).toBeLessThanOrEqual(outDtype === 'f32' ? 1e-5 : 3e-3);
    });
  }

  it('takes the two-dispatch path only for 16-bit output rows of odd length', () => {
    expect(softmaxFusable({ C: 67, dtype: 'f32', outDtype: 'f16' })).toBe(false);
    expect(softmaxFusable({ C: 67, dtype: 'f16', outDtype: 'f32' })).toBe(true);
  });
});
