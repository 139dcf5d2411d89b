import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { refAttention, refIsEgoQuery, type RefEgoBias } from '../../ref/attention.ts';
import { attention, chooseAttentionVariant, type AttentionVariant } from '../../../src/kernels/attention/index.ts';
import { roundThrough, type DType, type FloatDType } from '../../../src/runtime/dtype.ts';
import { encodeForStorage, type EgoxDevice } from '../../../src/runtime/device.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';
import { KernelChoices } from '../../../src/runtime/kernel-context.ts';

const device = useDevice();
const BOUND = { f32: 1e-5, f16: 3e-3, bf16: 3e-3 } as const;

interface Case {
  variant: AttentionVariant;
  D: number;
  dtype: FloatDType;
  lambda?: number; // EgoX bias on when set
  scale?: number;
  accumulate?: boolean;
}

// Odd sizes that are multiples of no tile; an ego grid of 2 rows x 7 columns with ego columns
// 4..6, so queries mix ego and exo and the last frame is partial.
const LQ = 37;
const LK = 53;
const H = 3;
const EGO = { tokensPerFrame: 14, gridWidth: 7, egoColStart: 4 };

async function poisoned(dev: EgoxDevice, shape: number[], dtype: DType): Promise<Tensor> {
  const t = dev.empty(shape, dtype);
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
  return t;
}

async function runCase(c: Case): Promise<void> {
  const dev = await device();
  const { D, dtype } = c;
  // q scaled up so the softmax is peaked, not nearly uniform.
  const q = roundThrough(randomF32(LQ * H * D, 3), dtype);
  const k = roundThrough(randomF32(LK * H * D), dtype);
  const v = roundThrough(randomF32(LK * H * D), dtype);
  const qt = await dev.upload(q, [LQ, H * D], dtype);
  const kt = await dev.upload(k, [LK, H * D], dtype);
  const vt = await dev.upload(v, [LK, H * D], dtype);
  let ego: RefEgoBias | undefined;
  let egoBias;
  if (c.lambda !== undefined) {
    const frames = Math.ceil(LQ / EGO.tokensPerFrame);
    // Components in [-1, 1): |dot| reaches past 1, so the clamp is exercised.
    const qdir = randomF32(LQ * 3);
    const kdir = randomF32(frames * LK * 3);
    ego = { qdir, kdir, ...EGO, lambda: c.lambda };
    egoBias = { qdir: await dev.upload(qdir, [LQ, 3], 'f32'), kdir: await dev.upload(kdir, [frames, LK, 3], 'f32'), ...EGO, lambda: c.lambda };
  }
  const out = await poisoned(dev, [LQ, H * D], dtype);
  let prior: Float32Array | undefined;
  if (c.accumulate) {
    prior = roundThrough(randomF32(LQ * H * D), dtype);
    await dev.write(out, encodeForStorage(prior, dtype));
  }
  attention(dev, qt, kt, vt, { heads: H, out, variant: c.variant, scale: c.scale, egoBias, accumulate: c.accumulate });
  const got = await dev.read(out);
  const args = { lq: LQ, lk: LK, heads: H, headDim: D, scale: c.scale };
  const want = refAttention(q, k, v, { ...args, egoBias: ego });
  if (prior) for (let i = 0; i < want.length; i++) want[i] += prior[i]!;
  expect(got.every(Number.isFinite), 'no NaN left from the poisoned output').toBe(true);
  expect(relL2(got, want)).toBeLessThanOrEqual(BOUND[dtype]);
  if (ego) {
    // The bias must matter for this input (else the comparison above proves nothing)...
    const plain = refAttention(q, k, v, args);
    expect(relL2(plain, want)).toBeGreaterThan(0.02);
    // ...and exo queries must not see it.
    for (let qi = 0; qi < LQ; qi++) {
      if (refIsEgoQuery(qi, ego)) continue;
      const row = (a: ArrayLike<number>) => Array.from({ length: H * D }, (_, i) => a[qi * H * D + i]!);
      expect(relL2(row(got), row(plain))).toBeLessThanOrEqual(BOUND[dtype]);
    }
  }
}

function name(c: Case): string {
  const bias = c.lambda === undefined ? 'no bias' : `EgoX bias lambda=${c.lambda}`;
  return `${c.variant} D=${c.D} ${c.dtype} ${bias}${c.scale !== undefined ? ` scale=${c.scale}` : ''}${c.accumulate ? ' accumulate' : ''}`;
}

