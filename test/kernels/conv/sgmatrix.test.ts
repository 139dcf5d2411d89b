// The subgroup-matrix conv variant. No machine here has the feature, so the kernel runs in its
// emulated form on this adapter (same staging, gather, f16 rounding and epilogue as the real
// form) against the float64 reference, and the real form is compiled by Tint on Dawn's null
// backend, which must report nothing. Emulated pipelines compile slowly on lavapipe: few
// distinct specs, tiny shapes.
import { afterAll, describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { closeNullBackendDevice, tintDiagnostics } from '../../helpers/null-backend.ts';
import { convRef } from '../../ref/conv.ts';
import { memoryTuneStore } from '../../../src/kernels/tuning/gemm-autotune.ts';
import { convTuneStoreName, loadConvTuning, representativeConv, tuneConv, type ConvTuneSpec } from '../../../src/kernels/tuning/conv-autotune.ts';
import { convSgmatrixWorkgroupBytes, convSgmatrixVariant, type ConvSgmatrixParams } from '../../../src/kernels/conv/sgmatrix.ts';
import { conv2d, conv3d, convCandidates, convProgram, defaultConvVariant, type ConvDeviceInfo, type ConvSpec, type ConvVariant } from '../../../src/kernels/conv/index.ts';
import type { ConvShapeSpec } from '../../../src/kernels/conv/common.ts';
import { scale } from '../../../src/kernels/elementwise/binary.ts';
import { setSubgroupMatricesTrusted, type SgmShape } from '../../../src/kernels/shared/subgroup-matrix.ts';
import { roundThrough, type DType } from '../../../src/runtime/dtype.ts';
import type { AdapterSummary, EgoxDevice, OptionalFeature, SubgroupMatrixConfig } from '../../../src/runtime/device.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';
import { KernelChoices } from '../../../src/runtime/kernel-context.ts';

const device = useDevice();

/** f16 operands: X is rounded to f16 in the kernel (the reference is not), accumulation in f32. */
const BOUND = 3e-3;

const F16_16x16x16: SgmShape = { M: 16, N: 16, K: 16, component: 'f16', result: 'f32' };
const F16_16x8x16: SgmShape = { M: 16, N: 8, K: 16, component: 'f16', result: 'f32' };
const F16_8x16x16: SgmShape = { M: 8, N: 16, K: 16, component: 'f16', result: 'f32' };
const F32_8x8x8: SgmShape = { M: 8, N: 8, K: 8, component: 'f32', result: 'f32' };

// Emulated with lanes of 8 and small tiles (Cout x voxels), between them covering a subgroup
// grid along each axis, two result matrices per subgroup along each axis and a k-slice of two
// matrix steps. Cold lavapipe compiles cost 4-15 s each: the emulated matrix functions are
// private-array loop nests that LLVM unrolls, the more so for small configs (8x8x8 with two
// k-steps per slice took 37 s, hence bk = K there), so each variant serves several cases.
const EMU_A: ConvSgmatrixParams = { kind: 'sgmatrix', cfg: F16_16x16x16, sg: 8, gm: 1, gn: 2, sm: 1, sn: 1, bk: 32, emulate: true }; // 16 x 32
const EMU_M2: ConvSgmatrixParams = { kind: 'sgmatrix', cfg: F16_16x16x16, sg: 8, gm: 1, gn: 2, sm: 2, sn: 1, bk: 16, emulate: true }; // 32 x 32
const EMU_N2: ConvSgmatrixParams = { kind: 'sgmatrix', cfg: F16_16x16x16, sg: 8, gm: 2, gn: 1, sm: 1, sn: 2, bk: 16, emulate: true }; // 32 x 32
const EMU_F32: ConvSgmatrixParams = { kind: 'sgmatrix', cfg: F32_8x8x8, sg: 8, gm: 2, gn: 2, sm: 1, sn: 1, bk: 8, emulate: true }; // 16 x 16

async function poisoned(dev: EgoxDevice, shape: number[]): Promise<Tensor> {
  const t = dev.empty(shape, 'f32');
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
  return t;
}

interface Case {
  cin: number;
  cout: number;
  f: number;
  h: number;
  w: number;
  kernel: [number, number, number];
  stride?: [number, number, number];
  /** Wan CausalConv3d padding (pt, ph, pw). */
  padding?: [number, number, number];
  cacheTotal?: number;
  cacheFrames?: number;
  bias?: boolean;
  residual?: boolean;
  weight: DType;
}

/** conv3d with `variant` into a NaN-poisoned output; rel L2 vs float64 on the stored (rounded) weights. */
async function runCase(dev: EgoxDevice, c: Case, variant: ConvVariant): Promise<number> {
  const [kt, kh, kw] = c.kernel;
  const x = randomF32(c.cin * c.f * c.h * c.w);
  const weight = roundThrough(randomF32(c.cout * c.cin * kt * kh * kw, 0.5), c.weight);
  const bias = c.bias ? randomF32(c.cout) : undefined;
  const cache = c.cacheTotal ? randomF32(c.cin * c.cacheTotal * c.h * c.w) : undefined;
  const pad = c.padding ?? [0, 0, 0];
  const ref = convRef({
    x, cin: c.cin, f: c.f, h: c.h, w: c.w, weight, cout: c.cout, kernel: c.kernel, bias, stride: c.stride,
    pad: { front: 2 * pad[0], top: pad[1], bottom: pad[1], left: pad[2], right: pad[2] },
    cache, cacheTotal: c.cacheTotal, cacheFrames: c.cacheFrames,
  });
  const res = c.residual ? randomF32(ref.data.length) : undefined;
  if (res) for (let i = 0; i < res.length; i++) ref.data[i]! += res[i]!;
  const out = await poisoned(dev, ref.shape);
  const y = conv3d(
    dev,
    await dev.upload(x, [c.cin, c.f, c.h, c.w], 'f32'),
    await dev.upload(weight, [c.cout, c.cin, kt, kh, kw], c.weight),
    bias ? await dev.upload(bias, [c.cout], 'f32') : null,
    {
      stride: c.stride,
      padding: c.padding,
      cache: cache ? await dev.upload(cache, [c.cin, c.cacheTotal!, c.h, c.w], 'f32') : undefined,
      cacheFrames: c.cacheFrames,
      residual: res ? await dev.upload(res, ref.shape, 'f32') : undefined,
      out,
      variant,
    },
  );
  expect(y).toBe(out);
  return relL2(await dev.read(y), ref.data);
}

const ODD: Case = { cin: 13, cout: 10, f: 3, h: 5, w: 7, kernel: [3, 3, 3], padding: [1, 1, 1], bias: true, weight: 'f16' };

const CASES: [string, Case, ConvSgmatrixParams][] = [
  ['3x3x3 causal, odd sizes (Cin 13, Cout 10, 3x5x7), f16 weights, bias', ODD, EMU_A],
  [
    '3x3x3 causal, 2 of 3 cached frames, bf16 weights, bias + residual',
    { cin: 6, cout: 20, f: 2, h: 4, w: 5, kernel: [3, 3, 3], padding: [1, 1, 1], cacheTotal: 3, cacheFrames: 2, bias: true, residual: true, weight: 'bf16' },
    EMU_M2,
  ],
  [
    '3x3x3 causal, 1 cached frame, f32 weights, 8x8x8 f32 config, Cout over two tiles',
    { cin: 5, cout: 20, f: 2, h: 3, w: 6, kernel: [3, 3, 3], padding: [1, 1, 1], cacheTotal: 2, cacheFrames: 1, bias: true, weight: 'f32' },
    EMU_F32,
  ],
  ['1x1x1 shortcut + residual, no bias, f32 weights', { cin: 7, cout: 12, f: 2, h: 3, w: 7, kernel: [1, 1, 1], residual: true, weight: 'f32' }, EMU_A],
  [
    '(3,1,1) stride (2,1,1) downsample time conv, 1 cached frame, bf16 weights',
    { cin: 5, cout: 6, f: 4, h: 3, w: 5, kernel: [3, 1, 1], stride: [2, 1, 1], cacheTotal: 2, cacheFrames: 1, bias: true, weight: 'bf16' },
    EMU_N2,
  ],
];

describe('subgroup-matrix conv, emulated on this adapter, against float64', () => {
  for (const [name, c, v] of CASES) {
    it(name, async () => {
      const dev = await device();
      const err = await runCase(dev, c, v);
      expect(err, `rel L2 ${err}`).toBeLessThanOrEqual(BOUND);
      // f16 rounding of X must show (the variant really computes in its 16-bit class)...
      if (v.cfg.component === 'f16') expect(err).toBeGreaterThan(1e-6);
      // ...and an f32-component config keeps f32 precision.
      else expect(err).toBeLessThanOrEqual(1e-5);
    });
  }

  it('conv2d 3x3 stride 2, zero pad right/bottom by 1, f16 weights', async () => {
    const dev = await device();
    const [cin, cout, f, h, w] = [5, 7, 2, 9, 11];
    const x = randomF32(cin * f * h * w);
    const weight = roundThrough(randomF32(cout * cin * 9, 0.5), 'f16');
    const bias = randomF32(cout);
    const pad = { top: 0, bottom: 1, left: 0, right: 1 };
    const ref = convRef({ x, cin, f, h, w, weight, cout, kernel: [1, 3, 3], bias, stride: [1, 2, 2], pad: { front: 0, ...pad } });
    expect(ref.shape).toEqual([cout, f, 4, 5]);
    const out = await poisoned(dev, ref.shape);
    conv2d(dev, await dev.upload(x, [cin, f, h, w], 'f32'), await dev.upload(weight, [cout, cin, 3, 3], 'f16'), await dev.upload(bias, [cout], 'f32'), {
      stride: 2,
      padding: pad,
      out,
      variant: EMU_A,
    });
    const err = relL2(await dev.read(out), ref.data);
    expect(err, `rel L2 ${err}`).toBeLessThanOrEqual(BOUND);
  });

  it('a conv over an input-channel slice of the weight (weightCinOffset) plus residual', async () => {
    const dev = await device();
    const [wcin, cout, f, h, w] = [6, 5, 2, 4, 8]; // 64 values per channel: channel slices stay 256-byte aligned
    const x = randomF32(wcin * f * h * w);
    const weight = roundThrough(randomF32(cout * wcin * 27, 0.5), 'bf16');
    const res = randomF32(cout * f * h * w);
    // Reference: the conv of channels [2, 6) with those weight columns, plus the residual.
    const xs = x.subarray(2 * f * h * w);
    const ws = new Float32Array(cout * 4 * 27);
    for (let co = 0; co < cout; co++) ws.set(weight.subarray((co * wcin + 2) * 27, (co * wcin + 6) * 27), co * 4 * 27);
    const ref = convRef({ x: xs, cin: 4, f, h, w, weight: ws, cout, kernel: [3, 3, 3], pad: { front: 2, top: 1, bottom: 1, left: 1, right: 1 }, residual: res });
    const X = await dev.upload(x, [wcin, f, h, w], 'f32');
    const out = await poisoned(dev, ref.shape);
    conv3d(dev, X.slice(2, 6), await dev.upload(weight, [cout, wcin, 3, 3, 3], 'bf16'), null, {
      padding: 1,
      weightCinOffset: 2,
      residual: await dev.upload(res, ref.shape, 'f32'),
      out,
      variant: EMU_A,
    });
    const err = relL2(await dev.read(out), ref.data);
    expect(err, `rel L2 ${err}`).toBeLessThanOrEqual(BOUND);
  });

  it('serves two clip sizes with one pipeline', async () => {
    const dev = await device();
    const before = dev.pipelines.stats.compiled;
    // The first test's conv at its size (pipeline already compiled or compiled now) and another size.
    for (const size of [{ f: 3, h: 5, w: 7 }, { f: 1, h: 6, w: 11 }]) {
      const err = await runCase(dev, { ...ODD, ...size }, EMU_A);
      expect(err, `${size.f}x${size.h}x${size.w}: rel L2 ${err}`).toBeLessThanOrEqual(BOUND);
    }
    expect(dev.pipelines.stats.compiled - before).toBeLessThanOrEqual(1);
  });
});

// ---- the real form through Tint ---------------------------------------------------------

/** A conv spec with every binding (cache, 16-bit weights, bias, residual). */
const FULL_SPEC: ConvShapeSpec = {
  cin: 13, cout: 40, inF: 3, inH: 5, inW: 7, kernel: [3, 3, 3], stride: [1, 1, 1],
  pad: { front: 2, top: 1, bottom: 1, left: 1, right: 1 }, cacheFrames: 2, cacheTotalFrames: 3,
  weight: 'bf16', bias: true, residual: true,
};
/** A strided conv2d with few output channels, f32 weights, no bias. */
const SMALL_SPEC: ConvShapeSpec = {
  cin: 5, cout: 3, inF: 1, inH: 9, inW: 11, kernel: [1, 3, 3], stride: [1, 2, 2],
  pad: { front: 0, top: 0, bottom: 1, left: 0, right: 1 }, cacheFrames: 0, cacheTotalFrames: 0,
  weight: 'f32', bias: false, residual: false,
};

describe('subgroup-matrix conv, real form (Tint on the null backend, subgroupMaxSize 32)', () => {
  afterAll(closeNullBackendDevice);

  for (const [name, cfg] of [['16x16x16 f16', F16_16x16x16], ['16x8x16 f16', F16_16x8x16], ['8x8x8 f32', F32_8x8x8], ['8x16x16 f16', F16_8x16x16]] as const) {
    it(`${name}: the rule's tiles compile with no errors or warnings`, async () => {
      for (const spec of [FULL_SPEC, SMALL_SPEC]) {
        const v = convSgmatrixVariant(cfg, 32, spec.cout);
        expect(v, 'a tile within 16 KiB of workgroup memory').toBeDefined();
        expect(convSgmatrixWorkgroupBytes(v!)).toBeLessThanOrEqual(16384);
        const p = convProgram({ ...spec, variant: v! });
        expect(p.workgroupSize[0] % 32).toBe(0);
        expect(p.enables).toContain('chromium_experimental_subgroup_matrix');
        expect(await tintDiagnostics(p)).toEqual({ errors: [], warnings: [] });
      }
    });
  }

  it('the emulated form of the same kernel also passes Tint, and keys differ', async () => {
    const spec: ConvSpec = { ...FULL_SPEC, variant: EMU_A };
    expect(await tintDiagnostics(convProgram(spec))).toEqual({ errors: [], warnings: [] });
    const real = convProgram({ ...FULL_SPEC, variant: { ...EMU_A, emulate: undefined } as ConvSgmatrixParams });
    expect(real.key).not.toBe(convProgram(spec).key);
  });
});

// ---- variant choice on fake devices -----------------------------------------------------

const NV_CONFIGS: SubgroupMatrixConfig[] = [
  { componentType: 'f16', resultComponentType: 'f16', M: 16, N: 16, K: 16 },
  { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 },
  { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 8, K: 16 },
  { componentType: 'i8', resultComponentType: 'i32', M: 16, N: 16, K: 32 },
];
const APPLE_CONFIGS: SubgroupMatrixConfig[] = [
  { componentType: 'f32', resultComponentType: 'f32', M: 8, N: 8, K: 8 },
  { componentType: 'f16', resultComponentType: 'f32', M: 8, N: 8, K: 8 },
];

function fakeDevice(
  configs: SubgroupMatrixConfig[],
  features: OptionalFeature[] = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'],
  adapter: Partial<AdapterSummary> = {},
): ConvDeviceInfo {
  const set = new Set(features);
  const dev: ConvDeviceInfo = {
    adapter: {
      vendor: 'nvidia', architecture: 'ampere', device: 'rtx 3090', description: 'NVIDIA GeForce RTX 3090', isFallbackAdapter: false,
      subgroupMinSize: 32, subgroupMaxSize: 32, subgroupMatrixConfigs: configs, ...adapter,
    },
    has: (f) => set.has(f),
    choices: new KernelChoices(),
  };
  setSubgroupMatricesTrusted(dev, true); // as if checkSubgroupMatrices had passed
  return dev;
}

const CHOICE = { cin: 96, cout: 96, kernel: [3, 3, 3] as const, stride: [1, 1, 1] as const };

describe('choosing the subgroup-matrix conv', () => {
  it('picks it on a GPU with the feature for 16-bit weights, f32 accumulation first', () => {
    const dev = fakeDevice(NV_CONFIGS);
    for (const weight of ['bf16', 'f16'] as const) {
      const v = defaultConvVariant(dev, { ...CHOICE, weight });
      expect(v).toMatchObject({ kind: 'sgmatrix', cfg: F16_16x16x16, sg: 32 });
      expect((v as ConvSgmatrixParams).emulate).toBeUndefined();
    }
  });

  it('keeps f32 convs in f32: workgroup tiles with f16-only configs, an f32-component config where offered', () => {
    expect(defaultConvVariant(fakeDevice(NV_CONFIGS), { ...CHOICE, weight: 'f32' }).kind).toBe('wgtile');
    // Without a weight dtype the choice is the conservative one too.
    expect(defaultConvVariant(fakeDevice(NV_CONFIGS), { cout: 96 }).kind).toBe('wgtile');
    const apple = fakeDevice(APPLE_CONFIGS, undefined, { vendor: 'apple', architecture: 'metal-3', device: '', description: 'Apple M2', subgroupMinSize: 32 });
    expect(defaultConvVariant(apple, { ...CHOICE, weight: 'f32' })).toMatchObject({ kind: 'sgmatrix', cfg: F32_8x8x8 });
    // 16-bit weights take the f16 config (usableSgmShapes' order).
    expect(defaultConvVariant(apple, { ...CHOICE, weight: 'bf16' })).toMatchObject({ kind: 'sgmatrix', cfg: { M: 8, N: 8, K: 8, component: 'f16' } });
  });

  it('falls back to workgroup tiles without the feature, shader-f16, f32-accumulating configs or a GPU', () => {
    const bf16 = { ...CHOICE, weight: 'bf16' as const };
    expect(defaultConvVariant(fakeDevice(NV_CONFIGS, ['shader-f16', 'subgroups']), bf16).kind).toBe('wgtile');
    expect(defaultConvVariant(fakeDevice(NV_CONFIGS, ['subgroups', 'chromium-experimental-subgroup-matrix']), bf16).kind).toBe('wgtile');
    expect(defaultConvVariant(fakeDevice([NV_CONFIGS[0]!, NV_CONFIGS[3]!]), bf16).kind).toBe('wgtile');
    // A CPU adapter offering the feature still runs its own variants.
    const cpu = fakeDevice(NV_CONFIGS, undefined, { vendor: 'mesa', architecture: 'software', description: 'llvmpipe', isFallbackAdapter: true, subgroupMinSize: 8, subgroupMaxSize: 8 });
    expect(defaultConvVariant(cpu, bf16).kind).toBe('chanlanes');
    expect(convCandidates(cpu, bf16).some((v) => v.kind === 'sgmatrix')).toBe(false);
  });

  it('shrinks the tile for few output channels and keeps workgroup memory within 16 KiB', () => {
    const dev = fakeDevice(NV_CONFIGS);
    const small = defaultConvVariant(dev, { ...CHOICE, cout: 3, weight: 'bf16' }) as ConvSgmatrixParams;
    expect(small.gm * small.sm * small.cfg.M).toBe(16);
    const big = defaultConvVariant(dev, { ...CHOICE, weight: 'bf16' }) as ConvSgmatrixParams;
    expect(big.gm * big.sm * big.cfg.M).toBe(64);
    for (const v of convCandidates(dev, { ...CHOICE, weight: 'bf16' })) {
      if (v.kind === 'sgmatrix') expect(convSgmatrixWorkgroupBytes(v)).toBeLessThanOrEqual(16384);
    }
  });

  it('lists real subgroup-matrix candidates only where available, the rule first', () => {
    const dev = fakeDevice(NV_CONFIGS);
    const c = convCandidates(dev, { ...CHOICE, weight: 'bf16' });
    expect(c[0]).toEqual(defaultConvVariant(dev, { ...CHOICE, weight: 'bf16' }));
    const sgm = c.filter((v): v is ConvSgmatrixParams => v.kind === 'sgmatrix');
    expect(sgm.length).toBeGreaterThanOrEqual(2);
    for (const v of sgm) expect(v.emulate).toBeUndefined();
    expect(new Set(c.map((v) => JSON.stringify(v))).size).toBe(c.length);
    expect(convCandidates(dev, { ...CHOICE, weight: 'f32' }).some((v) => v.kind === 'sgmatrix')).toBe(false);
    expect(convCandidates(fakeDevice(NV_CONFIGS, ['subgroups']), { ...CHOICE, weight: 'bf16' }).some((v) => v.kind === 'sgmatrix')).toBe(false);
  });

  it('loads a stored subgroup-matrix winner only on a device that can run it', async () => {
    const dev = fakeDevice(NV_CONFIGS);
    const real = defaultConvVariant(dev, { ...CHOICE, weight: 'bf16' });
    const store = memoryTuneStore();
    const spec = { ...CHOICE, weight: 'bf16' as const };
    await store.write(convTuneStoreName(dev.adapter), {
      format: 1,
      adapter: dev.adapter,
      conv: {
        'conv:co96:k3x3x3:s1x1x1:wbf16:ci<=128': { variant: real, ms: 1, spec, date: '' },
        'conv:co48:k3x3x3:s1x1x1:wbf16:ci<=128': { variant: { ...EMU_A }, ms: 1, spec, date: '' },
        'conv:co24:k3x3x3:s1x1x1:wbf16:ci<=128': { variant: { ...real, cfg: F16_8x16x16 }, ms: 1, spec, date: '' },
      },
    });
    expect(await loadConvTuning(fakeDevice(NV_CONFIGS), store)).toBe(1);
    // Same adapter summary, but the device was created without the feature.
    expect(await loadConvTuning(fakeDevice(NV_CONFIGS, ['shader-f16', 'subgroups']), store)).toBe(0);
  });
});

// ---- the autotuner's check of a 16-bit candidate -----------------------------------------

describe('tuneConv with a 16-bit candidate', () => {
  it('accepts the emulated f16 variant within 3e-3 and still holds f32-class candidates to 1e-3', async () => {
    const dev = await device();
    const spec: ConvTuneSpec = { cin: 6, cout: 8, kernel: [3, 3, 3], stride: [1, 1, 1], weight: 'bf16' };
    const outSize: [number, number, number] = [2, 5, 6];
    const shape = representativeConv(spec, outSize);
    const good: ConvVariant = { kind: 'regtile', tm: 4, tw: 8, threads: 32, vec4: false };
    // Stand-ins: the good conv scaled by 1 + eps (rel L2 exactly eps), under an f32-class
    // variant (eps 2e-3: inside the 16-bit bound, outside the f32 one) and a 16-bit one (eps 1e-2).
    const off32: ConvVariant = { kind: 'regtile', tm: 2, tw: 8, threads: 32, vec4: false };
    const off16: ConvVariant = { ...EMU_N2, gn: 2 };
    const tmp = dev.empty([shape.cout, ...outSize], 'f32');
    try {
      const r = await tuneConv(dev, spec, {
        force: true,
        // The 16-bit candidates first: the reference must still come from an f32-class one.
        candidates: [EMU_A, off16, good, off32],
        outSize,
        targetMs: 2,
        rounds: 1,
        dispatch: (v, launch, out) => {
          if (v !== off32 && v !== off16) return launch(v);
          launch(good);
          scale(dev, out, 1, 0, tmp);
          scale(dev, tmp, v === off32 ? 1 + 2e-3 : 1 + 1e-2, 0, out);
        },
      });
      const t = (v: ConvVariant) => r.timings.find((e) => e.variant === v)!;
      expect(t(good).ms).toBeLessThan(Infinity);
      expect(t(EMU_A).ms, t(EMU_A).error).toBeLessThan(Infinity);
      for (const broken of [off32, off16]) {
        expect(t(broken).ms).toBe(Infinity);
        expect(t(broken).error).toMatch(/differs/);
      }
    } finally {
      tmp.release();
    }
  });
});
