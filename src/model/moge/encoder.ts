// MoGe-2's encoder as a graph: the image resized to the token grid times the patch (bilinear,
// antialias, ImageNet normalisation), the DINOv2 ViT (patch embedding as a GEMM over gathered
// patches, [cls ; patches] + the position table resized to the grid, register tokens after
// cls, pre-LN blocks with LayerScale), the final norm on each intermediate block's output, its
// patch tokens through a 1x1 projection (a GEMM in token layout), the projections summed.
// Returns the features planar [dimOut, rows, cols] and the class token [1, width] of the
// last intermediate layer.

import { gatherProgram } from '../../kernels/layout/index.ts';
import type { Value } from '../../graph/ir.ts';
import type { ModelGraph } from '../../graph/ops/index.ts';
import { resize2dOp } from '../../graph/ops/resize.ts';
import type { DType } from '../../runtime/dtype.ts';
import type { MogeConfig } from './config.ts';
import { MOGE_NAMES } from './names.ts';

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const LN_EPS = 1e-6;

/** Row-major permute [a, b] -> [b, a] of a 32-bit value. */
export function transpose2d(g: ModelGraph, x: Value, name: string): Value {
  const [a, b] = x.shape as [number, number];
  const [y] = g.addNode({
    name,
    family: 'layout',
    inputs: [x],
    outputs: [{ shape: [b, a], dtype: x.dtype }],
    lower: ([xi], [yo]) => [{ program: gatherProgram({ op: 'transpose', dtype: x.dtype, outShape: [b, a], sources: [{ strides: [1, b], offset: 0 }] }), bindings: [xi!, yo!] }],
  });
  return y!;
}

/** The position table for a rows x cols grid: [1 + rows*cols, width]. */
function positionEmbedding(g: ModelGraph, c: MogeConfig, rows: number, cols: number): Value {
  const { width: D, posGrid: M } = c.backbone;
  const pos = g.reshape(g.weight(MOGE_NAMES.posEmbed, [1, 1 + M * M, D], 'f32'), [1 + M * M, D]);
  // DINOv2 returns its table unchanged for a square image of the table's own grid.
  if (rows === M && cols === M) return pos;
  const clsPos = g.slice(pos, 0, 0, 1, 'pos_embed.cls');
  const planar = g.reshape(transpose2d(g, g.slice(pos, 0, 1, 1 + M * M, 'pos_embed.patches'), 'pos_embed.planar'), [D, M, M]);
  const { offset, antialias } = c.backbone.posInterpolation;
  const rule = (n: number) => (offset > 0 ? { mode: 'bicubic' as const, scaleFactor: (n + offset) / M } : { mode: 'bicubic' as const, antialias });
  if (offset > 0 && (Math.floor(M * ((rows + offset) / M)) !== rows || Math.floor(M * ((cols + offset) / M)) !== cols)) {
    throw new Error(`position table ${M}x${M} does not resize to ${rows}x${cols} by its scale factor`);
  }
  const resized = resize2dOp(g, planar, rows, cols, { rule: { x: rule(cols), y: rule(rows) }, name: 'pos_embed.resize' });
  return g.concat([clsPos, transpose2d(g, g.reshape(resized, [D, rows * cols]), 'pos_embed.tokens')], 0, 'pos_embed.table');
}

/** DINOv2 block i (pre-LN attention and MLP, each with LayerScale) on tokens [L, width]. */
export function vitBlock(g: ModelGraph, c: MogeConfig, x: Value, i: number, wd: DType): Value {
  const { width: D, heads } = c.backbone;
  const n = MOGE_NAMES.block(i);
  const f32 = (name: string, shape: number[]) => g.weight(name, shape, 'f32');
  const lin = (name: string, v: Value, inDim: number, outDim: number, opts: Parameters<ModelGraph['linear']>[3] = {}) =>
    g.linear(v, g.weight(`${name}.weight`, [outDim, inDim], wd), f32(`${name}.bias`, [outDim]), opts, name.split('.').pop());
  const ln = (name: string, v: Value) => g.layerNorm(v, { weight: f32(`${name}.weight`, [D]), bias: f32(`${name}.bias`, [D]), eps: LN_EPS }, name.split('.').pop());
  return g.within(`blocks.${i}`, () => {
    const h = ln(n.norm1, x);
    const qkvW = g.weight(`${n.qkv}.weight`, [3 * D, D], wd);
    const qkvB = f32(`${n.qkv}.bias`, [3 * D]);
    const [q, k, v] = [0, 1, 2].map((j) =>
      g.linear(h, g.slice(qkvW, 0, j * D, (j + 1) * D, `qkv.w${j}`), g.slice(qkvB, 0, j * D, (j + 1) * D, `qkv.b${j}`), {}, ['q', 'k', 'v'][j]),
    ) as [Value, Value, Value];
    const a = g.attention(q, k, v, { heads, headDim: D / heads }, 'attn');
    const y = lin(n.proj, a, D, D, { residual: x, gate: f32(n.ls1, [D]) });
    const m = lin(n.fc1, ln(n.norm2, y), D, c.backbone.mlpHidden, { activation: 'gelu' });
    return lin(n.fc2, m, c.backbone.mlpHidden, D, { residual: y, gate: f32(n.ls2, [D]) });
  });
}

