// CLIP vision (pre-LN ViT) as a graph, from an RGB image to hidden_states[-2]: GPU
// preprocessing (bicubic resize on the crop window, normalise), patch conv as a GEMM over
// patches gathered row-major with (channel, row, col) inside a patch (the conv weight's
// order), class token + position embeddings, pre_layrnorm, then layers 0 .. L-2. The last
// layer and post_layernorm are never built: Wan uses the input of the last layer.

import { gatherProgram } from '../../kernels/layout/index.ts';
import { resizeAxis } from '../../kernels/render/index.ts';
import type { Value } from '../../graph/ir.ts';
import { ModelGraph, type LinearOptions } from '../../graph/ops/index.ts';
import { linearWeight, type QuantizedWeights } from '../../graph/quantized.ts';
import { record } from '../../graph/recording.ts';
import type { DType } from '../../runtime/dtype.ts';
import type { ClipPreprocessConfig, ClipVisionConfig } from './config.ts';
import { CLIP_NAMES } from './names.ts';
import type { PreprocessPlan } from './preprocess.ts';

export const CLIP_IO = {
  /** [3, H, W] f32 planar image (0..255 for 8-bit images). */
  image: 'image',
  /** [3, S, S] f32, normalised: the graph input when built from pixels, else an output. */
  pixelValues: 'pixel_values',
  /** [tokens, hidden] = hidden_states[-2]. */
  output: 'image_embeds',
} as const;

export interface ClipGraphOptions {
  weightDtype?: DType;
  /** The Linear weights the file holds as fp8 or GGML blocks (kept so, widened in the matmul). */
  quantized?: QuantizedWeights;
  /** Build from an image (resize on the GPU) or from ready pixel_values [3, S, S]. */
  source: { image: PreprocessPlan; preprocess: ClipPreprocessConfig } | 'pixels';
}

export function buildClipGraph(c: ClipVisionConfig, o: ClipGraphOptions) {
  const g = new ModelGraph();
  const wd = o.weightDtype ?? 'f32';
  const S = c.imageSize;
  const P = c.patchSize;
  const G = S / P;
  const tokens = G * G + 1;
  const hd = c.hiddenSize;
  const f32 = (name: string, shape: number[]) => g.weight(name, shape, 'f32');
  const lin = (name: string, x: Value, inDim: number, outDim: number, opts: LinearOptions = {}, label?: string) => {
    const { w, weightScale } = linearWeight(g, o.quantized, `${name}.weight`, [outDim, inDim], wd);
    return g.linear(x, w, f32(`${name}.bias`, [outDim]), { ...opts, weightScale }, label ?? name.split('.').pop());
  };
  g.segment('embed');

  let pixels: Value;
  if (o.source === 'pixels') pixels = g.input(CLIP_IO.pixelValues, [3, S, S], 'f32');
  else pixels = g.output(CLIP_IO.pixelValues, preprocess(g, o.source.image, o.source.preprocess));

  // Patches [G*G, 3*P*P]: token (gy, gx), feature (c, py, px) = pixel (c, gy*P + py, gx*P + px).
  const [patches] = g.addNode({
    name: 'patches',
    family: 'layout',
    inputs: [pixels],
    outputs: [{ shape: [G * G, 3 * P * P], dtype: 'f32' }],
    lower: ([x], [y]) => [
      { program: gatherProgram({ op: 'clip-patches', dtype: 'f32', outShape: [G, G, 3, P, P], sources: [{ strides: [P * S, P, S * S, S, 1], offset: 0 }] }), bindings: [x!, y!] },
    ],
  });
  const convW = g.reshape(g.weight(CLIP_NAMES.patchEmbedding, [hd, 3, P, P], wd), [hd, 3 * P * P]);
  const patchTokens = g.linear(patches!, convW, undefined, {}, 'patch_embedding');
  const cls = g.reshape(f32(CLIP_NAMES.classEmbedding, [hd]), [1, hd]);
  const withCls = g.concat([cls, patchTokens], 0, 'class_token');
  let x = g.add(withCls, f32(CLIP_NAMES.positionEmbedding, [tokens, hd]), 'position_embedding');
  x = g.layerNorm(x, { weight: f32(`${CLIP_NAMES.preNorm}.weight`, [hd]), bias: f32(`${CLIP_NAMES.preNorm}.bias`, [hd]), eps: c.eps }, 'pre_layrnorm');

  const headDim = hd / c.numHeads;
  for (let i = 0; i < c.numLayers - 1; i++) {
    const n = CLIP_NAMES.layer(i);
    g.segment(`layers.${i}`);
    x = g.within(`layers.${i}`, () => {
      const ln = (name: string, v: Value) => g.layerNorm(v, { weight: f32(`${name}.weight`, [hd]), bias: f32(`${name}.bias`, [hd]), eps: c.eps }, name.split('.').pop());
      const h = ln(n.norm1, x);
      const a = g.attentionRelBias(lin(n.q, h, hd, hd), lin(n.k, h, hd, hd), lin(n.v, h, hd, hd), { heads: c.numHeads, headDim, scale: headDim ** -0.5 }, 'self_attn');
      const y = lin(n.o, a, hd, hd, { residual: x });
      const m = ln(n.norm2, y);
      let f: Value;
      if (c.act === 'quick_gelu') {
        // x * sigmoid(1.702 x) = silu(1.702 x) / 1.702
        f = g.scale(g.silu(g.scale(lin(n.fc1, m, hd, c.intermediateSize), 1.702)), 1 / 1.702, 0, 'quick_gelu');
      } else {
        f = lin(n.fc1, m, hd, c.intermediateSize, { activation: c.act === 'gelu' ? 'gelu' : 'gelu_tanh' });
      }
      return lin(n.fc2, f, c.intermediateSize, hd, { residual: y });
    });
  }
  g.output(CLIP_IO.output, x);
  return g.build();
}

