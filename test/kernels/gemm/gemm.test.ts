import { describe, expect, it } from 'vitest';
import { poisoned, smallVariants } from './gemm-fixtures.ts';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { gemm, type GemmEpilogue, type GemmVariant } from '../../../src/kernels/gemm/index.ts';
import { defaultGemmVariant } from '../../../src/kernels/gemm/variants.ts';
import { roundThrough, type FloatDType } from '../../../src/runtime/dtype.ts';
import { erf64, erfc64, refGemm } from '../../ref/gemm.ts';

const device = useDevice();

const name = (v: GemmVariant) => JSON.stringify(v);

describe('float64 references', () => {
  it('erf64 matches known values', () => {
    expect(erf64(0)).toBe(0);
    expect(erf64(0.5)).toBeCloseTo(0.5204998778130465, 15);
    expect(erf64(1)).toBeCloseTo(0.8427007929497149, 15);
    expect(erf64(-2)).toBeCloseTo(-0.9953222650189527, 15);
    expect(erfc64(3) / 2.209049699858544e-5 - 1).toBeLessThan(1e-12);
    expect(Math.abs(erfc64(4.5) / 1.966160441542887e-10 - 1)).toBeLessThan(1e-12);
    expect(Math.abs(erfc64(2.5) / 4.06952017444959e-4 - 1)).toBeLessThan(1e-9); // series side, near its end
  });
});

