// Attention over Q/K/V/O larger than maxStorageBufferBindingSize (the 14B DiT's [28028, 5120]
// f32 activations are 574 MB; lavapipe binds 128 MiB): queries split into row windows, keys
// and values into chunks that carry the online-softmax state. Tested with a small artificial
// limit: split == unsplit bitwise, and both match the float64 reference.
import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { refAttention, type RefEgoBias } from '../../ref/attention.ts';
import { attention, chooseAttentionVariant, type AttentionVariant } from '../../../src/kernels/attention/index.ts';
import { roundThrough, type DType } from '../../../src/runtime/dtype.ts';
import type { EgoxDevice } from '../../../src/runtime/device.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';

const device = useDevice();

async function poisoned(dev: EgoxDevice, shape: number[], dtype: DType): Promise<Tensor> {
  const t = dev.empty(shape, dtype);
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
  return t;
}

interface Case {
  variant: AttentionVariant;
  dtype: 'f32' | 'bf16';
  lq: number;
  lk: number;
  /** EgoX bias with this many tokens per frame (7 columns, ego from column 4). */
  tpf?: number;
  limit: number;
}

const H = 2;
const D = 32;

/** Runs split (limit) and unsplit; returns both outputs, the reference and the split's dispatch count. */
async function runCase(c: Case) {
  const dev = await device();
  const q = roundThrough(randomF32(c.lq * H * D, 3), c.dtype);
  const k = roundThrough(randomF32(c.lk * H * D), c.dtype);
  const v = roundThrough(randomF32(c.lk * H * D), c.dtype);
  const qt = await dev.upload(q, [c.lq, H * D], c.dtype);
  const kt = await dev.upload(k, [c.lk, H * D], c.dtype);
  const vt = await dev.upload(v, [c.lk, H * D], c.dtype);
  let ego: RefEgoBias | undefined;
  let egoBias;
  if (c.tpf) {
    const grid = { tokensPerFrame: c.tpf, gridWidth: 7, egoColStart: 4 };
    const frames = Math.ceil(c.lq / c.tpf);
    const qdir = randomF32(c.lq * 3);
    const kdir = randomF32(frames * c.lk * 3);
    ego = { qdir, kdir, ...grid, lambda: 3 };
    egoBias = { qdir: await dev.upload(qdir, [c.lq, 3], 'f32'), kdir: await dev.upload(kdir, [frames, c.lk, 3], 'f32'), ...grid, lambda: 3 };
  }
  const outs: Float32Array[] = [];
  let dispatches = 0;
  for (const limit of [undefined, c.limit]) {
    const out = await poisoned(dev, [c.lq, H * D], 'f32');
    const before = dev.dispatchCount;
    attention(dev, qt, kt, vt, { heads: H, out, variant: c.variant, egoBias, maxBindingBytes: limit });
    dispatches = dev.dispatchCount - before;
    outs.push(await dev.read(out));
  }
  const want = refAttention(q, k, v, { lq: c.lq, lk: c.lk, heads: H, headDim: D, egoBias: ego });
  return { unsplit: outs[0]!, split: outs[1]!, want, dispatches };
}

// Rows are H * D * 4 = 256 bytes (f32 windows bind up to limit - 264 bytes): a 20 000-byte
// limit gives 77-row query windows and 72-key chunks (whole multiples of the 8-key blocks of
// both variants at D = 32 on lavapipe).
const CASES: Case[] = [
  // 3 key chunks (first, middle, last with 56 keys), 2 query windows, no bias.
  { variant: 'subgroup', dtype: 'f32', lq: 150, lk: 200, limit: 20_000 },
  // EgoX bias, 30-token frames: windows of 2 whole frames; keys in 3 chunks.
  { variant: 'subgroup', dtype: 'f32', lq: 150, lk: 150, tpf: 28, limit: 20_000 },
  // Frames larger than a window (98 tokens > 77): windows inside frames.
  { variant: 'subgroup', dtype: 'f32', lq: 196, lk: 130, tpf: 98, limit: 20_000 },
  // bf16 q/k/v (rows of 128 bytes): 72-key chunks from a 10 000-byte limit, f32 output.
  { variant: 'subgroup', dtype: 'bf16', lq: 150, lk: 200, tpf: 28, limit: 10_000 },
  { variant: 'flash', dtype: 'f32', lq: 150, lk: 200, tpf: 28, limit: 20_000 },
  { variant: 'flash', dtype: 'f32', lq: 196, lk: 130, tpf: 98, limit: 20_000 },
];

describe('attention over the binding limit', () => {
  for (const c of CASES) {
    it(`${c.variant} ${c.dtype} Lq ${c.lq} Lk ${c.lk}${c.tpf ? ` EgoX ${c.tpf}/frame` : ''}`, { timeout: 300_000 }, async (ctx) => {
      const dev = await device();
      if (c.variant === 'subgroup' && chooseAttentionVariant(dev, D).variant !== 'subgroup') ctx.skip(); // needs a CPU adapter with fixed subgroups
      const { unsplit, split, want, dispatches } = await runCase(c);
      const qWindows = Math.ceil(c.lq / 77);
      expect(dispatches, 'query windows x key chunks').toBeGreaterThanOrEqual(qWindows * Math.ceil(c.lk / 72));
      expect(Math.ceil(c.lk / 72), 'the case has first, middle and last chunks').toBeGreaterThanOrEqual(c.lk > 144 ? 3 : 2);
      expect(split.every(Number.isFinite), 'every output row written').toBe(true);
      expect(Buffer.from(split.buffer).equals(Buffer.from(unsplit.buffer)), 'split == unsplit, bitwise').toBe(true);
      expect(relL2(split, want)).toBeLessThanOrEqual(c.dtype === 'f32' ? 1e-5 : 1e-5);
    });
  }

  it('keys split only into an f32 output without accumulate', async () => {
    const dev = await device();
    const q = await dev.upload(randomF32(100 * H * D), [100, H * D], 'bf16');
    const k = await dev.upload(randomF32(200 * H * D), [200, H * D], 'bf16');
    const out = dev.empty([100, H * D], 'bf16');
    expect(() => attention(dev, q, k, k, { heads: H, out, maxBindingBytes: 10_000 })).toThrow(/f32 output without accumulate/);
    // Queries alone split into any output dtype.
    const small = await dev.upload(randomF32(40 * H * D), [40, H * D], 'bf16');
    const before = dev.dispatchCount;
    attention(dev, q, small, small, { heads: H, out, maxBindingBytes: 12_000 });
    expect(dev.dispatchCount - before).toBeGreaterThan(1);
    const got = await dev.read(out);
    expect(got.every(Number.isFinite)).toBe(true);
  });
});
