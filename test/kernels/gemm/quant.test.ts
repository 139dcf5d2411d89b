// GGML block-quantized weights dequantized inside the matmul's weight load: each format's
// loader against a float64 transcription of ggml's dequantize_row_* on random blocks (f16
// scales normal and subnormal), and the GEMM against the float64 product with the dequantized
// weights, odd M and N; K must be whole blocks. The matmul loads' word-wise decoding is checked
// bitwise against the element decoder (the reference formulas) on the same random blocks.
import { describe, expect, it } from 'vitest';
import { packedTensor, poisoned, smallVariants } from './gemm-fixtures.ts';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { blockWidenProgram, gemm, type GemmVariant } from '../../../src/kernels/gemm/index.ts';
import type { EgoxDevice } from '../../../src/runtime/device.ts';
import type { BlockQuantDType } from '../../../src/runtime/dtype.ts';
import { BLOCKS, dequant64, randomBlocks, type BlockFormat } from '../../ref/quant.ts';
import { refGemm } from '../../ref/gemm.ts';

const device = useDevice();
const FORMATS = Object.keys(BLOCKS) as (BlockFormat & BlockQuantDType)[];
/** Formats whose values d * q are exact in f32 (an 11-bit scale times a quant of <= 8 bits). */
const EXACT = new Set(['q8_0', 'q4_0', 'q5_0']);

describe('block dequantization', () => {
  for (const f of FORMATS) {
    it(`${f}: random blocks (every fourth with a subnormal scale) match the float64 block formula`, async () => {
      const dev = await device();
      const blocks = 9;
      const { qk } = BLOCKS[f];
      const bytes = randomBlocks(f, blocks);
      const n = blocks * qk;
      const src = await packedTensor(dev, bytes, [n], f);
      expect(src.byteLength).toBe(Math.ceil((blocks * BLOCKS[f].bytes) / 4) * 4);
      const dst = await poisoned(dev, [n]);
      dev.run(blockWidenProgram(f, n), [src, dst]);
      const got = await dev.read(dst);
      const want = dequant64(f, bytes, blocks);
      for (let b = 0; b < blocks; b++) {
        const g = got.subarray(b * qk, (b + 1) * qk);
        const w = want.subarray(b * qk, (b + 1) * qk);
        if (EXACT.has(f)) expect(Array.from(g), `${f} block ${b}`).toEqual(Array.from(w));
        else expect(relL2(g, w), `${f} block ${b}`).toBeLessThanOrEqual(1e-6);
      }
    });
  }
});

describe('word-wise block decoding (the matmul loads) is bitwise the element decoder', () => {
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  const widen = async (dev: EgoxDevice, f: BlockFormat & BlockQuantDType, bytes: Uint8Array, n: number, words: boolean) => {
    const src = await packedTensor(dev, bytes, [n], f);
    const dst = await poisoned(dev, [n]);
    dev.run(blockWidenProgram(f, n, words), [src, dst]);
    return dev.read(dst);
  };

  for (const f of FORMATS) {
    it(`${f}: quads from words, and the subgroup loop's hoisted sub-block scales, equal the element formulas`, async () => {
      const dev = await device();
      const { qk } = BLOCKS[f];
      // Odd blocks per row: rows alternate between word-aligned and half-word block starts.
      const [N, K] = [5, 3 * qk];
      const bytes = randomBlocks(f, (N * K) / qk);
      const want = await widen(dev, f, bytes, N * K, false);
      expect(bits(await widen(dev, f, bytes, N * K, true))).toEqual(bits(want));
      // Y = I W^T is W^T exactly (each output one product with 1, the rest exact zeros).
      const eye = new Float32Array(K * K);
      for (let i = 0; i < K; i++) eye[i * K + i] = 1;
      const x = await dev.upload(eye, [K, K], 'f32');
      const w = await packedTensor(dev, bytes, [N, K], f);
      for (const variant of smallVariants(dev)) {
        const y = await dev.read(gemm(dev, x, w, { variant }));
        let bad = 0;
        for (let m = 0; m < K; m++) for (let n = 0; n < N; n++) if (!(y[m * N + n] === want[n * K + m])) bad++;
        expect(bad, JSON.stringify(variant)).toBe(0);
      }
    });
  }
});

describe('gemm with block-quantized weights', () => {
  for (const f of FORMATS) {
    it(`${f}: odd M and N, K of two blocks, both variants, vs float64 with the dequantized weights`, async () => {
      const dev = await device();
      const [M, N] = [37, 29];
      const K = 2 * BLOCKS[f].qk;
      const bytes = randomBlocks(f, (N * K) / BLOCKS[f].qk);
      const w = await packedTensor(dev, bytes, [N, K], f);
      const wRef = dequant64(f, bytes, (N * K) / BLOCKS[f].qk);
      for (const variant of smallVariants(dev)) {
        const xs = randomF32(M * K);
        const bias = randomF32(N);
        const out = await poisoned(dev, [M, N]);
        gemm(dev, await dev.upload(xs, [M, K], 'f32'), w, { bias: await dev.upload(bias, [N], 'f32'), out, variant });
        const err = relL2(await dev.read(out), refGemm({ M, N, K, x: xs, w: wRef, bias }));
        expect(err, JSON.stringify(variant)).toBeLessThanOrEqual(1e-5);
      }
    });
  }

  it('the subgroup-matrix variant (emulated here) reads blocks too, within its f16-operand bound', async () => {
    const dev = await device();
    const variant: GemmVariant = { kind: 'sgmatrix', cfg: { M: 16, N: 16, K: 16, component: 'f16', result: 'f32' }, sg: 8, gm: 2, gn: 2, sm: 1, sn: 1, bk: 32, emulate: true };
    for (const f of ['q8_0', 'q4_k'] as const) {
      const [M, N, K] = [37, 29, 256];
      const bytes = randomBlocks(f, (N * K) / BLOCKS[f].qk);
      const w = await packedTensor(dev, bytes, [N, K], f);
      const xs = randomF32(M * K);
      const out = await poisoned(dev, [M, N]);
      gemm(dev, await dev.upload(xs, [M, K], 'f32'), w, { out, variant });
      const err = relL2(await dev.read(out), refGemm({ M, N, K, x: xs, w: dequant64(f, bytes, (N * K) / BLOCKS[f].qk) }));
      expect(err, f).toBeLessThanOrEqual(3e-3);
    }
  });

  it('refuses K that is not a whole number of blocks', async () => {
    const dev = await device();
    const w = dev.empty([3, 48], 'q8_0');
    expect(() => gemm(dev, dev.empty([2, 48], 'f32'), w, { variant: smallVariants(dev)[0] })).toThrow(/q8_0 weights need K a multiple of 32/);
  });
});
