// Row-wise DiT ops over tensors larger than maxStorageBufferBindingSize ([28028, 5120] f32 =
// 574 MB at 14B; lavapipe binds 128 MiB), tested with small artificial limits: the norms
// (with adaLN modulation), RoPE, the elementwise add, activations and the patchify layout ops.
// Each split result equals the unsplit one bitwise (the same per-element arithmetic) and
// matches the float64 reference.
import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { refRowNorm } from '../../ref/norm.ts';
import { refRope } from '../../ref/rope.ts';
import { refActivation } from '../../ref/activation.ts';
import { refPatchify, refUnpatchify } from '../../ref/layout.ts';
import { layerNorm, rmsNorm } from '../../../src/kernels/norm/rows.ts';
import { rope, ropeTables, type RopeGrid } from '../../../src/kernels/elementwise/rope.ts';
import { binary } from '../../../src/kernels/elementwise/binary.ts';
import { activation } from '../../../src/kernels/elementwise/activation.ts';
import { patchify, unpatchify } from '../../../src/kernels/layout/gather.ts';
import { roundThrough, type DType } from '../../../src/runtime/dtype.ts';
import { encodeForStorage, type EgoxDevice } from '../../../src/runtime/device.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';

const device = useDevice();

async function poisoned(dev: EgoxDevice, shape: number[], dtype: DType): Promise<Tensor> {
  const t = dev.empty(shape, dtype);
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
  return t;
}

/**
 * Runs `launch(limit, out)` unsplit (limit undefined) and split; checks the split one used at
 * least `minDispatches` and wrote the same bits; returns the split output.
 */
async function splitVsUnsplit(
  dev: EgoxDevice,
  shape: number[],
  dtype: DType,
  minDispatches: number,
  launch: (limit: number | undefined, out: Tensor) => void | Promise<void>,
  limit: number,
): Promise<Float32Array> {
  const results: Float32Array[] = [];
  for (const l of [undefined, limit]) {
    const out = await poisoned(dev, shape, dtype);
    const before = dev.dispatchCount;
    await launch(l, out);
    const n = dev.dispatchCount - before;
    if (l !== undefined) expect(n, 'dispatches of the split run').toBeGreaterThanOrEqual(minDispatches);
    results.push(await dev.read(out));
  }
  const [whole, split] = results as [Float32Array, Float32Array];
  expect(split.every(Number.isFinite), 'every element written').toBe(true);
  expect(Buffer.from(split.buffer).equals(Buffer.from(whole.buffer)), 'split == unsplit, bitwise').toBe(true);
  return split;
}

describe('row norms over the binding limit', () => {
  for (const [kind, dtype] of [['layer', 'f32'], ['rms', 'f32'], ['layer', 'bf16']] as const) {
    it(`${kind}norm, ${dtype} x, adaLN modulation at offsets of one [6, C] tensor`, async () => {
      const dev = await device();
      const [rows, C] = [37, 40];
      const xs = roundThrough(randomF32(rows * C, 2), dtype);
      const mod = randomF32(6 * C, 0.5);
      const w = randomF32(C);
      const x = await dev.upload(xs, [rows, C], dtype);
      const m = await dev.upload(mod, [6, C], 'f32');
      const wt = await dev.upload(w, [C], 'f32');
      const f = kind === 'layer' ? layerNorm : rmsNorm;
      // 1 000 bytes: 4 rows of 160 bytes per window, 10 windows.
      const got = await splitVsUnsplit(dev, [rows, C], 'f32', 10, (limit, out) => {
        f(dev, x, { eps: 1e-6, weight: kind === 'rms' ? wt : undefined, modulation: { shift: m, scale: m, shiftOffset: 3 * C, scaleOffset: C }, out, maxBindingBytes: limit });
      }, 1000);
      const want = refRowNorm(xs, rows, C, { kind, eps: 1e-6, weight: kind === 'rms' ? w : undefined, shift: mod.subarray(3 * C, 4 * C), scale: mod.subarray(C, 2 * C) });
      expect(relL2(got, want)).toBeLessThanOrEqual(1e-5);
    });
  }
});

