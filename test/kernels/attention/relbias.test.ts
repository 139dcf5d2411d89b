import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { refAttentionRelBias, refT5Bucket } from '../../ref/attention-relbias.ts';
import { attentionRelBias, t5Bucket, t5BucketSteps } from '../../../src/kernels/attention/relbias.ts';
import { SafetensorsFile } from '../../../src/io/safetensors.ts';
import type { EgoxDevice } from '../../../src/runtime/device.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';

const device = useDevice();
const T5 = { numBuckets: 32, maxDistance: 128 };

async function poisoned(dev: EgoxDevice, shape: number[]): Promise<Tensor> {
  const t = dev.empty(shape, 'f32');
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff)); // NaN
  return t;
}

interface Case {
  lq: number;
  lk: number;
  H: number;
  D: number;
  bias: boolean;
  valid?: number;
  scale?: number;
}

async function runCase(c: Case): Promise<number> {
  const dev = await device();
  const { lq, lk, H, D } = c;
  const q = randomF32(lq * H * D, 0.8);
  const k = randomF32(lk * H * D);
  const v = randomF32(lk * H * D);
  const table = randomF32(T5.numBuckets * H, 2);
  // On the GPU the padded keys hold NaN: the kernel must never read them into the sums.
  const kGpu = k.slice();
  const vGpu = v.slice();
  if (c.valid !== undefined) {
    kGpu.fill(NaN, c.valid * H * D);
    vGpu.fill(NaN, c.valid * H * D);
  }
  const out = await poisoned(dev, [lq, H * D]);
  attentionRelBias(dev, await dev.upload(q, [lq, H * D], 'f32'), await dev.upload(kGpu, [lk, H * D], 'f32'), await dev.upload(vGpu, [lk, H * D], 'f32'), {
    heads: H,
    scale: c.scale,
    bias: c.bias ? { ...T5, table: await dev.upload(table, [T5.numBuckets, H], 'f32') } : undefined,
    validKeys: c.valid !== undefined ? await dev.upload(new Uint32Array([c.valid]), [1], 'u32') : undefined,
    out,
  });
  const got = await dev.read(out);
  const want = refAttentionRelBias(q, k, v, { lq, lk, heads: H, headDim: D, scale: c.scale, bias: c.bias ? { ...T5, table } : undefined, validKeys: c.valid });
  expect(got.every(Number.isFinite)).toBe(true);
  return relL2(got, want);
}

describe('T5 bucketing', () => {
  it('the step table gives the log formula for every distance up to 600', () => {
    const steps = t5BucketSteps(T5);
    expect(steps.length).toBe(7); // buckets 9..15 of each half
    for (let r = -600; r <= 600; r++) {
      const d = Math.abs(r);
      const viaSteps = (r > 0 ? 16 : 0) + (d < 8 ? d : 8 + steps.filter((s) => d >= s).length);
      expect(viaSteps, `r=${r}`).toBe(refT5Bucket(r, T5));
      expect(t5Bucket(r, T5)).toBe(viaSteps);
    }
  });

  it('matches the float32 buckets of the PyTorch reference (r = -191..191)', async () => {
    const f = await SafetensorsFile.open('test/golden/umt5/cases.safetensors');
    const b = await f.read('relative_position_bucket');
    const golden = new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    await f.close();
    expect(golden.length).toBe(383);
    for (let i = 0; i < golden.length; i++) expect(t5Bucket(i - 191, T5), `r=${i - 191}`).toBe(golden[i]);
  });
});

describe('attention-relbias vs float64 reference', () => {
  // 203 positions: distances up to 202, past the 128 max distance; odd sizes fit no tile.
  const cases: [string, Case][] = [
    ['T5 bias + mask, D=8', { lq: 203, lk: 203, H: 3, D: 8, bias: true, valid: 141 }],
    ['T5 bias + mask, D=64', { lq: 203, lk: 203, H: 2, D: 64, bias: true, valid: 77 }],
    ['T5 bias, no mask, Lq != Lk, D=12', { lq: 37, lk: 150, H: 5, D: 12, bias: true }],
    ['mask of 1 key, D=16', { lq: 45, lk: 45, H: 2, D: 16, bias: true, valid: 1 }],
    ['no bias, scaled (CLIP), D=80', { lq: 67, lk: 67, H: 2, D: 80, bias: false, scale: 80 ** -0.5 }],
    ['no bias, scaled, D=8', { lq: 10, lk: 10, H: 4, D: 8, bias: false, scale: 8 ** -0.5 }],
  ];
  for (const [name, c] of cases) {
    it(name, async () => {
      const err = await runCase(c);
      expect(err, `relative L2 ${err}`).toBeLessThan(1e-5);
    });
  }

  it('the bias and the mask change the result (the test can fail)', async () => {
    const dev = await device();
    const L = 40, H = 2, D = 8;
    const q = randomF32(L * H * D), k = randomF32(L * H * D), v = randomF32(L * H * D), table = randomF32(32 * H, 2);
    const plain = refAttentionRelBias(q, k, v, { lq: L, lk: L, heads: H, headDim: D });
    const biased = refAttentionRelBias(q, k, v, { lq: L, lk: L, heads: H, headDim: D, bias: { ...T5, table } });
    const masked = refAttentionRelBias(q, k, v, { lq: L, lk: L, heads: H, headDim: D, validKeys: 20 });
    expect(relL2(biased, plain)).toBeGreaterThan(1e-2);
    expect(relL2(masked, plain)).toBeGreaterThan(1e-2);
    const out = attentionRelBias(dev, await dev.upload(q, [L, H * D], 'f32'), await dev.upload(k, [L, H * D], 'f32'), await dev.upload(v, [L, H * D], 'f32'), { heads: H });
    expect(relL2(await dev.read(out), plain)).toBeLessThan(1e-5);
  });
});
