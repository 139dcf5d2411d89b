// With 16-bit weights the DiT is in the 16-bit precision class, so on a GPU whose subgroup
// matrices passed their check its attention (self with the EgoX bias, text and image cross)
// lowers to the tensor-core variant; with f32 weights it keeps an f32 variant. Lowered
// against a stand-in adapter (no such hardware here), nothing is run.
import { describe, expect, it } from 'vitest';
import { WanDit } from '../../src/model/wan/dit.ts';
import { namedConfig } from '../../src/model/wan/config.ts';
import type { LoweringContext } from '../../src/graph/ir.ts';
import { setSubgroupMatricesTrusted } from '../../src/kernels/shared/subgroup-matrix.ts';
import type { AdapterSummary } from '../../src/runtime/device.ts';
import { useDevice } from '../helpers/gpu.ts';
import { KernelChoices } from '../../src/runtime/kernel-context.ts';

const device = useDevice();

describe('DiT attention precision', () => {
  it('uses subgroup matrices for bf16 weights on a trusted GPU, an f32 variant for f32 weights', async () => {
    const dev = await device();
    const adapter: AdapterSummary = {
      vendor: 'nvidia', architecture: 'ada', device: 'd', description: 'x', isFallbackAdapter: false, subgroupMinSize: 32, subgroupMaxSize: 32,
      subgroupMatrixConfigs: [{ componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 }],
    };
    const ctx: LoweringContext = {
      features: new Set(['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix']),
      limits: dev.limits,
      subgroupSize: 32,
      adapter,
      choices: new KernelChoices(),
    };
    const attentionKeys = (weightDtype: 'bf16' | 'f32') => {
      const graph = new WanDit(namedConfig('tiny'), { latentShape: [36, 2, 4, 10], weightDtype, gga: { lambda: 3, egoLatentCols: 4 } }).build();
      const nodes = graph.nodes.filter((n) => n.family.startsWith('attention'));
      return nodes.flatMap((n) => n.lower(ctx).map((d) => d.program.key));
    };
    setSubgroupMatricesTrusted({ choices: ctx.choices! }, true);
    const half = attentionKeys('bf16');
    expect(half.length).toBe(2 * 3); // 2 blocks x (self, text, image)
    expect(half.every((k) => k.includes('sgmatrix'))).toBe(true);
    expect(attentionKeys('f32').some((k) => k.includes('sgmatrix'))).toBe(false);
    setSubgroupMatricesTrusted({ choices: ctx.choices! }, false);
    expect(attentionKeys('bf16').some((k) => k.includes('sgmatrix'))).toBe(false);
  });
});
