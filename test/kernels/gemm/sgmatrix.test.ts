// The subgroup-matrix GEMM variant. No machine here has the feature, so the kernel is run in
// its emulated form on this adapter (same tiling, staging, f16 rounding and epilogue code as
// the real form) against the float64 reference, and the real form of the very same launcher
// calls is compiled by Tint on Dawn's null backend, which must report nothing at all.
import { afterAll, describe, expect, it } from 'vitest';
import { poisoned } from './gemm-fixtures.ts';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { closeNullBackendDevice, tintDiagnostics } from '../../helpers/null-backend.ts';
import { gemm, type GemmVariant } from '../../../src/kernels/gemm/index.ts';
import { loraDown, loraUp } from '../../../src/kernels/gemm/lora.ts';
import { tuneGemm } from '../../../src/kernels/tuning/gemm-autotune.ts';
import type { SgmatrixVariant } from '../../../src/kernels/gemm/common.ts';
import { chooseGemmVariant, defaultGemmVariant, gemmCandidates, gemmShapeClass, recordGemmChoice, type GemmDeviceInfo } from '../../../src/kernels/gemm/variants.ts';
import { setSubgroupMatricesTrusted, type SgmShape } from '../../../src/kernels/shared/subgroup-matrix.ts';
import { roundThrough, type FloatDType } from '../../../src/runtime/dtype.ts';
import type { AdapterSummary, EgoxDevice, OptionalFeature, SubgroupMatrixConfig } from '../../../src/runtime/device.ts';
import type { KernelProgram } from '../../../src/runtime/program.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';
import { refGemm, refLoraMerge } from '../../ref/gemm.ts';
import { KernelChoices } from '../../../src/runtime/kernel-context.ts';

const device = useDevice();

const F16_16: SgmShape = { M: 16, N: 16, K: 16, component: 'f16', result: 'f32' };
const F32_8: SgmShape = { M: 8, N: 8, K: 8, component: 'f32', result: 'f32' };

// Emulated variants (lanes of 8). Every matrix builtin call site is a private-array loop nest
// that lavapipe compiles for seconds (~8 s of CPU per kernel for 16x16x16, ~5 s for 8x8x8 with
// 2 x 2 matrices per subgroup, cold shader cache), so the cases are shared between the configs
// instead of running all of them on both: 16x16x16 f16 with one matrix per subgroup (32 x 32
// tiles), 8x8x8 f32 with 2 x 2 matrices per subgroup (32 x 32 tiles, the multi-matrix indexing).
const EMU_F16: SgmatrixVariant = { kind: 'sgmatrix', cfg: F16_16, sg: 8, gm: 2, gn: 2, sm: 1, sn: 1, bk: 32, emulate: true };
const EMU_F32: SgmatrixVariant = { kind: 'sgmatrix', cfg: F32_8, sg: 8, gm: 2, gn: 2, sm: 2, sn: 2, bk: 16, emulate: true };

/** One launcher call (or two, for LoRA) on `dev`; returns the output and its float64 reference. */
type Case = (dev: EgoxDevice, variant: GemmVariant, wDtype: FloatDType) => Promise<{ out: Tensor; want: Float64Array }>;

const [M, N, K] = [37, 45, 53];

/** Dense single-batch GEMM with bias, alpha and an activation; `x`/`y` dtypes and K vary. */
function dense(epilogue: 'none' | 'gelu_tanh' | 'gelu_erf' | 'silu', k: number, n = N, xDtype: FloatDType = 'f32', yDtype: FloatDType = 'f32'): Case {
  return async (dev, variant, wDtype) => {
    // Scale 2 puts pre-activations in [-~10, 10]: both activation tails are hit.
    const xs = randomF32(M * k, 2);
    const ws = randomF32(n * k, 0.5);
    const bias = randomF32(n);
    const x = await dev.upload(xs, [M, k], xDtype);
    const w = await dev.upload(ws, [n, k], wDtype);
    const b = await dev.upload(bias, [n], 'f32');
    const out = await poisoned(dev, [M, n], yDtype);
    gemm(dev, x, w, { out, variant, bias: b, epilogue, alpha: 0.75 });
    // Stored (rounded) operands in the reference; the kernel's own f16 rounding of X is not.
    const want = refGemm({ M, N: n, K: k, x: roundThrough(xs, xDtype), w: roundThrough(ws, wDtype), alpha: 0.75, bias, epilogue });
    return { out, want };
  };
}

