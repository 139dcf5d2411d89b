// The subgroup-matrix (tensor-core) attention variant. No machine here has the feature, so the
// kernel runs through SubgroupMatrixWgsl's plain-WGSL emulation on this adapter (same tiling,
// staging, softmax and f16 rounding of Q, K, V and P) against the float64 reference, and
// its real form is compiled by Tint on Dawn's null backend. Emulated pipelines compile
// slowly on lavapipe (seconds each): few distinct specs, small shapes.
import { afterAll, describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { closeNullBackendDevice, tintDiagnostics } from '../../helpers/null-backend.ts';
import { refAttention, refIsEgoQuery, type RefEgoBias } from '../../ref/attention.ts';
import { attention, attentionProgram, chooseAttentionVariant, type AttentionSpec } from '../../../src/kernels/attention/index.ts';
import { sgmAttentionTiles } from '../../../src/kernels/attention/sgmatrix.ts';
import { setSubgroupMatricesTrusted, type SgmShape } from '../../../src/kernels/shared/subgroup-matrix.ts';
import { roundThrough, type DType, type FloatDType } from '../../../src/runtime/dtype.ts';
import { encodeForStorage, type EgoxDevice } from '../../../src/runtime/device.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';
import { KernelChoices } from '../../../src/runtime/kernel-context.ts';

const device = useDevice();

const F16_16x16x16: SgmShape = { M: 16, N: 16, K: 16, component: 'f16', result: 'f32' }; // NVIDIA
const F16_16x8x16: SgmShape = { M: 16, N: 8, K: 16, component: 'f16', result: 'f32' }; // NVIDIA
const F32_8x8x8: SgmShape = { M: 8, N: 8, K: 8, component: 'f32', result: 'f32' }; // Apple simdgroup_float8x8
const F16_8x8x8: SgmShape = { M: 8, N: 8, K: 8, component: 'f16', result: 'f16' }; // Apple simdgroup_half8x8
/** Not a hardware config: the f32-component path at a size lavapipe compiles quickly. */
const F32_16x16x16: SgmShape = { M: 16, N: 16, K: 16, component: 'f32', result: 'f32' };

/** f16 Q, K, V and P: the 16-bit precision class. */
const BOUND_F16 = 3e-3;
const EGO = { tokensPerFrame: 28, gridWidth: 7, egoColStart: 4 };

async function poisoned(dev: EgoxDevice, shape: number[], dtype: DType): Promise<Tensor> {
  const t = dev.empty(shape, dtype);
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
  return t;
}

interface Problem {
  lq: number;
  lk: number;
  H: number;
  D: number;
  dtype: FloatDType;
  outDtype?: FloatDType;
  /** EgoX bias with this lambda (EGO grid). */
  lambda?: number;
  accumulate?: boolean;
  sgm: SgmShape;
}

/** Uploads random inputs, runs the emulated variant (optionally split), returns output and float64 reference. */
async function run(p: Problem, maxBindingBytes?: number) {
  const dev = await device();
  const { lq, lk, H, D, dtype } = p;
  const outDtype = p.outDtype ?? dtype;
  // q scaled up so the softmax is peaked, not nearly uniform; inputs not pre-rounded to f16.
  const q = roundThrough(randomF32(lq * H * D, 3), dtype);
  const k = roundThrough(randomF32(lk * H * D), dtype);
  const v = roundThrough(randomF32(lk * H * D), dtype);
  let ego: RefEgoBias | undefined;
  let egoBias;
  if (p.lambda !== undefined) {
    const frames = Math.ceil(lq / EGO.tokensPerFrame);
    const qdir = randomF32(lq * 3);
    const kdir = randomF32(frames * lk * 3);
    ego = { qdir, kdir, ...EGO, lambda: p.lambda };
    egoBias = { qdir: await dev.upload(qdir, [lq, 3], 'f32'), kdir: await dev.upload(kdir, [frames, lk, 3], 'f32'), ...EGO, lambda: p.lambda };
  }
  const out = await poisoned(dev, [lq, H * D], outDtype);
  let prior: Float32Array | undefined;
  if (p.accumulate) {
    prior = roundThrough(randomF32(lq * H * D), outDtype);
    await dev.write(out, encodeForStorage(prior, outDtype));
  }
  const tensors = [await dev.upload(q, [lq, H * D], dtype), await dev.upload(k, [lk, H * D], dtype), await dev.upload(v, [lk, H * D], dtype)] as const;
  const before = dev.dispatchCount;
  attention(dev, ...tensors, { heads: H, out, egoBias, accumulate: p.accumulate, maxBindingBytes, variant: 'sgmatrix', sgmatrix: { shape: p.sgm, emulate: true } });
  const dispatches = dev.dispatchCount - before;
  const got = await dev.read(out);
  const args = { lq, lk, heads: H, headDim: D };
  const want = refAttention(q, k, v, { ...args, egoBias: ego });
  const plain = ego ? refAttention(q, k, v, args) : undefined;
  if (prior) {
    for (let i = 0; i < want.length; i++) want[i] += prior[i]!;
    if (plain) for (let i = 0; i < plain.length; i++) plain[i] += prior[i]!;
  }
  return { got, want, plain, ego, dispatches };
}

async function expectMatches(p: Problem, bound: number): Promise<void> {
  const { got, want, plain, ego } = await run(p);
  expect(got.every(Number.isFinite), 'no NaN left from the poisoned output').toBe(true);
  expect(relL2(got, want)).toBeLessThanOrEqual(bound);
  if (plain && ego) {
    // The bias must matter for this input, and exo queries must not see it.
    expect(relL2(plain, want)).toBeGreaterThan(0.02);
    const HD = p.H * p.D;
    for (let qi = 0; qi < p.lq; qi++) {
      if (refIsEgoQuery(qi, ego)) continue;
      const row = (a: ArrayLike<number>) => Array.from({ length: HD }, (_, i) => a[qi * HD + i]!);
      expect(relL2(row(got), row(plain))).toBeLessThanOrEqual(bound);
    }
  }
}

describe('attention sgmatrix variant, emulated, vs float64', () => {
  it('f16 16x16x16, D 128, f16 storage into f32, EgoX bias lambda 3, 2 heads', async () => {
    await expectMatches({ lq: 37, lk: 53, H: 2, D: 128, dtype: 'f16', outDtype: 'f32', lambda: 3, sgm: F16_16x16x16 }, BOUND_F16);
  });

  it('f16 16x8x16, D 64, bf16 storage, EgoX bias lambda 0.5, accumulate, 3 heads', async () => {
    await expectMatches({ lq: 37, lk: 53, H: 3, D: 64, dtype: 'bf16', lambda: 0.5, accumulate: true, sgm: F16_16x8x16 }, BOUND_F16);
  });

  it('f32 components (16x16x16: an f32 config, f32 precision), D 64, f32 storage, 3 heads, Lq 37 Lk 53; cross-attention over 257 and 512 keys', async () => {
    // 8x8x8 f32 (Apple's config) is checked through Tint below: emulated, its fully
    // unrolled 8-loops take lavapipe over a minute to compile. The kernel logic is the same.
    await expectMatches({ lq: 37, lk: 53, H: 3, D: 64, dtype: 'f32', sgm: F32_16x16x16 }, 1e-5);
    // Wan's I2V cross-attention contexts: 257 image tokens (a 1-key tail block), 512 text tokens.
    await expectMatches({ lq: 37, lk: 257, H: 2, D: 64, dtype: 'f32', sgm: F32_16x16x16 }, 1e-5);
    await expectMatches({ lq: 20, lk: 512, H: 2, D: 64, dtype: 'f32', sgm: F32_16x16x16 }, 1e-5);
  });

  it('split over the binding limit (query windows inside frames, 4 key chunks) == unsplit', async () => {
    // f16 rows of 512 bytes, f32 output rows of 1024: a 20 000-byte limit gives 19-query
    // windows (EgoX frames of 28 split in two) and 32-key chunks (two 16-key blocks at D 128).
    const p: Problem = { lq: 37, lk: 100, H: 2, D: 128, dtype: 'f16', outDtype: 'f32', lambda: 3, sgm: F16_16x16x16 };
    expect(sgmAttentionTiles(128, F16_16x16x16)?.bk).toBe(16);
    const dev = await device();
    const q = roundThrough(randomF32(p.lq * p.H * p.D, 3), 'f16');
    const k = roundThrough(randomF32(p.lk * p.H * p.D), 'f16');
    const v = roundThrough(randomF32(p.lk * p.H * p.D), 'f16');
    const frames = Math.ceil(p.lq / EGO.tokensPerFrame);
    const qdir = randomF32(p.lq * 3);
    const kdir = randomF32(frames * p.lk * 3);
    const egoBias = { qdir: await dev.upload(qdir, [p.lq, 3], 'f32'), kdir: await dev.upload(kdir, [frames, p.lk, 3], 'f32'), ...EGO, lambda: 3 };
    const HD = p.H * p.D;
    const qt = await dev.upload(q, [p.lq, HD], 'f16');
    const kt = await dev.upload(k, [p.lk, HD], 'f16');
    const vt = await dev.upload(v, [p.lk, HD], 'f16');
    const outs: Float32Array[] = [];
    let dispatches = 0;
    for (const limit of [undefined, 20_000]) {
      const out = await poisoned(dev, [p.lq, HD], 'f32');
      const before = dev.dispatchCount;
      attention(dev, qt, kt, vt, { heads: p.H, out, egoBias, maxBindingBytes: limit, variant: 'sgmatrix', sgmatrix: { shape: p.sgm, emulate: true } });
      dispatches = dev.dispatchCount - before;
      outs.push(await dev.read(out));
    }
    const [unsplit, split] = outs as [Float32Array, Float32Array];
    expect(dispatches, '3 query windows x 4 key chunks (first, middle, middle, last)').toBe(12);
    expect(split.every(Number.isFinite), 'every output row written').toBe(true);
    const want = refAttention(q, k, v, { lq: p.lq, lk: p.lk, heads: p.H, headDim: p.D, egoBias: { qdir, kdir, ...EGO, lambda: 3 } });
    expect(relL2(unsplit, want)).toBeLessThanOrEqual(BOUND_F16);
    // Chunks of whole key blocks repeat the unsplit arithmetic: the same result, bitwise.
    expect(Buffer.from(split.buffer).equals(Buffer.from(unsplit.buffer)), 'split == unsplit, bitwise').toBe(true);
  });

  it('rejects head dims that are not multiples of the config, and the real form without the feature', async () => {
    const dev = await device();
    const t = await dev.upload(randomF32(8 * 72), [8, 72], 'f16');
    expect(() => attention(dev, t, t, t, { heads: 1, variant: 'sgmatrix', sgmatrix: { shape: F16_16x16x16, emulate: true } })).toThrow(
      /head dim 72 is not a multiple of the subgroup-matrix config's K = 16 and N = 16/,
    );
    if (!dev.has('chromium-experimental-subgroup-matrix')) {
      const u = await dev.upload(randomF32(8 * 64), [8, 64], 'f16');
      expect(() => attention(dev, u, u, u, { heads: 1, variant: 'sgmatrix' })).toThrow(/needs an adapter with chromium-experimental-subgroup-matrix/);
    }
  });
});

describe('attention sgmatrix variant, real form through Tint', () => {
  afterAll(closeNullBackendDevice);
  const shape = { lq: 100, lk: 80, heads: 2 };
  const egoShape = { ...shape, ego: { tokensPerFrame: 50, gridWidth: 10, egoColStart: 6, frames: 2 } };

  for (const sgm of [F16_16x16x16, F16_16x8x16, F32_8x8x8, F16_8x8x8]) {
    it(`${sgm.component} ${sgm.M}x${sgm.N}x${sgm.K} -> ${sgm.result}, subgroupMaxSize 32: no errors, no warnings`, async () => {
      const base: AttentionSpec = { headDim: 128, dtype: 'f16', outDtype: 'f16', variant: 'sgmatrix', sgm, subgroupSize: 32 };
      const specs: AttentionSpec[] = [base, { ...base, dtype: 'bf16', egoBias: { lambdaAboveOne: true } }, { ...base, headDim: 64, dtype: 'f32', egoBias: { lambdaAboveOne: false } }];
      for (const spec of specs) {
        const program = attentionProgram(spec, spec.egoBias ? egoShape : shape);
        // Pipeline creation (which the null backend cannot reach) needs x to be a multiple of subgroupMaxSize.
        expect(program.workgroupSize[0] % 32).toBe(0);
        expect(await tintDiagnostics(program), `${spec.dtype} D ${spec.headDim} ${spec.egoBias ? 'bias' : 'no bias'}`).toEqual({
          errors: [],
          warnings: [],
        });
      }
    });
  }

  it('key chunks (split state) and accumulate compile too', async () => {
    const base: AttentionSpec = { headDim: 128, dtype: 'f16', outDtype: 'f32', variant: 'sgmatrix', sgm: F16_16x16x16, subgroupSize: 32, egoBias: { lambdaAboveOne: true }, windowed: true };
    const window = { q0: 0, lkAll: 80, qOff: 0, kOff: 0, vOff: 0, oOff: 0, sOff: 0, qdOff: 0, kdOff: 0 };
    for (const keyChunk of ['first', 'middle', 'last'] as const) {
      expect(await tintDiagnostics(attentionProgram({ ...base, keyChunk }, { ...egoShape, window }))).toEqual({ errors: [], warnings: [] });
    }
    expect(await tintDiagnostics(attentionProgram({ ...base, windowed: undefined, accumulate: true, outDtype: 'bf16' }, egoShape))).toEqual({ errors: [], warnings: [] });
  });
});

describe('attention variant choice with subgroup matrices', () => {
  const SGM = 'chromium-experimental-subgroup-matrix';
  const gpu = (configs: object[], over: { features?: string[]; wg?: number; adapter?: object } = {}) => {
    const features = over.features ?? ['subgroups', 'shader-f16', SGM];
    const dev = {
      adapter: { vendor: 'x', architecture: 'x', device: 'x', description: 'x', isFallbackAdapter: false, subgroupMinSize: 32, subgroupMaxSize: 32, subgroupMatrixConfigs: configs as never, ...over.adapter },
      has: (f: string) => features.includes(f),
      limits: { maxComputeWorkgroupStorageSize: over.wg ?? 49152 },
      choices: new KernelChoices(),
    };
    setSubgroupMatricesTrusted(dev, true); // as if checkSubgroupMatrices had passed
    return dev;
  };
  const nvidia = [
    { componentType: 'f16', resultComponentType: 'f16', M: 16, N: 16, K: 16 },
    { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 8, K: 16 },
    { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 },
  ];
  const apple = [
    { componentType: 'f16', resultComponentType: 'f16', M: 8, N: 8, K: 8 },
    { componentType: 'f32', resultComponentType: 'f32', M: 8, N: 8, K: 8 },
  ];

  it('picks the first f32-result config for 16-bit inputs on a GPU with the feature', () => {
    expect(chooseAttentionVariant(gpu(nvidia), 128, 'f16')).toEqual({ variant: 'sgmatrix', sgm: F16_16x16x16, subgroupSize: 32 });
    expect(chooseAttentionVariant(gpu(nvidia), 64, 'bf16').variant).toBe('sgmatrix');
    // f32 inputs keep an f32 path: f16 configs would round Q, K, V.
    expect(chooseAttentionVariant(gpu(nvidia), 128, 'f32').variant).toBe('flash');
    expect(chooseAttentionVariant(gpu(nvidia), 128).variant).toBe('flash');
    // An f32 config serves f32 inputs (Apple); its f16 -> f16 config is never chosen.
    expect(chooseAttentionVariant(gpu(apple, { wg: 32768 }), 128, 'f32')).toEqual({ variant: 'sgmatrix', sgm: F32_8x8x8, subgroupSize: 32 });
    expect(chooseAttentionVariant(gpu(apple.slice(0, 1), { wg: 32768 }), 128, 'f16').variant).toBe('flash');
  });

  it('falls back to flash without the feature, f16, workgroup memory or a fitting head dim, and on CPU adapters', () => {
    expect(chooseAttentionVariant(gpu(nvidia, { features: ['subgroups', 'shader-f16'] }), 128, 'f16').variant).toBe('flash');
    expect(chooseAttentionVariant(gpu(nvidia, { features: ['subgroups', SGM] }), 128, 'f16').variant).toBe('flash');
    expect(chooseAttentionVariant(gpu(nvidia, { wg: 16384 }), 128, 'f16').variant).toBe('flash');
    expect(chooseAttentionVariant(gpu(nvidia), 72, 'f16').variant).toBe('flash'); // 72 is no multiple of 16
    expect(chooseAttentionVariant(gpu([]), 128, 'f16').variant).toBe('flash');
    const lavapipe = gpu(nvidia, { adapter: { architecture: 'software', isFallbackAdapter: true, subgroupMinSize: 8, subgroupMaxSize: 8 } });
    expect(chooseAttentionVariant(lavapipe, 128, 'f16').variant).toBe('subgroup');
    expect(chooseAttentionVariant(lavapipe, 384, 'f16').variant).toBe('flash');
  });

  it('sizes tiles within 32 KB of workgroup memory, the VAE head dim included', () => {
    for (const [D, sgm] of [[64, F16_16x16x16], [128, F16_16x16x16], [128, F32_8x8x8], [384, F16_16x16x16], [128, F16_8x8x8]] as const) {
      const t = sgmAttentionTiles(D, sgm)!;
      expect(t.bytes, `D ${D}`).toBeLessThanOrEqual(32768);
      expect(t.bq % sgm.M + t.bk % sgm.N + t.bk % sgm.K + (D % t.dc) + (t.dc % sgm.N)).toBe(0);
    }
    expect(sgmAttentionTiles(72, F16_16x16x16)).toBeUndefined();
    expect(sgmAttentionTiles(1024, F16_16x16x16)).toBeUndefined();
  });
});
