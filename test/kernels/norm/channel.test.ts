import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { channelRmsNorm, channelRmsNormFusable } from '../../../src/kernels/norm/channel.ts';
import { roundThrough, type DType } from '../../../src/runtime/dtype.ts';
import { refChannelRmsNorm } from '../../ref/norm.ts';

const device = useDevice();

describe('channelRmsNorm (VAE RMS_norm over channels)', () => {
  // [C, F, H, W]: S = 180 (units of 4), 18 (units of 2), 35 (single elements; 16-bit output
  // takes the stats + whole-word apply path).
  const CASES: [DType, DType, DType, number[], boolean, boolean][] = [
    ['f32', 'f32', 'f32', [7, 3, 6, 10], false, false],
    ['f32', 'f32', 'f32', [7, 1, 5, 7], true, true],
    ['f32', 'f32', 'bf16', [16, 1, 3, 6], true, false],
    ['bf16', 'bf16', 'bf16', [7, 3, 6, 10], false, true],
    ['bf16', 'bf16', 'f32', [9, 1, 3, 6], true, true],
    ['f16', 'f16', 'f16', [7, 3, 6, 10], true, false],
    ['bf16', 'f32', 'f32', [7, 1, 5, 7], false, false],
    ['f32', 'bf16', 'f32', [7, 1, 5, 7], true, true],
    ['f16', 'f16', 'f32', [5, 1, 5, 7], false, true],
  ];
  for (const [dtype, outDtype, paramDtype, shape, bias, silu] of CASES) {
    it(`${dtype} -> ${outDtype} [${shape.join(', ')}] params ${paramDtype}${bias ? ' + bias' : ''}${silu ? ' + silu' : ''}`, async () => {
      const dev = await device();
      const C = shape[0]!;
      const S = shape.slice(1).reduce((a, b) => a * b, 1);
      const x = roundThrough(randomF32(C * S, 3), dtype);
      const gamma = roundThrough(randomF32(C, 1), paramDtype).map((v) => v + 1);
      const b = bias ? roundThrough(randomF32(C, 0.5), paramDtype) : undefined;
      const out = dev.empty(shape, outDtype);
      await dev.write(out, new Uint8Array(out.byteLength).fill(0xff));
      channelRmsNorm(dev, await dev.upload(x, shape, dtype), {
        gamma: await dev.upload(roundThrough(gamma, paramDtype), [C, 1, 1, 1], paramDtype),
        bias: b ? await dev.upload(b, [C], paramDtype) : undefined,
        silu,
        out,
      });
      const want = refChannelRmsNorm(x, C, S, roundThrough(gamma, paramDtype), b, silu);
      const err = relL2(await dev.read(out), want);
      // The reference sees the 16-bit-rounded inputs, so f32 output is held to the f32 bound.
      expect(err).toBeLessThanOrEqual(outDtype === 'f32' ? 1e-5 : 3e-3);
    });
  }

  it('keeps a zero column finite (the norm is clamped at 1e-12)', async () => {
    const dev = await device();
    const x = new Float32Array(4 * 6);
    x[1] = 3; // column 1 non-zero in channel 0 only
    const y = await dev.read(channelRmsNorm(dev, await dev.upload(x, [4, 6], 'f32'), { gamma: await dev.upload(new Float32Array(4).fill(1), [4], 'f32') }));
    expect([...y].every(Number.isFinite)).toBe(true);
    expect(y[1]).toBeCloseTo(2, 6); // 3 / 3 * sqrt(4)
  });

  it('takes the two-dispatch path only for 16-bit output with an odd position count', () => {
    expect(channelRmsNormFusable({ S: 35, dtype: 'f32', outDtype: 'bf16' })).toBe(false);
    expect(channelRmsNormFusable({ S: 35, dtype: 'bf16', outDtype: 'f32' })).toBe(true);
    expect(channelRmsNormFusable({ S: 36, dtype: 'f16' })).toBe(true);
  });
});