/** out = residual + gate * (X W^T + bias); in place: the residual is the output itself. */
function gated(inPlace: boolean, yDtype: FloatDType, n: number): Case {
  return async (dev, variant, wDtype) => {
    const xs = randomF32(M * K);
    const ws = randomF32(n * K);
    const bias = randomF32(n);
    const gate = randomF32(n);
    const res = roundThrough(randomF32(M * n), yDtype);
    const x = await dev.upload(xs, [M, K], 'f32');
    const w = await dev.upload(ws, [n, K], wDtype);
    const b = await dev.upload(bias, [n], 'f32');
    const g = await dev.upload(gate, [n], 'f32');
    const r = await dev.upload(res, [M, n], yDtype);
    const out = inPlace ? r : await poisoned(dev, [M, n], yDtype);
    gemm(dev, x, w, { out, variant, bias: b, epilogue: 'gated_residual', gate: g, residual: r });
    return { out, want: refGemm({ M, N: n, K, x: xs, w: roundThrough(ws, wDtype), bias, epilogue: 'gated_residual', gate, residual: res }) };
  };
}

/** Three batches: per-batch W [B, N, K], X batches apart by more than M K, per-batch gates. */
const batched: Case = async (dev, variant, wDtype) => {
  const B = 3;
  const xStride = M * K + 13;
  const xs = randomF32((B - 1) * xStride + M * K);
  const ws = randomF32(B * N * K);
  const gate = randomF32(B * N);
  const res = randomF32(B * M * N);
  const x = await dev.upload(xs, [xs.length], 'f32');
  const w = await dev.upload(ws, [B, N, K], wDtype);
  const g = await dev.upload(gate, [B, N], 'f32');
  const r = await dev.upload(res, [B, M, N], 'f32');
  const out = await poisoned(dev, [B, M, N], 'f32');
  gemm(dev, x, w, { out, variant, epilogue: 'gated_residual', gate: g, residual: r, batch: { count: B, rows: M, x: xStride, w: N * K, gate: N } });
  const want = refGemm({ M, N, K, batch: B, x: xs, xStride, w: roundThrough(ws, wDtype), wStride: N * K, epilogue: 'gated_residual', gate, gateStride: N, residual: res });
  return { out, want };
};