export function buildEncoder(g: ModelGraph, c: MogeConfig, image: Value, rows: number, cols: number, wd: DType): { features: Value; clsToken: Value } {
  const { width: D, patch: P, registers: R } = c.backbone;
  const f32 = (name: string, shape: number[]) => g.weight(name, shape, 'f32');
  g.segment('embed');

  const Hp = rows * P;
  const Wp = cols * P;
  const pixels = resize2dOp(g, image, Hp, Wp, { rule: { mode: 'bilinear', antialias: true }, normalize: IMAGENET, name: 'image_resize' });
  // Patches [rows*cols, 3*P*P]: feature (ch, py, px) of token (gy, gx) = pixel (ch, gy*P + py, gx*P + px).
  const [patches] = g.addNode({
    name: 'patches',
    family: 'layout',
    inputs: [pixels],
    outputs: [{ shape: [rows * cols, 3 * P * P], dtype: 'f32' }],
    lower: ([x], [y]) => [
      { program: gatherProgram({ op: 'vit-patches', dtype: 'f32', outShape: [rows, cols, 3, P, P], sources: [{ strides: [P * Wp, P, Hp * Wp, Wp, 1], offset: 0 }] }), bindings: [x!, y!] },
    ],
  });
  const convW = g.reshape(g.weight(`${MOGE_NAMES.patchEmbed}.weight`, [D, 3, P, P], wd), [D, 3 * P * P]);
  const tokens = g.linear(patches!, convW, f32(`${MOGE_NAMES.patchEmbed}.bias`, [D]), {}, 'patch_embed');
  const cls = g.reshape(f32(MOGE_NAMES.clsToken, [1, 1, D]), [1, D]);
  let x = g.add(g.concat([cls, tokens], 0, 'cls_token'), positionEmbedding(g, c, rows, cols), 'pos_embed');
  if (R > 0) {
    const regs = g.reshape(f32(MOGE_NAMES.registerTokens, [1, R, D]), [R, D]);
    x = g.concat([g.slice(x, 0, 0, 1, 'cls'), regs, g.slice(x, 0, 1, 1 + rows * cols, 'patch_tokens')], 0, 'register_tokens');
  }
  const L = 1 + R + rows * cols;

  const last = c.intermediateLayers[c.intermediateLayers.length - 1]!;
  let features: Value | undefined;
  let clsToken: Value | undefined;
  for (let i = 0; i <= last; i++) {
    g.segment(`blocks.${i}`);
    x = vitBlock(g, c, x, i, wd);
    const slot = c.intermediateLayers.indexOf(i);
    if (slot < 0) continue;
    g.within(`intermediate.${slot}`, () => {
      const normed = g.layerNorm(x, { weight: f32(`${MOGE_NAMES.finalNorm}.weight`, [D]), bias: f32(`${MOGE_NAMES.finalNorm}.bias`, [D]), eps: LN_EPS }, 'norm');
      const patchTokens = g.slice(normed, 0, 1 + R, L, 'patch_tokens');
      const pw = g.reshape(g.weight(`${MOGE_NAMES.outputProjection(slot)}.weight`, [c.dimOut, D, 1, 1], wd), [c.dimOut, D]);
      features = g.linear(patchTokens, pw, f32(`${MOGE_NAMES.outputProjection(slot)}.bias`, [c.dimOut]), features ? { residual: features } : {}, 'output_projection');
      if (i === last) clsToken = g.slice(normed, 0, 0, 1, 'cls_token');
    });
  }
  const planar = g.reshape(transpose2d(g, features!, 'features.planar'), [c.dimOut, rows, cols]);
  return { features: planar, clsToken: clsToken! };
}
