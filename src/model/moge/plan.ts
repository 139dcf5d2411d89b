// Dry-run plan (no device, no checkpoint) of MoGe-2 on one frame: peak GPU memory and FLOPs
// of the published backbone sizes. The neck and heads follow the official training config
// (configs/train/v2.json: dims 1024/256/128/64/32, conv_transpose x3 then bilinear, no norms);
// the backbone shape is synthesised as the weights would give it.

import { planExecution } from '../../graph/plan.ts';
import { mogeConfig, tokenGrid, type MogeConfig } from './config.ts';
import { buildMogeGraph } from './graph.ts';
import { MOGE_NAMES } from './names.ts';

export const MOGE_BACKBONES = {
  vits: { name: 'dinov2_vits14', width: 384, depth: 12 },
  vitb: { name: 'dinov2_vitb14', width: 768, depth: 12 },
  vitl: { name: 'dinov2_vitl14', width: 1024, depth: 24 },
} as const;
export type MogeBackbone = keyof typeof MOGE_BACKBONES;

/** The training config's structure on a backbone of this size (dim_out 1024 as in v2.json). */
export function publishedLikeConfig(backbone: MogeBackbone): MogeConfig {
  const { modelConfig, shapes } = publishedLikeModelConfig(backbone);
  return mogeConfig(modelConfig, shapes, `${backbone} (planned)`);
}

/** The raw model_config (as a checkpoint holds it) and the backbone weight shapes it is read with. */
export function publishedLikeModelConfig(backbone: MogeBackbone): { modelConfig: Record<string, unknown>; shapes: Map<string, { shape: number[] }> } {
  const b = MOGE_BACKBONES[backbone];
  const shapes = new Map<string, { shape: number[] }>([
    [`${MOGE_NAMES.patchEmbed}.weight`, { shape: [b.width, 3, 14, 14] }],
    [MOGE_NAMES.posEmbed, { shape: [1, 37 * 37 + 1, b.width] }],
  ]);
  for (let i = 0; i < b.depth; i++) {
    shapes.set(`${MOGE_NAMES.block(i).qkv}.weight`, { shape: [3 * b.width, b.width] });
    shapes.set(`${MOGE_NAMES.block(i).fc1}.weight`, { shape: [4 * b.width, b.width] });
  }
  const q = b.depth / 4;
  const head = (out: number) => ({
    dim_in: [1024, 256, 128, 64, 32], dim_out: [null, null, null, null, out], dim_res_blocks: [1024, 256, 128, 64, 32],
    num_res_blocks: [0, 1, 1, 1, 0], res_block_in_norm: 'none', res_block_hidden_norm: 'none',
    resamplers: ['conv_transpose', 'conv_transpose', 'conv_transpose', 'bilinear'],
  });
  return {
    shapes,
    modelConfig: {
      encoder: { backbone: b.name, intermediate_layers: [q - 1, 2 * q - 1, 3 * q - 1, 4 * q - 1], dim_out: 1024 },
      neck: { ...head(0), dim_in: [1026, 2, 2, 2, 2], dim_out: null, num_res_blocks: [0, 2, 2, 2, 0] },
      points_head: head(3),
      normal_head: head(3),
      mask_head: head(1),
      scale_head: { dims: [b.width, 1024, 1024, 1] },
      remap_output: 'exp',
      num_tokens_range: [1200, 3600],
    },
  };
}

export interface MogePlanSummary {
  rows: number;
  cols: number;
  peakBytes: number;
  weightBytes: number;
  flops: number;
  /** FLOPs of the ViT blocks alone (GEMMs and attention). */
  vitFlops: number;
}

export function planMoge(frame: { height: number; width: number }, o: { backbone?: MogeBackbone; config?: MogeConfig; numTokens?: number; weightDtype?: 'f32' | 'bf16' | 'f16' } = {}): MogePlanSummary {
  const c = o.config ?? publishedLikeConfig(o.backbone ?? 'vits');
  const grid = tokenGrid(frame.height, frame.width, o.numTokens ?? c.numTokensRange[1]);
  const graph = buildMogeGraph(c, { height: frame.height, width: frame.width, ...grid, weightDtype: o.weightDtype ?? 'bf16' });
  const p = planExecution(graph);
  const vitFlops = graph.nodes.filter((n) => n.name.startsWith('blocks.')).reduce((s, n) => s + n.flops, 0);
  return { ...grid, peakBytes: p.totals.peakBytes, weightBytes: p.totals.weightBytes, flops: p.totals.flops, vitFlops };
}