/** Runtime LoRA (the extraK segment), odd K and odd rank; optionally split over the binding limit, in place. */
function lora(m: number, n: number, k: number, r: number, split?: number): Case {
  return async (dev, variant, wDtype) => {
    const xs = randomF32(m * k);
    const ws = randomF32(n * k);
    const as = randomF32(r * k);
    const bs = randomF32(n * r);
    const bias = randomF32(n);
    const x = await dev.upload(xs, [m, k], split ? 'f16' : 'f32');
    const w = await dev.upload(ws, [n, k], wDtype);
    const a = await dev.upload(as, [r, k], wDtype);
    const b = await dev.upload(bs, [n, r], wDtype);
    const bi = await dev.upload(bias, [n], 'f32');
    const merged = refLoraMerge(roundThrough(ws, wDtype), roundThrough(as, wDtype), roundThrough(bs, wDtype), n, k, r, 0.7);
    const xr = roundThrough(xs, split ? 'f16' : 'f32');
    if (!split) {
      const out = await poisoned(dev, [m, n], 'f32');
      loraUp(dev, x, w, { t: loraDown(dev, x, a, 0.7, { variant }), b }, { out, bias: bi, epilogue: 'gelu_tanh', variant });
      return { out, want: refGemm({ M: m, N: n, K: k, x: xr, w: merged, bias, epilogue: 'gelu_tanh' }) };
    }
    const gate = randomF32(n);
    const res = roundThrough(randomF32(m * n), 'bf16');
    const g = await dev.upload(gate, [n], 'f32');
    const y = await dev.upload(res, [m, n], 'bf16'); // residual stream, updated in place
    const before = dev.dispatchCount;
    const t = loraDown(dev, x, a, 0.7, { variant, maxBindingBytes: split });
    loraUp(dev, x, w, { t, b }, { out: y, residual: y, gate: g, bias: bi, epilogue: 'gated_residual', variant, maxBindingBytes: split });
    // The LoRA T GEMM is one dispatch; the main one splits into 2 x 2 blocks.
    if (dev.dispatchCount > before) expect(dev.dispatchCount - before).toBeGreaterThanOrEqual(5);
    return { out: y, want: refGemm({ M: m, N: n, K: k, x: xr, w: merged, bias, epilogue: 'gated_residual', gate, residual: res }) };
  };
}

/** Every case, the weight dtype it runs with, and the emulated config that runs it. */
const CASES: [string, Case, FloatDType, 'f16' | 'f32'][] = [
  ['bf16 W, vec4 loads (K 64), alpha, bias, gelu_erf', dense('gelu_erf', 64), 'bf16', 'f16'],
  // Y rows of 128 bf16 and W rows of 64 bf16 (256 + 128 bytes): blocks of 32 rows and 64 columns.
  ['LoRA (rank 8), f16 X, in-place bf16 residual, split over a 12 kB binding limit', lora(64, 128, 64, 8, 12_000), 'bf16', 'f16'],
  ['f32 W, generic loads (K 53), alpha, bias, gelu_tanh', dense('gelu_tanh', K), 'f32', 'f32'],
  ['f16 W, bf16 X, silu, packed f16 output (N 46)', dense('silu', K, 46, 'bf16', 'f16'), 'f16', 'f32'],
  ['bf16 W, gated_residual', gated(false, 'f32', N), 'bf16', 'f32'],
  ['batched: per-batch bf16 W, strided X, per-batch gate', batched, 'bf16', 'f32'],
  ['runtime LoRA (extraK segment, odd K and rank 5), bf16 W', lora(M, N, K, 5), 'bf16', 'f32'],
];

describe('sgmatrix GEMM, emulated on this adapter vs float64', () => {
  it('f16 16x16x16 -> f32 config: X rounded to f16 (bound 3e-3)', async () => {
    const dev = await device();
    for (const [label, run, wDtype] of CASES.filter((c) => c[3] === 'f16')) {
      const { out, want } = await run(dev, EMU_F16, wDtype);
      expect(relL2(await dev.read(out), want), label).toBeLessThanOrEqual(3e-3);
    }
  }, 120_000);

  it('f32 8x8x8 -> f32 config: f32 precision (bound 1e-5; 3e-3 for a packed 16-bit output)', async () => {
    const dev = await device();
    for (const [label, run, wDtype] of CASES.filter((c) => c[3] === 'f32')) {
      const { out, want } = await run(dev, EMU_F32, wDtype);
      expect(relL2(await dev.read(out), want), label).toBeLessThanOrEqual(out.dtype === 'f32' ? 1e-5 : 3e-3);
    }
  }, 120_000);

  it('refuses the real form on an adapter without the feature', async () => {
    const dev = await device();
    const x = await dev.upload(randomF32(4 * 16), [4, 16], 'f32');
    const w = await dev.upload(randomF32(16 * 16), [16, 16], 'bf16');
    const { emulate: _, ...real } = EMU_F16;
    expect(() => gemm(dev, x, w, { variant: real })).toThrow(/chromium-experimental-subgroup-matrix/);
  });
});

