// The builder model code calls: GraphBuilder plus one method per op family. Each method is a
// thin delegate to the op's file, so adding a kernel family means adding one file here.

import type { BinaryOp } from '../../kernels/elementwise/index.ts';
import type { DType } from '../../runtime/dtype.ts';
import { GraphBuilder } from '../builder.ts';
import type { Value } from '../ir.ts';
import { activationOp } from './activation.ts';
import { attentionOp, ropeOp, type AttentionOptions, type RopeOpOptions } from './attention.ts';
import { attentionRelBiasOp, type AttentionRelBiasOptions } from './attention-relbias.ts';
import { binaryOp, castOp, scaleOp, splitRowsOp } from './elementwise.ts';
import { concatOp, patchifyOp, sliceOp, unpatchifyOp } from './layout.ts';
import { linearOp, type LinearOptions } from './linear.ts';
import { normOp, type NormOptions } from './norm.ts';

export type { LinearOptions } from './linear.ts';
export type { NormOptions } from './norm.ts';
export type { AttentionOptions, RopeOpOptions } from './attention.ts';
export type { AttentionRelBiasOptions } from './attention-relbias.ts';

export class ModelGraph extends GraphBuilder {
  add(a: Value, b: Value, name?: string): Value {
    return binaryOp(this, 'add', a, b, name);
  }
  sub(a: Value, b: Value, name?: string): Value {
    return binaryOp(this, 'sub', a, b, name);
  }
  mul(a: Value, b: Value, name?: string): Value {
    return binaryOp(this, 'mul' as BinaryOp, a, b, name);
  }
  scale(a: Value, factor: number, bias = 0, name?: string): Value {
    return scaleOp(this, a, factor, bias, name);
  }
  cast(a: Value, dtype: DType, name?: string): Value {
    return castOp(this, a, dtype, name);
  }
  /** Equal copies of the rows of a 32-bit tensor (axis 0). */
  split(x: Value, parts: number, name?: string): Value[] {
    return splitRowsOp(this, x, parts, name);
  }
  /** Y = X W^T + b, W [out, in]; fused activation, gated residual, run-time LoRA. */
  linear(x: Value, w: Value, b: Value | undefined, opts: LinearOptions = {}, name?: string): Value {
    return linearOp(this, x, w, b, opts, name);
  }
  layerNorm(x: Value, opts: NormOptions, name = 'layernorm'): Value {
    return normOp(this, 'layer', x, opts, name);
  }
  rmsNorm(x: Value, weight: Value | undefined, eps: number, name = 'rmsnorm'): Value {
    return normOp(this, 'rms', x, { eps, weight }, name);
  }
  silu(x: Value, name?: string): Value {
    return activationOp(this, 'silu', x, name);
  }
  relu(x: Value, name?: string): Value {
    return activationOp(this, 'relu', x, name);
  }
  gelu(x: Value, approximate: 'tanh' | 'none' = 'none', name?: string): Value {
    return activationOp(this, approximate === 'tanh' ? 'gelu_tanh' : 'gelu_erf', x, name);
  }
  /** Latent [C, F, H, W] -> tokens [F*H/2*W/2, C*4] (patch (1, 2, 2)). */
  patchify(x: Value, name?: string): Value {
    return patchifyOp(this, x, name);
  }
  unpatchify(tokens: Value, out: { channels: number; frames: number; height: number; width: number }, name?: string): Value {
    return unpatchifyOp(this, tokens, out, name);
  }
  concat(xs: readonly Value[], axis: number, name?: string): Value {
    return concatOp(this, xs, axis, name);
  }
  slice(x: Value, axis: number, start: number, end: number, name?: string): Value {
    return sliceOp(this, x, axis, start, end, name);
  }
  /** softmax(q k^T * scale [+ EgoX bias]) v over [L, heads x headDim] projections. */
  attention(q: Value, k: Value, v: Value, opts: AttentionOptions, name?: string): Value {
    return attentionOp(this, q, k, v, opts, name);
  }
  /** softmax(q k^T * scale + T5 relative position bias, padded keys masked) v (umT5; any head dim % 4). */
  attentionRelBias(q: Value, k: Value, v: Value, opts: AttentionRelBiasOptions, name?: string): Value {
    return attentionRelBiasOp(this, q, k, v, opts, name);
  }
  /** Wan's 3D RoPE on [L, heads x headDim]. */
  rope(x: Value, opts: RopeOpOptions, name?: string): Value {
    return ropeOp(this, x, opts, name);
  }
}