/** image [3, H, W] -> normalised pixel_values [3, cropH, cropW]: horizontal pass, vertical pass. */
function preprocess(g: ModelGraph, plan: PreprocessPlan, p: ClipPreprocessConfig): Value {
  const eightBit = plan.eightBit;
  const image = g.input(CLIP_IO.image, [3, plan.inHeight, plan.inWidth], 'f32');
  const tx = g.constant(`clip-resize-x:${eightBit ? 'q8' : 'f'}:${plan.inWidth}->${plan.resized.width}@${plan.left}+${plan.cropWidth}`, [plan.x.table.length], plan.x.table);
  const ty = g.constant(`clip-resize-y:${eightBit ? 'q8' : 'f'}:${plan.inHeight}->${plan.resized.height}@${plan.top}+${plan.cropHeight}`, [plan.y.table.length], plan.y.table);
  const normalize = { scale: eightBit ? 1 / 255 : 1, mean: p.mean, std: p.std };
  const [mid] = g.addNode({
    name: 'resize_x',
    family: 'resize',
    inputs: [image, tx],
    outputs: [{ shape: [3, plan.inHeight, plan.cropWidth], dtype: 'f32' }],
    flops: 2 * 3 * plan.inHeight * plan.cropWidth * plan.x.taps,
    lower: ([x, t], [y], ctx) => record(ctx, (dev, T) => void resizeAxis(dev, T(x!), T(t!), { axis: 'x', outSize: plan.cropWidth, taps: plan.x.taps, quantize: eightBit, out: T(y!) })),
  });
  const [out] = g.addNode({
    name: 'resize_y',
    family: 'resize',
    inputs: [mid!, ty],
    outputs: [{ shape: [3, plan.cropHeight, plan.cropWidth], dtype: 'f32' }],
    flops: 2 * 3 * plan.cropHeight * plan.cropWidth * plan.y.taps,
    lower: ([x, t], [y], ctx) =>
      record(ctx, (dev, T) => void resizeAxis(dev, T(x!), T(t!), { axis: 'y', outSize: plan.cropHeight, taps: plan.y.taps, quantize: eightBit, normalize, out: T(y!) })),
  });
  return out!;
}