// ---- the real form through Tint -----------------------------------------------------------

/** A stand-in GPU adapter. */
function fakeAdapter(configs: SubgroupMatrixConfig[], over: Partial<AdapterSummary> = {}): AdapterSummary {
  return { vendor: 'nvidia', architecture: 'ampere', device: 'd', description: 'x', isFallbackAdapter: false, subgroupMinSize: 32, subgroupMaxSize: 32, subgroupMatrixConfigs: configs, ...over };
}

/** A stand-in device, trusted as if checkSubgroupMatrices had passed on it. */
function fakeDevice(adapter: AdapterSummary, features: OptionalFeature[]): GemmDeviceInfo {
  const dev = { adapter, has: (f: OptionalFeature) => features.includes(f), choices: new KernelChoices() };
  setSubgroupMatricesTrusted(dev, true);
  return dev;
}

const ALL: OptionalFeature[] = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'];
const cfg = (s: SgmShape): SubgroupMatrixConfig => ({ componentType: s.component, resultComponentType: s.result, M: s.M, N: s.N, K: s.K });

/**
 * This adapter with a subgroup-matrix adapter's summary and features, recording the programs
 * that launches would run instead of running them (operands live on the real device).
 */
function recordingDevice(dev: EgoxDevice, adapter: AdapterSummary, programs: Map<string, KernelProgram>): EgoxDevice {
  const rec = Object.create(dev) as EgoxDevice;
  Object.defineProperty(rec, 'adapter', { value: adapter });
  rec.has = (f) => ALL.includes(f);
  rec.run = (p) => {
    programs.set(p.key, p);
  };
  return rec;
}

const REAL_CONFIGS: SgmShape[] = [
  F16_16, // NVIDIA
  { M: 16, N: 8, K: 16, component: 'f16', result: 'f32' }, // NVIDIA
  F32_8, // Apple
  { M: 8, N: 16, K: 16, component: 'f16', result: 'f32' }, // Intel
];

describe('sgmatrix GEMM, real form', () => {
  afterAll(closeNullBackendDevice);

  for (const shape of REAL_CONFIGS) {
    it(`${shape.component} ${shape.M}x${shape.N}x${shape.K}: every case compiles in Tint with no errors or warnings`, async () => {
      const dev = await device();
      const adapter = fakeAdapter([cfg(shape)]);
      // The heuristic's full-size variant for this adapter (subgroupMaxSize 32).
      const variant = defaultGemmVariant(fakeDevice(adapter, ALL), { M: 4096, N: 4096, K: 4096, wDtype: shape.component === 'f32' ? 'f32' : 'bf16' });
      expect(variant.kind).toBe('sgmatrix');
      const programs = new Map<string, KernelProgram>();
      const rec = recordingDevice(dev, adapter, programs);
      for (const [, run, wDtype] of CASES) await run(rec, variant, wDtype);
      expect(programs.size).toBeGreaterThanOrEqual(CASES.length);
      for (const p of programs.values()) {
        expect(p.workgroupSize[0] % 32, p.key).toBe(0);
        expect(await tintDiagnostics(p), p.key).toEqual({ errors: [], warnings: [] });
      }
    });
  }
});