describe('gemm', () => {
  const [M, N, K] = [37, 29, 67];

  it('one pipeline per variant serves every row count M (M is a uniform)', async () => {
    const dev = await device();
    for (const variant of smallVariants(dev)) {
      const keys = new Set<string>();
      const cache = dev.pipelines as unknown as { get: (p: { key: string }) => unknown };
      const get = cache.get.bind(cache);
      cache.get = (p: { key: string }) => (keys.add(p.key), get(p as never));
      try {
        // Odd counts that do not fill the last tile, like the DiT's token counts.
        for (const m of [37, 5, 61]) {
          const xs = randomF32(m * K);
          const ws = randomF32(N * K);
          const bias = randomF32(N);
          const out = await poisoned(dev, [m, N], 'f32');
          gemm(dev, await dev.upload(xs, [m, K], 'f32'), await dev.upload(ws, [N, K], 'bf16'), { bias: await dev.upload(bias, [N], 'f32'), epilogue: 'silu', out, variant });
          const want = refGemm({ M: m, N, K, x: xs, w: roundThrough(ws, 'bf16'), bias, epilogue: 'silu' });
          expect(relL2(await dev.read(out), want), `${name(variant)} M ${m}`).toBeLessThanOrEqual(1e-5);
        }
      } finally {
        cache.get = get;
      }
      expect(keys.size, name(variant)).toBe(1);
    }
  });

  it('every epilogue and every weight dtype (vec4 and generic loads), both variants, odd M and N', async () => {
    const dev = await device();
    // Each epilogue runs with another weight dtype / K so that both variants see every
    // epilogue, every dtype, and for 16-bit weights both the vec4 (K = 64) and the generic
    // (odd K) loads, without compiling the full cross product (compiles dominate on lavapipe).
    const cases: [GemmEpilogue, FloatDType, number][] = [
      ['none', 'f32', K],
      ['gelu_tanh', 'f16', 64],
      ['gelu_erf', 'bf16', K],
      ['silu', 'f16', K],
      ['gated_residual', 'bf16', 64],
      ['gelu_erf', 'f32', 64],
    ];
    for (const variant of smallVariants(dev)) {
      for (const [epilogue, wDtype, k] of cases) {
        // Scale 2 puts pre-activations in [-~10, 10]: both GELU tails and the middle are hit.
        const xs = randomF32(M * k, 2);
        const ws = randomF32(N * k, 0.5);
        const bias = randomF32(N);
        const gate = randomF32(N);
        const res = randomF32(M * N);
        const x = await dev.upload(xs, [M, k], 'f32');
        const w = await dev.upload(ws, [N, k], wDtype);
        const b = await dev.upload(bias, [N], 'f32');
        const g = await dev.upload(gate, [N], 'f32');
        const r = await dev.upload(res, [M, N], 'f32');
        const out = await poisoned(dev, [M, N], 'f32');
        const gated = epilogue === 'gated_residual';
        gemm(dev, x, w, { bias: b, epilogue, out, variant, alpha: 0.75, gate: gated ? g : undefined, residual: gated ? r : undefined });
        const got = await dev.read(out);
        // The reference uses the stored (rounded) weights: the bound measures the kernel.
        const want = refGemm({ M, N, K: k, x: xs, w: roundThrough(ws, wDtype), alpha: 0.75, bias, epilogue, gate, residual: res });
        const err = relL2(got, want);
        expect(err, `${name(variant)} ${epilogue} W ${wDtype} K=${k}`).toBeLessThanOrEqual(wDtype === 'f32' ? 1e-5 : 3e-3);
      }
    }
  });

  it('16-bit X and 16-bit outputs (even N), both variants', async () => {
    const dev = await device();
    const n = 30;
    for (const variant of smallVariants(dev)) {
      for (const [xDtype, yDtype, k] of [['bf16', 'f16', 64], ['f16', 'bf16', K]] as [FloatDType, FloatDType, number][]) {
        {
          const xs = randomF32(M * k);
          const ws = randomF32(n * k);
          const bias = randomF32(n);
          const x = await dev.upload(xs, [M, k], xDtype);
          const w = await dev.upload(ws, [n, k], 'bf16');
          const b = await dev.upload(bias, [n], 'f32');
          const out = await poisoned(dev, [M, n], yDtype);
          gemm(dev, x, w, { out, variant, bias: b, epilogue: 'silu' });
          const want = refGemm({ M, N: n, K: k, x: roundThrough(xs, xDtype), w: roundThrough(ws, 'bf16'), bias, epilogue: 'silu' });
          const err = relL2(await dev.read(out), want);
          expect(err, `${name(variant)} X ${xDtype} Y ${yDtype} K=${k}`).toBeLessThanOrEqual(yDtype === 'f32' ? 1e-5 : 3e-3);
        }
      }
    }
  });

  it('the default variant of this adapter (large register tile), odd sizes and bf16 weights', async () => {
    const dev = await device();
    for (const [k, wDtype] of [[K, 'f32'], [64, 'bf16']] as [number, FloatDType][]) {
      const variant = defaultGemmVariant(dev, { M, N, K: k, wDtype });
      const xs = randomF32(M * k);
      const ws = randomF32(N * k);
      const bias = randomF32(N);
      const x = await dev.upload(xs, [M, k], 'f32');
      const w = await dev.upload(ws, [N, k], wDtype);
      const b = await dev.upload(bias, [N], 'f32');
      const out = await poisoned(dev, [M, N], 'f32');
      gemm(dev, x, w, { out, bias: b, epilogue: 'gelu_tanh' }); // no forced variant: the launcher's choice
      const want = refGemm({ M, N, K: k, x: xs, w: roundThrough(ws, wDtype), bias, epilogue: 'gelu_tanh' });
      expect(relL2(await dev.read(out), want), `${name(variant)} ${wDtype}`).toBeLessThanOrEqual(wDtype === 'f32' ? 1e-5 : 3e-3);
    }
  });

  it('batched: per-batch weights, shared weight with per-batch gates, explicit strides', async () => {
    const dev = await device();
    const B = 3;
    for (const variant of smallVariants(dev)) {
      // Per-batch f32 W [B, N, K], K a multiple of 4 (the vec4 loads).
      {
        const k = 64;
        const xs = randomF32(B * M * k);
        const ws = randomF32(B * N * k);
        const x = await dev.upload(xs, [B, M, k], 'f32');
        const w = await dev.upload(ws, [B, N, k], 'f32');
        const out = await poisoned(dev, [B, M, N], 'f32');
        gemm(dev, x, w, { out, variant });
        const want = refGemm({ M, N, K: k, batch: B, x: xs, w: ws, wStride: N * k });
        expect(relL2(await dev.read(out), want), `${name(variant)} per-batch W`).toBeLessThanOrEqual(1e-5);
      }
      // Shared bf16 W, per-batch gate [B, N], residual [B, M, N].
      {
        const xs = randomF32(B * M * K);
        const ws = randomF32(N * K);
        const gate = randomF32(B * N);
        const res = randomF32(B * M * N);
        const x = await dev.upload(xs, [B, M, K], 'f32');
        const w = await dev.upload(ws, [N, K], 'bf16');
        const g = await dev.upload(gate, [B, N], 'f32');
        const r = await dev.upload(res, [B, M, N], 'f32');
        const out = await poisoned(dev, [B, M, N], 'f32');
        gemm(dev, x, w, { out, variant, epilogue: 'gated_residual', gate: g, residual: r, batch: { count: B, gate: N } });
        const want = refGemm({ M, N, K, batch: B, x: xs, w: roundThrough(ws, 'bf16'), epilogue: 'gated_residual', gate, gateStride: N, residual: res });
        expect(relL2(await dev.read(out), want), `${name(variant)} per-batch gate`).toBeLessThanOrEqual(3e-3);
      }
      // X batches that are not contiguous: batch b reads M rows starting at b * xStride > b * M * K.
      {
        const xStride = M * K + 13;
        const xs = randomF32((B - 1) * xStride + M * K);
        const ws = randomF32(N * K);
        const x = await dev.upload(xs, [xs.length], 'f32');
        const w = await dev.upload(ws, [N, K], 'f32');
        const out = await poisoned(dev, [B, M, N], 'f32');
        gemm(dev, x, w, { out, variant, batch: { count: B, rows: M, x: xStride } });
        const want = refGemm({ M, N, K, batch: B, x: xs, xStride, w: ws });
        expect(relL2(await dev.read(out), want), `${name(variant)} strided X`).toBeLessThanOrEqual(1e-5);
      }
    }
  });
});
