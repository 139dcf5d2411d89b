import { describe, expect, it } from 'vitest';
import {
  bitsToF32, bf16ToF32, f16ToF32, f32BitsToBf16, f32BitsToF16, f32Bits, f32ToHalfCodes,
} from '../../src/runtime/dtype.ts';
import { refDecodeF16, refRoundBf16, refRoundF16 } from '../ref/half.ts';

/** f32 values that stress rounding: ties, subnormals, overflow edges, specials. */
export function trickyF32(): Float32Array {
  const v: number[] = [0, -0, 1, -1, Infinity, -Infinity, NaN, 65504, 65519.99, 65520, 65536, 1e-8, -1e-8,
    2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, 2 ** -14 - 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11,
    1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.4028234663852886e38, 1e-40, -1e-45, 1.1754942e-38, 2 ** -133, 3 * 2 ** -134];
  for (let i = 0; i < 4000; i++) {
    const bits = (Math.random() * 2 ** 32) >>> 0;
    v.push(bitsToF32(bits));
  }
  for (let i = 0; i < 2000; i++) v.push((Math.random() - 0.5) * 2 ** (Math.random() * 60 - 40));
  return Float32Array.from(v);
}

describe('CPU conversions', () => {
  it('f16 decode matches the IEEE definition for all 65536 codes', () => {
    for (let h = 0; h < 65536; h++) {
      const want = refDecodeF16(h);
      const got = f16ToF32(h);
      if (Number.isNaN(want)) expect(Number.isNaN(got)).toBe(true);
      else expect(Object.is(got, want) || (got === want && got !== 0)).toBe(true);
    }
  });
  it('f32 -> f16 and -> bf16 round to nearest even, with subnormals and overflow', () => {
    for (const x of trickyF32()) {
      const h = f32BitsToF16(f32Bits(x));
      const b = f32BitsToBf16(f32Bits(x));
      if (Number.isNaN(x)) {
        expect(Number.isNaN(f16ToF32(h))).toBe(true);
        expect(b).toBe(0x7fc0);
        continue;
      }
      expect(f16ToF32(h), `f16 of ${x}`).toBe(refRoundF16(x));
      expect(bf16ToF32(b), `bf16 of ${x}`).toBe(refRoundBf16(x));
    }
  });
  it('keeps the sign of zero', () => {
    const codes = f32ToHalfCodes(Float32Array.from([-0, 0]), 'f16');
    expect([...codes]).toEqual([0x8000, 0]);
  });
});