describe('sgmatrix variant choice', () => {
  const nvidia = () => fakeDevice(fakeAdapter([cfg(F16_16), cfg({ M: 16, N: 8, K: 16, component: 'f16', result: 'f32' })]), ALL);
  const big = { M: 4096, N: 5120, K: 5120 };

  it('is the default for 16-bit weights on a GPU with the feature, never for f32 weights with f16 configs', () => {
    const v = defaultGemmVariant(nvidia(), { ...big, wDtype: 'bf16' });
    expect(v).toMatchObject({ kind: 'sgmatrix', cfg: F16_16, sg: 32, gm: 2, gn: 2 });
    expect(v.kind === 'sgmatrix' && v.emulate).toBeFalsy();
    expect(defaultGemmVariant(nvidia(), { ...big, wDtype: 'f16' }).kind).toBe('sgmatrix');
    expect(defaultGemmVariant(nvidia(), { ...big, wDtype: 'f32' }).kind).toBe('tiled');
    // An f32-component config may serve f32 problems.
    const apple = fakeDevice(fakeAdapter([cfg(F32_8)], { vendor: 'apple', subgroupMinSize: 32 }), ALL);
    expect(defaultGemmVariant(apple, { ...big, wDtype: 'f32' })).toMatchObject({ kind: 'sgmatrix', cfg: F32_8 });
    // Small problems shrink the tile.
    const small = defaultGemmVariant(nvidia(), { M: 5, N: 20, K: 64, wDtype: 'bf16' });
    expect(small).toMatchObject({ kind: 'sgmatrix', gm: 1, sm: 1 });
  });

  it('is a candidate only where usable; lavapipe and adapters without the feature are unchanged', () => {
    const shape = { ...big, wDtype: 'bf16' as const };
    const cands = gemmCandidates(nvidia(), shape);
    expect(cands.filter((v) => v.kind === 'sgmatrix').length).toBeGreaterThanOrEqual(2);
    expect(cands.some((v) => v.kind === 'tiled')).toBe(true);
    expect(gemmCandidates(nvidia(), { ...big, wDtype: 'f32' }).some((v) => v.kind === 'sgmatrix')).toBe(false);

    const noFeature = fakeDevice(fakeAdapter([cfg(F16_16)]), ['shader-f16', 'subgroups']);
    expect(defaultGemmVariant(noFeature, shape).kind).toBe('tiled');
    expect(gemmCandidates(noFeature, shape).some((v) => v.kind === 'sgmatrix')).toBe(false);
    // A CPU rasteriser offering the feature still gets its subgroup-broadcast variant.
    const lavapipe = fakeDevice(fakeAdapter([cfg(F16_16)], { vendor: 'mesa', architecture: 'software', device: 'llvmpipe-256-bits', subgroupMinSize: 8, subgroupMaxSize: 8 }), ALL);
    expect(defaultGemmVariant(lavapipe, shape).kind).toBe('subgroup');
    expect(gemmCandidates(lavapipe, shape).some((v) => v.kind === 'sgmatrix')).toBe(false);
  });

  it('the tuner drops a candidate whose output leaves the precision class of the problem', async () => {
    const dev = await device();
    // f16 components round X: fine for a bf16-weight problem, not for an all-f32 one (1e-5).
    const emu: SgmatrixVariant = { kind: 'sgmatrix', cfg: { M: 8, N: 8, K: 8, component: 'f16', result: 'f32' }, sg: 8, gm: 2, gn: 2, sm: 1, sn: 1, bk: 16, emulate: true };
    const base = defaultGemmVariant(dev, { M, N, K: 64, wDtype: 'f32' });
    const r = await tuneGemm(dev, { M, N, K: 64, wDtype: 'f32' }, { candidates: [base, emu], targetMs: 2, rounds: 1 });
    const t = r.timings.find((e) => e.variant.kind === 'sgmatrix')!;
    expect(t.ms).toBe(Infinity);
    expect(t.error).toMatch(/differs from the f32-accumulating variant/);
    expect(r.winner).toEqual(base);
  }, 60_000);

  it('ignores a tuned sgmatrix winner the adapter cannot run', async () => {
    const dev = await device();
    const shape = { M: 64, N: 64, K: 64, wDtype: 'bf16' as const };
    const { emulate: _, ...real } = EMU_F16;
    recordGemmChoice(dev, gemmShapeClass(shape), real);
    expect(chooseGemmVariant(dev, shape).kind).not.toBe('sgmatrix');
  });
});
