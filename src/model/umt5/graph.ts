// The umT5 encoder as a graph: pre-RMSNorm blocks of self-attention (no score scaling, the
// block's own T5 relative position bias, padded keys masked) and a gated-GELU(tanh) FFN,
// then a final RMSNorm. The token embeddings come in as a graph input (gathered on the host:
// the 256384 x 4096 table never goes to the GPU).

import type { Value } from '../../graph/ir.ts';
import { ModelGraph, type LinearOptions } from '../../graph/ops/index.ts';
import { linearWeight, type QuantizedWeights } from '../../graph/quantized.ts';
import type { DType } from '../../runtime/dtype.ts';
import type { Umt5Config } from './config.ts';
import { UMT5_NAMES } from './names.ts';

export const UMT5_IO = {
  /** [L, d_model] f32: shared.weight rows of the ids (padding included). */
  embeds: 'embeds',
  /** [1] u32: the number of real tokens. */
  validTokens: 'valid_tokens',
  /** [L, d_model] f32 on every row (rows past the real tokens are cut by the caller). */
  output: 'last_hidden_state',
} as const;

/**
 * `quantized`: the Linear weights the file holds as fp8 or GGML blocks (kept so on the GPU,
 * widened in the matmul's weight load).
 */
export function buildUmt5Graph(c: Umt5Config, length: number, weightDtype: DType = 'f32', quantized?: QuantizedWeights) {
  const g = new ModelGraph();
  const inner = c.numHeads * c.dKv;
  const w = (name: string, shape: number[], dtype: DType = weightDtype) => g.weight(name, shape, dtype);
  /** x through the Linear `name` (no bias). */
  const lin = (x: Value, name: string, shape: [number, number], opts: LinearOptions, label: string) => {
    const { w: weight, weightScale } = linearWeight(g, quantized, name, shape, weightDtype);
    return g.linear(x, weight, undefined, { ...opts, weightScale }, label);
  };
  g.segment('embed');
  let x: Value = g.input(UMT5_IO.embeds, [length, c.dModel], 'f32');
  const valid = g.input(UMT5_IO.validTokens, [1], 'u32');
  for (let i = 0; i < c.numLayers; i++) {
    const n = UMT5_NAMES.block(i);
    g.segment(`block.${i}`);
    x = g.within(`block.${i}`, () => {
      const h = g.rmsNorm(x, w(n.attnNorm, [c.dModel], 'f32'), c.eps, 'attn_norm');
      const q = lin(h, n.q, [inner, c.dModel], {}, 'q');
      const k = lin(h, n.k, [inner, c.dModel], {}, 'k');
      const v = lin(h, n.v, [inner, c.dModel], {}, 'v');
      const table = w(n.relBias, [c.numBuckets, c.numHeads], 'f32');
      const a = g.attentionRelBias(q, k, v, { heads: c.numHeads, headDim: c.dKv, scale: 1, bias: { table, numBuckets: c.numBuckets, maxDistance: c.maxDistance }, validKeys: valid }, 'attn');
      const y = lin(a, n.o, [c.dModel, inner], { residual: x }, 'o');
      const m = g.rmsNorm(y, w(n.ffnNorm, [c.dModel], 'f32'), c.eps, 'ffn_norm');
      const gate = lin(m, n.wi0, [c.dFf, c.dModel], { activation: 'gelu_tanh' }, 'wi_0');
      const up = lin(m, n.wi1, [c.dFf, c.dModel], {}, 'wi_1');
      return lin(g.mul(gate, up, 'gated'), n.wo, [c.dModel, c.dFf], { residual: y }, 'wo');
    });
  }
  g.segment('final');
  g.output(UMT5_IO.output, g.rmsNorm(x, w(UMT5_NAMES.finalNorm, [c.dModel], 'f32'), c.eps, 'final_norm'));
  return g.build();
}
