import { describe, expect, it } from 'vitest';
import { useDevice } from '../../helpers/gpu.ts';
import { loadGemmTuning, memoryTuneStore, tuneGemm, tuneStoreName } from '../../../src/kernels/tuning/gemm-autotune.ts';
import {
  chooseGemmVariant,
  defaultGemmVariant,
  gemmCandidates,
  gemmShapeClass,
  type GemmDeviceInfo,
} from '../../../src/kernels/gemm/variants.ts';
import type { GemmVariant } from '../../../src/kernels/gemm/index.ts';
import type { AdapterSummary, OptionalFeature } from '../../../src/runtime/device.ts';
import { KernelChoices } from '../../../src/runtime/kernel-context.ts';

const device = useDevice();

function fakeDevice(adapter: Partial<AdapterSummary>, features: OptionalFeature[]): GemmDeviceInfo {
  const a: AdapterSummary = { vendor: 'v', architecture: 'a', device: 'd', description: 'x', isFallbackAdapter: false, ...adapter };
  return { adapter: a, has: (f) => features.includes(f), choices: new KernelChoices() };
}

const lavapipe = () => fakeDevice({ vendor: 'mesa', architecture: 'software', device: 'llvmpipe-256-bits', subgroupMinSize: 8, subgroupMaxSize: 8 }, ['subgroups']);

describe('GEMM variant choice', () => {
  it('defaults to the subgroup-broadcast variant on lavapipe and the tiled one on GPUs', () => {
    const shape = { M: 1024, N: 1024, K: 1024, wDtype: 'f32' as const };
    expect(defaultGemmVariant(lavapipe(), shape)).toEqual({ kind: 'subgroup', sg: 8, tm: 32, rn: 4 });
    const gpu = fakeDevice({ vendor: 'nvidia', architecture: 'ampere', subgroupMinSize: 32, subgroupMaxSize: 32 }, ['subgroups', 'shader-f16']);
    expect(defaultGemmVariant(gpu, shape).kind).toBe('tiled');
    const noSubgroups = fakeDevice({ vendor: 'mesa', architecture: 'software', subgroupMinSize: 8, subgroupMaxSize: 8 }, []);
    expect(defaultGemmVariant(noSubgroups, shape).kind).toBe('tiled');
    // Small problems shrink the register tile instead of computing padding.
    expect(defaultGemmVariant(lavapipe(), { M: 5, N: 10, K: 64, wDtype: 'bf16' })).toEqual({ kind: 'subgroup', sg: 8, tm: 8, rn: 2 });
  });

  it('buckets shapes into classes and offers only valid candidates', () => {
    expect(gemmShapeClass({ M: 1000, N: 1024, K: 1025, wDtype: 'bf16' })).toBe('f32.bf16->f32:m1024n1024k2048');
    const packed = gemmCandidates(lavapipe(), { M: 512, N: 512, K: 512, wDtype: 'f32', yDtype: 'bf16' });
    expect(packed.length).toBeGreaterThan(3);
    for (const v of packed) expect(v.kind === 'subgroup' ? v.rn % 2 : v.kind === 'tiled' ? v.tn % 2 : v.cfg.N % 2).toBe(0);
  });
});

describe('tuneGemm', () => {
  it('times the candidates, records and stores the winner, then answers from the cache', async () => {
    const dev = await device();
    const sg = dev.adapter.subgroupMinSize!;
    const candidates: GemmVariant[] = [
      { kind: 'subgroup', sg, tm: sg, rn: 1 },
      { kind: 'subgroup', sg, tm: sg, rn: 2 },
    ];
    const shape = { M: 48, N: 40, K: 64, wDtype: 'bf16' as const };
    const store = memoryTuneStore();
    const first = await tuneGemm(dev, shape, { store, candidates, targetMs: 5 });
    expect(first.cached).toBe(false);
    expect(first.timings).toHaveLength(2);
    for (const t of first.timings) expect(t.ms).toBeGreaterThan(0);
    const fastest = [...first.timings].sort((a, b) => a.ms - b.ms)[0]!.variant;
    expect(first.winner).toEqual(fastest);
    expect(chooseGemmVariant(dev, shape)).toEqual(first.winner);

    const saved = store.data.get(tuneStoreName(dev.adapter)) as { gemm: Record<string, { variant: GemmVariant }> };
    expect(saved.gemm[gemmShapeClass(shape)]!.variant).toEqual(first.winner);

    const again = await tuneGemm(dev, { ...shape, M: 60 }, { store, candidates }); // same class
    expect(again.cached).toBe(true);
    expect(again.winner).toEqual(first.winner);

    // Another device object on the same adapter picks the winner up from the store.
    const other: GemmDeviceInfo = { adapter: dev.adapter, has: (f) => dev.has(f), choices: new KernelChoices() };
    expect(await loadGemmTuning(other, store)).toBe(1);
    expect(chooseGemmVariant(other, shape)).toEqual(first.winner);
  });
});