// Few distinct pipelines on purpose: the unrolled subgroup kernels take seconds each to
// compile on lavapipe. Scale and sizes are uniforms and reuse a pipeline.
const FLASH: Case[] = [
  { variant: 'flash', D: 64, dtype: 'f32' },
  { variant: 'flash', D: 64, dtype: 'f32', scale: 1 },
  { variant: 'flash', D: 128, dtype: 'f32' },
  { variant: 'flash', D: 64, dtype: 'bf16', lambda: 3 },
  { variant: 'flash', D: 128, dtype: 'f16', lambda: 0.5 },
  { variant: 'flash', D: 64, dtype: 'f32', accumulate: true },
  { variant: 'flash', D: 384, dtype: 'f32' }, // the VAE's single-head attention over 384 channels
];
const SUBGROUP: Case[] = [
  { variant: 'subgroup', D: 64, dtype: 'f32' },
  { variant: 'subgroup', D: 64, dtype: 'f32', scale: 1 },
  { variant: 'subgroup', D: 128, dtype: 'bf16' },
  { variant: 'subgroup', D: 64, dtype: 'f32', lambda: 3 }, // lambda <= 1 shares its code with flash's test
];

describe('attention (flash, online softmax) vs float64', () => {
  for (const c of FLASH) it(name(c), () => runCase(c));
});

describe('attention subgroup variant vs float64', () => {
  for (const c of SUBGROUP) {
    it(name(c), async (ctx) => {
      const dev = await device();
      if (chooseAttentionVariant(dev, c.D).variant !== 'subgroup') ctx.skip(); // needs a CPU adapter with fixed subgroups
      await runCase(c);
    });
  }
});

describe('attention at L = 4096', () => {
  it('runs without any L x L buffer and matches the reference on sampled rows', async () => {
    const dev = await device();
    const L = 4096;
    const D = 64;
    const q = randomF32(L * D, 3);
    const k = randomF32(L * D);
    const v = randomF32(L * D);
    const qt = await dev.upload(q, [L, 1, D], 'f32');
    const kt = await dev.upload(k, [L, 1, D], 'f32');
    const vt = await dev.upload(v, [L, 1, D], 'f32');
    await dev.sync();
    const before = { ...dev.pool.stats };
    const out = attention(dev, qt, kt, vt);
    const got = await dev.read(out);
    const after = dev.pool.stats;
    // The launcher allocates the output and nothing else; peak memory stays far below L*L*4.
    expect(after.created + after.reused - before.created - before.reused).toBe(1);
    expect(after.peakBytes).toBeLessThan((L * L * 4) / 8);
    const rows = [0, 1, 777, 2048, 4001, L - 1];
    const want = refAttention(q, k, v, { lq: L, lk: L, heads: 1, headDim: D }, rows);
    const pick = (a: ArrayLike<number>) => rows.flatMap((r) => Array.from({ length: D }, (_, i) => a[r * D + i]!));
    expect(relL2(pick(got), pick(want))).toBeLessThanOrEqual(1e-5);
  });
});

describe('attention input errors', () => {
  it('rejects mismatched shapes and dtypes with exit code 2', async () => {
    const dev = await device();
    const a = dev.empty([5, 2 * 64], 'f32');
    const b = dev.empty([6, 3 * 64], 'f32');
    const c = dev.empty([6, 2 * 64], 'bf16');
    expect(() => attention(dev, a, b, b, { heads: 2 })).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(() => attention(dev, a, c, c, { heads: 2 })).toThrow(/share one float dtype/);
    expect(() => attention(dev, a, a, a)).toThrow(/opts.heads/);
  });
});

describe('attention variant choice', () => {
  const adapter = (over: object) => ({ vendor: 'x', architecture: 'x', device: 'x', description: 'x', isFallbackAdapter: false, ...over });
  const info = (a: object, subgroups = true) => ({ adapter: adapter(a), has: (f: string) => f === 'subgroups' && subgroups, choices: new KernelChoices() });
  it('uses the subgroup variant on lavapipe up to D = 128 and flash elsewhere', () => {
    const lavapipe = info({ architecture: 'software', isFallbackAdapter: true, subgroupMinSize: 8, subgroupMaxSize: 8 });
    expect(chooseAttentionVariant(lavapipe, 64)).toEqual({ variant: 'subgroup', subgroupSize: 8 });
    expect(chooseAttentionVariant(lavapipe, 128).variant).toBe('subgroup');
    expect(chooseAttentionVariant(lavapipe, 384).variant).toBe('flash');
    expect(chooseAttentionVariant(info({ architecture: 'software', subgroupMinSize: 8, subgroupMaxSize: 8 }, false), 64).variant).toBe('flash');
    expect(chooseAttentionVariant(info({ vendor: 'nvidia', subgroupMinSize: 32, subgroupMaxSize: 32 }), 128).variant).toBe('flash');
  });
});
