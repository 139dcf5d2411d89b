// The VAE middle block's attention as graph ops: single-head softmax attention over the pixels
// of a frame, fed by the channel-major output of the 1x1 qkv conv. The qkv tensor is split
// into token-major q, k, v (gathers), attended, and turned back to channel-major for the 1x1 output
// projection (which the caller runs with the residual).

import { attentionProgram, attentionTileQueries, SUBGROUP_MAX_HEAD_DIM, type AttentionShape, type AttentionSpec } from '../../kernels/attention/index.ts';
import { attentionUniformValues } from '../../kernels/attention/index.ts';
import { gatherProgram } from '../../kernels/layout/index.ts';
import { shapeString } from '../../runtime/tensor.ts';
import { expectDtype, type GraphBuilder } from '../builder.ts';
import { GraphError, type LoweringContext, type Value } from '../ir.ts';

/**
 * The attention variant, as attention.ts chooses it for a device: lane-shared keys on small
 * fixed subgroups (CPU adapters) up to its head-dim limit, else flash. The lowering context
 * has no adapter description, so a small subgroup size stands for "CPU-like".
 */
function attentionSpecFor(headDim: number, ctx: LoweringContext): AttentionSpec {
  const sg = ctx.subgroupSize;
  const cpuLike = ctx.features.has('subgroups') && sg !== undefined && sg <= 16 && headDim <= SUBGROUP_MAX_HEAD_DIM;
  return { headDim, dtype: 'f32', outDtype: 'f32', variant: cpuLike ? 'subgroup' : 'flash', subgroupSize: cpuLike ? sg : undefined };
}

/** qkv [3C, 1, H, W] (q, k, v stacked on channels) -> attention output [C, 1, H, W]. */
export function frameAttentionOp(g: GraphBuilder, qkv: Value, opts: { name?: string } = {}): Value {
  const node = opts.name ?? 'vae-attention';
  expectDtype(node, 'qkv', qkv, ['f32']);
  const [c3, frames, h, w] = qkv.shape as [number, number, number, number];
  if (qkv.shape.length !== 4 || c3 % 3 !== 0) throw new GraphError(`${node}: qkv must be [3C, F, H, W], got ${shapeString(qkv.shape)}`);
  // Chunked processing reaches the middle with one frame per chunk (4 -> 2 -> 1 in the
  // encoder, one latent frame in the decoder); the kernel has no frame batch.
  if (frames !== 1) throw new GraphError(`${node}: one frame per chunk expected at the middle block, got ${frames}`);
  const c = c3 / 3;
  if (c % 4 !== 0) throw new GraphError(`${node}: ${c} channels; the attention kernel needs a multiple of 4`);
  const tokens = h * w;
  // q, k, v [tokens, 1, C]: element (t, c) of part p is qkv channel p * C + c, pixel t.
  const [q, k, v] = g.addNode({
    name: `${node}.split`,
    family: 'layout',
    inputs: [qkv],
    outputs: [0, 1, 2].map(() => ({ shape: [tokens, 1, c], dtype: 'f32' as const })),
    lower: (ins, outs) =>
      outs.map((o, p) => ({
        program: gatherProgram({ op: 'vae-qkv', dtype: 'f32', outShape: [tokens, c], sources: [{ strides: [1, tokens], offset: p * c * tokens }] }),
        bindings: [ins[0]!, o],
      })),
  });
  const shape: AttentionShape = { lq: tokens, lk: tokens, heads: 1 };
  const [o] = g.addNode({
    name: node,
    family: 'attention',
    inputs: [q!, k!, v!],
    outputs: [{ shape: [tokens, 1, c], dtype: 'f32' }],
    flops: 4 * tokens * tokens * c,
    lower: (ins, outs, ctx) => {
      const spec = attentionSpecFor(c, ctx);
      const uniforms = attentionUniformValues(spec, shape, attentionTileQueries(spec), 1 / Math.sqrt(c), 1);
      return [{ program: attentionProgram(spec, shape), bindings: [...ins, outs[0]!], uniforms }];
    },
  });
  const [out] = g.addNode({
    name: `${node}.merge`,
    family: 'layout',
    inputs: [o!],
    outputs: [{ shape: [c, 1, h, w], dtype: 'f32' }],
    lower: (ins, outs) => [
      {
        program: gatherProgram({ op: 'vae-attn-out', dtype: 'f32', outShape: [c, tokens], sources: [{ strides: [1, c], offset: 0 }] }),
        bindings: [ins[0]!, outs[0]!],
      },
    ],
  });
  return out!;
}
