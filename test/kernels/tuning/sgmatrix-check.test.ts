// The check that gates the tensor-core defaults: run emulated here (the adapter has no
// subgroup matrices), its pass/fail rule, and that the defaults follow the verdict.
import { describe, expect, it } from 'vitest';
import { useDevice } from '../../helpers/gpu.ts';
import { checkSubgroupMatrices, judgeSgmatrixErrors, type SgmatrixProbe } from '../../../src/kernels/tuning/sgmatrix-check.ts';
import { setSubgroupMatricesTrusted, subgroupMatricesTrusted, type SgmShape } from '../../../src/kernels/shared/subgroup-matrix.ts';
import { defaultGemmVariant } from '../../../src/kernels/gemm/variants.ts';
import { chooseAttentionVariant } from '../../../src/kernels/attention/index.ts';
import { defaultConvVariant } from '../../../src/kernels/conv/index.ts';
import type { AdapterSummary, EgoxDevice, OptionalFeature } from '../../../src/runtime/device.ts';
import { KernelChoices } from '../../../src/runtime/kernel-context.ts';
import { deviceOptionsFromEnv } from '../../../src/runtime/node.ts';

const device = useDevice();
const F16: SgmShape = { M: 16, N: 16, K: 16, component: 'f16', result: 'f32' };

describe('checkSubgroupMatrices', () => {
  it('has nothing to check on an adapter without the feature, and trusts nothing', async () => {
    const dev = await device();
    const r = await checkSubgroupMatrices(dev);
    expect(r).toEqual({ ran: false, passed: false, errors: {} });
    expect(subgroupMatricesTrusted(dev)).toBe(false);
  });

  it('passes the emulated kernels of all three families, with the f16 rounding visible', async () => {
    const dev = await device();
    const probe: SgmatrixProbe = {
      gemm: { kind: 'sgmatrix', cfg: F16, sg: 8, gm: 2, gn: 2, sm: 1, sn: 1, bk: 16, emulate: true },
      attention: { shape: F16, emulate: true, lanes: 8 },
      conv: { kind: 'sgmatrix', cfg: F16, sg: 8, gm: 1, gn: 2, sm: 1, sn: 1, bk: 32, emulate: true },
    };
    const r = await checkSubgroupMatrices(dev, probe);
    expect(r.ran).toBe(true);
    expect(r.passed).toBe(true);
    for (const family of ['gemm', 'attention', 'conv'] as const) {
      expect(r.errors[family]).toBeGreaterThan(1e-6);
      expect(r.errors[family]).toBeLessThanOrEqual(3e-3);
    }
    console.log('emulated sgmatrix check errors', JSON.stringify(r.errors));
  }, 300_000);

  it('EGOX_SUBGROUP_MATRICES=off skips the check; kernels that cannot run fail it without throwing', async () => {
    const adapter: AdapterSummary = {
      vendor: 'nvidia', architecture: 'ada', device: 'd', description: 'x', isFallbackAdapter: false, subgroupMinSize: 32, subgroupMaxSize: 32,
      subgroupMatrixConfigs: [{ componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 }],
    };
    const all: OptionalFeature[] = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'];
    // A stand-in with no GPU behind it: running the probe would throw.
    const stub = (choices: KernelChoices) =>
      ({ adapter, has: (f: OptionalFeature) => all.includes(f), limits: { maxComputeWorkgroupStorageSize: 49152 }, choices }) as unknown as EgoxDevice;
    const off = stub(new KernelChoices(deviceOptionsFromEnv({ EGOX_SUBGROUP_MATRICES: 'off' })));
    expect(await checkSubgroupMatrices(off)).toEqual({ ran: false, passed: false, errors: {} });
    expect(subgroupMatricesTrusted(off)).toBe(false);
    const fake = stub(new KernelChoices());
    // Without the switch the check runs, its kernels fail on the stand-in: a failed check,
    // not an exception, and the adapter stays untrusted.
    const r = await checkSubgroupMatrices(fake);
    expect(r).toMatchObject({ ran: true, passed: false });
    expect(r.failure).toBeTruthy();
    expect(subgroupMatricesTrusted(fake)).toBe(false);
  });

  it('fails on any error past 3e-3 or any non-finite output', () => {
    expect(judgeSgmatrixErrors({ gemm: 1e-4, attention: 2e-3, conv: 3e-4 })).toBe(true);
    expect(judgeSgmatrixErrors({ gemm: 1e-4, attention: 5e-3 })).toBe(false);
    expect(judgeSgmatrixErrors({ conv: NaN })).toBe(false);
    expect(judgeSgmatrixErrors({})).toBe(false);
  });
});

describe('defaults follow the verdict', () => {
  const features: OptionalFeature[] = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'];
  const gpu = () => {
    const adapter: AdapterSummary = {
      vendor: 'nvidia', architecture: 'ada', device: 'd', description: 'x', isFallbackAdapter: false, subgroupMinSize: 32, subgroupMaxSize: 32,
      subgroupMatrixConfigs: [{ componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 }],
    };
    return { adapter, has: (f: OptionalFeature) => features.includes(f), limits: { maxComputeWorkgroupStorageSize: 49152 }, choices: new KernelChoices() };
  };
  const kinds = (dev: ReturnType<typeof gpu>) => [
    defaultGemmVariant(dev, { M: 512, N: 512, K: 512, wDtype: 'bf16' }).kind,
    chooseAttentionVariant(dev, 128, 'bf16').variant,
    defaultConvVariant(dev, { cin: 96, cout: 96, kernel: [3, 3, 3], stride: [1, 1, 1], weight: 'bf16' }).kind,
  ];

  it('uses workgroup tiles until the check passed, subgroup matrices after, and not after a failure', () => {
    const dev = gpu();
    expect(kinds(dev)).toEqual(['tiled', 'flash', 'wgtile']);
    setSubgroupMatricesTrusted(dev, true);
    expect(kinds(dev)).toEqual(['sgmatrix', 'sgmatrix', 'sgmatrix']);
    setSubgroupMatricesTrusted(dev, false);
    expect(kinds(dev)).toEqual(['tiled', 'flash', 'wgtile']);
  });
});
