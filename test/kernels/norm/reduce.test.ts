import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { reduceRows, type ReduceOp } from '../../../src/kernels/norm/reduce.ts';
import { roundThrough, type DType } from '../../../src/runtime/dtype.ts';
import { refReduceRows } from '../../ref/activation.ts';

const device = useDevice();

describe('reduceRows (last dim)', () => {
  const CASES: [ReduceOp, DType, number, number, 'default' | 'workgroup'][] = [
    ['sum', 'f32', 37, 67, 'default'],
    ['mean', 'bf16', 37, 66, 'default'],
    ['sumsq', 'f16', 37, 68, 'default'],
    ['max', 'f32', 37, 67, 'default'],
    ['mean', 'f32', 37, 1001, 'workgroup'],
    ['sumsq', 'bf16', 37, 67, 'workgroup'],
    ['max', 'bf16', 37, 68, 'workgroup'],
    ['sum', 'f32', 70001, 3, 'default'], // more rows than workgroups per dimension (folded)
  ];
  for (const [op, dtype, rows, C, variant] of CASES) {
    it(`${op} ${dtype} [${rows}, ${C}] (${variant} reduction)`, async () => {
      const dev = await device();
      // An offset keeps sums away from zero so the relative error is meaningful.
      const x = roundThrough(randomF32(rows * C, 2).map((v) => v + 0.5), dtype);
      const out = dev.empty([rows], 'f32');
      await dev.write(out, new Uint8Array(out.byteLength).fill(0xff));
      const y = reduceRows(dev, await dev.upload(x, [rows, C], dtype), op, { out, variant: variant === 'workgroup' ? { reduction: 'workgroup' } : undefined });
      expect(y.shape).toEqual([rows]);
      // Inputs are exact in f32 (rounded to dtype first): the f32 bound applies to every dtype.
      expect(relL2(await dev.read(y), refReduceRows(x, rows, C, op))).toBeLessThanOrEqual(1e-5);
    });
  }

  it('returns the leading dims as the output shape', async () => {
    const dev = await device();
    const x = await dev.upload(Float32Array.from({ length: 24 }, (_, i) => i), [2, 3, 4], 'f32');
    const y = reduceRows(dev, x, 'sum');
    expect(y.shape).toEqual([2, 3]);
    expect([...(await dev.read(y))]).toEqual([6, 22, 38, 54, 70, 86]);
  });
});
