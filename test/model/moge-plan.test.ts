import { describe, expect, it } from 'vitest';
import { planMoge } from '../../src/model/moge/index.ts';

// Dry run at the EgoX exo frame size (784x448) with the default 3600-token budget.
describe('MoGe-2 dry-run plan', () => {
  it('ViT FLOPs match the analytic count; ViT-L needs more memory than ViT-S', () => {
    const frame = { height: 448, width: 784 };
    const s = planMoge(frame, { backbone: 'vits' });
    const l = planMoge(frame, { backbone: 'vitl' });
    expect([s.rows, s.cols]).toEqual([45, 79]);
    // Per block: qkv, proj and MLP GEMMs 2 L (3 D^2 + D^2 + 8 D^2), attention 4 L^2 D.
    const L = 1 + s.rows * s.cols;
    const vit = (D: number, blocks: number) => blocks * (2 * L * 12 * D * D + 4 * L * L * D);
    expect(Math.abs(s.vitFlops / vit(384, 12) - 1)).toBeLessThan(0.02);
    expect(Math.abs(l.vitFlops / vit(1024, 24) - 1)).toBeLessThan(0.02);
    expect(l.peakBytes).toBeGreaterThan(s.peakBytes);
    expect(l.weightBytes).toBeGreaterThan(s.weightBytes);
    const gib = (b: number) => (b / 2 ** 30).toFixed(2);
    console.log(`MoGe-2 plan 784x448 (grid ${s.rows}x${s.cols}, bf16 weights): ViT-S peak ${gib(s.peakBytes)} GiB (weights ${gib(s.weightBytes)}), ${(s.flops / 1e9).toFixed(0)} GFLOP; ViT-L peak ${gib(l.peakBytes)} GiB (weights ${gib(l.weightBytes)}), ${(l.flops / 1e9).toFixed(0)} GFLOP`);
  });
});
