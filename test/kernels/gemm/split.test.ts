// Operands larger than maxStorageBufferBindingSize (a 13824 x 5120 bf16 weight is 141 MB,
// lavapipe binds 128 MiB) are split into several dispatches over windows of the tensors.
// Tested with a small artificial limit instead of a real 128 MiB tensor.
import { describe, expect, it } from 'vitest';
import { poisoned } from './gemm-fixtures.ts';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { gemm, type GemmVariant } from '../../../src/kernels/gemm/index.ts';
import { loraDown, loraUp } from '../../../src/kernels/gemm/lora.ts';
import { loraMerge } from '../../../src/kernels/gemm/lora-merge.ts';
import { roundThrough } from '../../../src/runtime/dtype.ts';
import { refGemm, refLoraMerge } from '../../ref/gemm.ts';

const device = useDevice();

describe('gemm over the binding limit', () => {
  it('splits along M and N into windows; results match, both variants, ragged and even blocks', async () => {
    const dev = await device();
    const sg = dev.adapter.subgroupMinSize!;
    const small: GemmVariant = { kind: 'subgroup', sg, tm: sg, rn: 2 };
    const tiled: GemmVariant = { kind: 'tiled', tm: 2, tn: 2, bk: 8 };
    // [variant, M, N, K, limit]. Y rows of N f32 and W rows of K bf16 set the block sizes;
    // most cases split into equal blocks (one pipeline), the first is ragged on both axes.
    const cases: [GemmVariant, number, number, number, number][] = [
      [small, 75, 150, 67, 12_000],
      [small, 64, 160, 64, 12_000],
      [tiled, 64, 128, 131, 24_000],
    ];
    for (const [variant, M, N, K, limit] of cases) {
      const xs = randomF32(M * K);
      const ws = randomF32(N * K);
      const bias = randomF32(N);
      const gate = randomF32(N);
      const res = randomF32(M * N);
      const x = await dev.upload(xs, [M, K], 'f32');
      const w = await dev.upload(ws, [N, K], 'bf16');
      const b = await dev.upload(bias, [N], 'f32');
      const g = await dev.upload(gate, [N], 'f32');
      const r = await dev.upload(res, [M, N], 'f32');
      const out = await poisoned(dev, [M, N], 'f32');
      const before = dev.dispatchCount;
      gemm(dev, x, w, { out, variant, bias: b, epilogue: 'gated_residual', gate: g, residual: r, maxBindingBytes: limit });
      const dispatches = dev.dispatchCount - before;
      const want = refGemm({ M, N, K, x: xs, w: roundThrough(ws, 'bf16'), bias, epilogue: 'gated_residual', gate, residual: res });
      const label = `${JSON.stringify(variant)} ${M}x${N}x${K}`;
      expect(relL2(await dev.read(out), want), label).toBeLessThanOrEqual(3e-3);
      // At least the blocks that Y and W each need on their own.
      expect(dispatches, label).toBeGreaterThanOrEqual(Math.ceil((M * N * 4) / limit) * Math.ceil((N * K * 2) / limit));
      expect(dispatches, label).toBeGreaterThan(2);
    }
  });

  it('splits a runtime-LoRA GEMM and an in-place residual update', async () => {
    const dev = await device();
    const sg = dev.adapter.subgroupMinSize!;
    const variant: GemmVariant = { kind: 'subgroup', sg, tm: sg, rn: 2 };
    const [M, N, K, r] = [50, 90, 64, 8];
    const xs = randomF32(M * K);
    const ws = randomF32(N * K);
    const as = randomF32(r * K);
    const bs = randomF32(N * r);
    const gate = randomF32(N);
    const res = randomF32(M * N);
    const x = await dev.upload(xs, [M, K], 'f32');
    const w = await dev.upload(ws, [N, K], 'f32');
    const a = await dev.upload(as, [r, K], 'f32');
    const b = await dev.upload(bs, [N, r], 'f32');
    const g = await dev.upload(gate, [N], 'f32');
    const y = await dev.upload(res, [M, N], 'f32'); // residual stream, updated in place
    const before = dev.dispatchCount;
    const t = loraDown(dev, x, a, 0.5, { variant, maxBindingBytes: 8_000 });
    loraUp(dev, x, w, { t, b }, { out: y, residual: y, gate: g, epilogue: 'gated_residual', variant, maxBindingBytes: 8_000 });
    expect(dev.dispatchCount - before).toBeGreaterThan(4);
    const merged = refLoraMerge(ws, as, bs, N, K, r, 0.5);
    const want = refGemm({ M, N, K, x: xs, w: merged, epilogue: 'gated_residual', gate, residual: res });
    expect(relL2(await dev.read(y), want)).toBeLessThanOrEqual(1e-5);
  });

  it('merges LoRA into a bf16 weight larger than the limit, block by block', async () => {
    const dev = await device();
    const [N, K, r] = [70, 64, 4];
    const ws = randomF32(N * K);
    const as = randomF32(r * K);
    const bs = randomF32(N * r);
    const w = await dev.upload(ws, [N, K], 'bf16');
    const a = await dev.upload(as, [r, K], 'f32');
    const b = await dev.upload(bs, [N, r], 'f32');
    const before = dev.dispatchCount;
    loraMerge(dev, w, a, b, 1.5, { maxBindingBytes: 2048 });
    expect(dev.dispatchCount - before).toBeGreaterThanOrEqual(Math.ceil((N * K * 2) / 2048));
    const want = refLoraMerge(roundThrough(ws, 'bf16'), as, bs, N, K, r, 1.5);
    expect(relL2(await dev.read(w), want)).toBeLessThanOrEqual(3e-3);
  });
});