describe('RoPE over the binding limit', () => {
  for (const dtype of ['f32', 'bf16'] as const) {
    for (const inPlace of [false, true]) {
      it(`${dtype}, ${inPlace ? 'in place' : 'to an output'}`, async () => {
        const dev = await device();
        const grid: RopeGrid = [2, 3, 5];
        const [H, D] = [3, 16];
        const L = 30;
        const xs = roundThrough(randomF32(L * H * D), dtype);
        const table = await ropeTables(dev, grid, D);
        const got = await splitVsUnsplit(dev, [L, H * D], dtype, 8, async (limit, out) => {
          if (inPlace) {
            await dev.write(out, encodeForStorage(xs, dtype)); // x is the output: rotated in place
            rope(dev, out, table, { grid, heads: H, maxBindingBytes: limit });
          } else {
            const x = await dev.upload(xs, [L, H * D], dtype);
            rope(dev, x, table, { grid, heads: H, out, maxBindingBytes: limit });
          }
        }, dtype === 'f32' ? 1000 : 600); // 3 tokens of 192 (f32) or 96 (bf16) bytes per window
        const want = refRope(xs, { grid, heads: H, headDim: D });
        expect(relL2(got, want)).toBeLessThanOrEqual(dtype === 'f32' ? 1e-6 : 4e-3);
      });
    }
  }
});

describe('elementwise, activation and layout ops over the binding limit', () => {
  it('add: same-size and repeating b, f32 and bf16', async () => {
    const dev = await device();
    const n = 37 * 40;
    for (const dtype of ['f32', 'bf16'] as const) {
      for (const nb of [n, 40]) {
        const as = roundThrough(randomF32(n), dtype);
        const bs = roundThrough(randomF32(nb), dtype);
        const a = await dev.upload(as, [n], dtype);
        const b = await dev.upload(bs, [nb], dtype);
        const got = await splitVsUnsplit(dev, [n], dtype, 5, (limit, out) => void binary(dev, 'add', a, b, out, limit), 1000);
        const want = Float64Array.from(as, (x, i) => x + bs[i % nb]!);
        expect(relL2(got, want), `${dtype} b of ${nb}`).toBeLessThanOrEqual(dtype === 'f32' ? 1e-7 : 4e-3);
      }
    }
  });

  it('silu (f32) and gated gelu_tanh (bf16)', async () => {
    const dev = await device();
    const n = 1001;
    const xs = randomF32(n, 4);
    const x = await dev.upload(xs, [n], 'f32');
    const got = await splitVsUnsplit(dev, [n], 'f32', 4, (limit, out) => void activation(dev, x, 'silu', { out, maxBindingBytes: limit }), 1200);
    expect(relL2(got, refActivation('silu', xs))).toBeLessThanOrEqual(1e-6);
    const m = 1000;
    const hs = roundThrough(randomF32(m, 4), 'bf16');
    const gs = roundThrough(randomF32(m), 'bf16');
    const h = await dev.upload(hs, [m], 'bf16');
    const g = await dev.upload(gs, [m], 'bf16');
    const got2 = await splitVsUnsplit(dev, [m], 'bf16', 4, (limit, out) => void activation(dev, h, 'gelu_tanh', { gate: g, out, maxBindingBytes: limit }), 700);
    expect(relL2(got2, refActivation('gelu_tanh', hs, gs))).toBeLessThanOrEqual(4e-3);
  });

  for (const dtype of ['f32', 'bf16'] as const) {
    it(`patchify and unpatchify (${dtype}): exact copies`, async () => {
      const dev = await device();
      const [C, F, H, W] = [5, 2, 4, 6];
      const xs = roundThrough(randomF32(C * F * H * W), dtype);
      const x = await dev.upload(xs, [C, F, H, W], dtype);
      const L = F * (H / 2) * (W / 2);
      const limit = dtype === 'f32' ? 600 : 400;
      const tok = await splitVsUnsplit(dev, [L, C * 4], dtype, 4, (l, out) => void patchify(dev, x, [1, 2, 2], out, l), limit);
      expect([...tok]).toEqual(refPatchify(xs, [C, F, H, W], [1, 2, 2]));
      const t = await dev.upload(tok, [L, C * 4], dtype);
      const back = await splitVsUnsplit(dev, [C, F, H, W], dtype, 4, (l, out) => void unpatchify(dev, t, [F, H / 2, W / 2], [1, 2, 2], out, l), limit);
      expect([...back]).toEqual(refUnpatchify(tok, [F, H / 2, W / 2], [1, 2, 2], C));
    });
  }
});
