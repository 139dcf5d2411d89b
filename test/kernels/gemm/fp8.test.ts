// fp8 weights (E4M3 / E5M2) widened inside the matmul's weight load: every bit pattern
// decoded exactly by the loader's WGSL, and the GEMM against the float64 product with the
// dequantized weights (scaled, with bias, with the fused LoRA segment), odd M, N and K.
import { describe, expect, it } from 'vitest';
import { packedTensor, poisoned, smallVariants } from './gemm-fixtures.ts';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { fp8WidenProgram, gemm, loraDown, loraUp, type GemmVariant } from '../../../src/kernels/gemm/index.ts';
import type { Fp8DType } from '../../../src/runtime/dtype.ts';
import { fp8Value, randomFiniteFp8 } from '../../ref/fp8.ts';
import { refGemm } from '../../ref/gemm.ts';

const device = useDevice();
const FORMATS: Fp8DType[] = ['f8e4m3', 'f8e5m2'];

describe('fp8 decoding', () => {
  it('the references know the formats\' landmarks', () => {
    expect(fp8Value('f8e4m3', 0x7e)).toBe(448);
    expect(fp8Value('f8e4m3', 0x01)).toBe(2 ** -9);
    expect(fp8Value('f8e4m3', 0x08)).toBe(2 ** -6);
    expect(fp8Value('f8e4m3', 0x7f)).toBeNaN();
    expect(fp8Value('f8e4m3', 0x78)).toBe(256);
    expect(fp8Value('f8e5m2', 0x7b)).toBe(57344);
    expect(fp8Value('f8e5m2', 0x7c)).toBe(Infinity);
    expect(fp8Value('f8e5m2', 0xfc)).toBe(-Infinity);
    expect(fp8Value('f8e5m2', 0x7d)).toBeNaN();
    expect(fp8Value('f8e5m2', 0x01)).toBe(2 ** -16);
    expect(Object.is(fp8Value('f8e5m2', 0x80), -0)).toBe(true);
  });

  for (const format of FORMATS) {
    it(`${format}: all 256 bit patterns widen exactly (zeros keep their sign; NaN and inf as the format says)`, async () => {
      const dev = await device();
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const src = await packedTensor(dev, bytes, [256], format);
      const dst = await poisoned(dev, [256]);
      dev.run(fp8WidenProgram(format, 256), [src, dst]);
      const got = await dev.read(dst);
      const wrong: string[] = [];
      for (let b = 0; b < 256; b++) {
        const want = fp8Value(format, b);
        const ok = Number.isNaN(want) ? Number.isNaN(got[b]!) : Object.is(got[b], want);
        if (!ok) wrong.push(`0x${b.toString(16)}: ${got[b]} (want ${want})`);
      }
      expect(wrong).toEqual([]);
    });
  }
});

describe('gemm with fp8 weights', () => {
  for (const format of FORMATS) {
    it(`${format}: vec4 (K = 64) and byte-wise (K = 67) loads, per-tensor scale, bias, odd M and N`, async () => {
      const dev = await device();
      const [M, N] = [37, 29];
      for (const variant of smallVariants(dev)) {
        for (const K of [64, 67]) {
          const xs = randomF32(M * K);
          const wBytes = randomFiniteFp8(format, N * K);
          const bias = randomF32(N);
          const scale = format === 'f8e4m3' ? 0.0123 : 3.5e-4;
          const w = await packedTensor(dev, wBytes, [N, K], format);
          expect(w.byteLength).toBe(Math.ceil((N * K) / 4) * 4); // one byte a weight on the GPU
          const out = await poisoned(dev, [M, N]);
          gemm(dev, await dev.upload(xs, [M, K], 'f32'), w, { bias: await dev.upload(bias, [N], 'f32'), out, variant, wScale: scale });
          const wRef = Float64Array.from(wBytes, (b) => fp8Value(format, b) * scale);
          const want = refGemm({ M, N, K, x: xs, w: wRef, bias });
          const err = relL2(await dev.read(out), want);
          expect(err, `${JSON.stringify(variant)} K ${K}`).toBeLessThanOrEqual(1e-5);
        }
      }
    });
  }

  it('the subgroup-matrix variant (emulated here) reads fp8 too, within its f16-operand bound', async () => {
    const dev = await device();
    const variant: GemmVariant = { kind: 'sgmatrix', cfg: { M: 16, N: 16, K: 16, component: 'f16', result: 'f32' }, sg: 8, gm: 2, gn: 2, sm: 1, sn: 1, bk: 32, emulate: true };
    const [M, N, K] = [37, 29, 67];
    const xs = randomF32(M * K);
    const wBytes = randomFiniteFp8('f8e4m3', N * K);
    const out = await poisoned(dev, [M, N]);
    gemm(dev, await dev.upload(xs, [M, K], 'f32'), await packedTensor(dev, wBytes, [N, K], 'f8e4m3'), { out, variant, wScale: 0.01 });
    const want = refGemm({ M, N, K, x: xs, w: Float64Array.from(wBytes, (b) => fp8Value('f8e4m3', b) * 0.01) });
    expect(relL2(await dev.read(out), want)).toBeLessThanOrEqual(3e-3);
  });

  it('the fused LoRA segment beside an fp8 matmul (unscaled weights)', async () => {
    const dev = await device();
    const [M, N, K, r] = [21, 30, 48, 4];
    const xs = randomF32(M * K);
    const wBytes = randomFiniteFp8('f8e4m3', N * K);
    const a = randomF32(r * K, 0.3);
    const b = randomF32(N * r, 0.3);
    const x = await dev.upload(xs, [M, K], 'f32');
    const w = await packedTensor(dev, wBytes, [N, K], 'f8e4m3');
    const t = loraDown(dev, x, await dev.upload(a, [r, K], 'f32'), 0.75);
    const out = loraUp(dev, x, w, { t, b: await dev.upload(b, [N, r], 'f32') });
    const want = refGemm({ M, N, K, x: xs, w: Float64Array.from(wBytes, (v) => fp8Value('f8e4m3', v)), lora: { a, b, r, scale: 0.75 } });
    expect(relL2(await dev.read(out), want)).toBeLessThanOrEqual(1e-5);
  });
});
